"""A part's serial or lot number, read from the PLC at the moment the part is acquired.

The PLC holds the current part's serial in registers (written by an upstream
station, a scanner or its own counter). The station calls the reader on the
acquisition thread right after the frame arrives, so the serial belongs to the
part in front of the camera. A failed read raises
:class:`~inspector.acquisition.plc_registers.PlcReadError`; the station then
keeps the part (serial empty) and raises one alarm until reads work again.
"""

from __future__ import annotations

import numpy as np

from inspector.acquisition.plc_registers import PlcRegisterReader, PlcRegisters


class PlcSerialReader:
    """Reads the serial registers; the image is not needed (same call as the QR reader).

    Numbers (``uint16``/``uint32``) become their decimal text; an empty
    ``ascii`` field (all NULs) reads as no serial (``None``).
    """

    def __init__(self, registers: PlcRegisters) -> None:
        self._reader = PlcRegisterReader(registers)
        self.name = registers.label

    def __call__(self, image: np.ndarray) -> str | None:
        """The serial of the part being acquired now.

        Raises:
            PlcReadError: the PLC did not answer in time.
        """
        del image  # the serial comes from the PLC, not the pixels
        value = self._reader.read()
        text = str(value)
        return text or None

    def close(self) -> None:
        """Close the PLC connection."""
        self._reader.close()
