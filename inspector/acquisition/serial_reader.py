"""Reading a part's serial or lot number from its image (a QR code on the part).

1-D barcodes are not offered yet: OpenCV 5's barcode detector did not find a
clean, synthetic EAN-13 in our trials, and an untested reader would lose serials
silently.
"""

from __future__ import annotations

from typing import Literal, Protocol

import cv2
import numpy as np

SerialKind = Literal["qr"]


class SerialReader(Protocol):
    """Finds the part's code in an RGB image; ``None`` when there is none readable."""

    def __call__(self, image: np.ndarray) -> str | None: ...


class QRSerialReader:
    """QR codes (OpenCV's detector); one reader per thread, it keeps state."""

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetector()

    def __call__(self, image: np.ndarray) -> str | None:
        """The decoded text, or None."""
        if not image.size:
            return None
        text, _, _ = self._detector.detectAndDecode(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        return text or None


def make_serial_reader(kind: SerialKind) -> SerialReader:
    """The reader for a configured kind."""
    readers = {"qr": QRSerialReader}
    if kind not in readers:
        msg = f"unknown serial reader {kind!r}: use one of {sorted(readers)}"
        raise ValueError(msg)
    return readers[kind]()
