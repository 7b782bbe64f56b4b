"""The PLC's part counter: how many parts passed the trigger, camera or not.

A counter register that the PLC increments at every trigger is the line's own
record of how many parts there were. Comparing it with the frames acquired is
how parts that passed while a camera was down are found and accounted for.
"""

from __future__ import annotations

from inspector.acquisition.plc_registers import PlcRegisterReader, PlcRegisters

_MODULUS = {"uint16": 1 << 16, "uint32": 1 << 32}


def counter_delta(previous: int, now: int, modulus: int) -> int:
    """Counts between two readings of a counter that wraps at ``modulus``."""
    return (now - previous) % modulus


class PartCounter:
    """Parts counted by the PLC since :meth:`start`, across counter wrap-around.

    A 16-bit counter wraps after 65,536 parts; reading it once per part (as the
    station does) keeps every wrap visible. Used on the acquisition thread only.
    """

    def __init__(self, registers: PlcRegisters) -> None:
        if registers.format not in _MODULUS:
            msg = (
                f"a part counter is a number: use format 'uint16' or 'uint32', "
                f"got {registers.format!r}"
            )
            raise ValueError(msg)
        self._reader = PlcRegisterReader(registers)
        self._modulus = _MODULUS[registers.format]
        self._last: int | None = None
        self._total = 0
        self.name = registers.label

    @property
    def started(self) -> bool:
        """Whether the starting value has been read."""
        return self._last is not None

    def start(self) -> None:
        """Take the counter's current value as zero.

        Raises:
            PlcReadError: the PLC did not answer.
        """
        self._last = int(self._reader.read())
        self._total = 0

    def triggered(self) -> int:
        """Parts counted since :meth:`start`.

        Raises:
            PlcReadError: the PLC did not answer.
        """
        if self._last is None:
            msg = "read the part counter's starting value (start()) before counting"
            raise RuntimeError(msg)
        now = int(self._reader.read())
        self._total += counter_delta(self._last, now, self._modulus)
        self._last = now
        return self._total

    def close(self) -> None:
        """Close the PLC connection."""
        self._reader.close()
