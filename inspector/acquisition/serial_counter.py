"""Serials from a running number per station, for lines with no code on the part.

The number continues across restarts: the line is built with the last serials
this station stored, so a restart never hands out a serial twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CounterFormat:
    """How a counter's serials look: ``prefix`` + a zero-padded number.

    Attributes:
        prefix: Text before the number (e.g. ``"L7-"``); may be empty.
        width: Digits, zero-padded (``6`` gives ``000042``); longer numbers
            simply get more digits.
        start: The first number when the station has stored none before.
    """

    prefix: str = ""
    width: int = 6
    start: int = 1

    def __post_init__(self) -> None:
        if self.start < 0 or not 1 <= self.width <= 18:
            msg = (
                f"counter start must be >= 0 and width 1..18 digits, "
                f"got start={self.start}, width={self.width}"
            )
            raise ValueError(msg)

    def format(self, number: int) -> str:
        """The serial text of one number."""
        return f"{self.prefix}{number:0{self.width}d}"

    def parse(self, serial: str) -> int | None:
        """The number in a serial of this format; None if it is not one."""
        match = re.fullmatch(re.escape(self.prefix) + r"(\d+)", serial)
        return int(match.group(1)) if match else None


class CounterSerialReader:
    """Hands out the next serial for each part (acquisition thread only).

    Args:
        fmt: Prefix, width and first number.
        stored: The station's newest stored serials, newest first (see
            :func:`inspector.storage.last_serial.recent_serials`); numbering
            continues after the first of them that has this format. Serials
            of another format (a QR reader used before) are passed over.
    """

    def __init__(self, fmt: CounterFormat, stored: Iterable[str] = ()) -> None:
        self.fmt = fmt
        numbers = (fmt.parse(serial) for serial in stored)
        last = next((number for number in numbers if number is not None), None)
        self.next_number = fmt.start if last is None else last + 1
        self.name = f"counter (next {fmt.format(self.next_number)})"

    def __call__(self, image: np.ndarray) -> str:
        """The next serial."""
        del image  # the number counts parts, it is not read from the pixels
        serial = self.fmt.format(self.next_number)
        self.next_number += 1
        return serial
