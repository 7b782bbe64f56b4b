"""The line's PLC-side inputs, built from the settings: serial reader and part counter.

Kept apart from ``line.py`` so the wiring of a station stays one page: this
module knows which reader each ``[traceability] reader`` means and where a
counter continues from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from inspector.acquisition.part_counter import PartCounter
from inspector.acquisition.plc_serial import PlcSerialReader
from inspector.acquisition.serial_counter import CounterSerialReader
from inspector.acquisition.serial_reader import SerialReader, make_serial_reader
from inspector.pipeline.missed_parts import MissedParts
from inspector.storage.last_serial import recent_serials

if TYPE_CHECKING:
    from inspector.pipeline.line import LineSettings


def build_serial_reader(settings: LineSettings, engine: Engine) -> SerialReader | None:
    """The reader ``settings.serial_reader`` names, or None for ``none``.

    Raises:
        ValueError: ``modbus`` without registers to read.
    """
    kind = settings.serial_reader
    if kind == "none":
        return None
    if kind == "qr":
        return make_serial_reader("qr")
    if kind == "modbus":
        if settings.serial_registers is None:
            msg = (
                "serial reader 'modbus' needs the PLC registers: add a [traceability.modbus] table"
            )
            raise ValueError(msg)
        return PlcSerialReader(settings.serial_registers)
    stored = recent_serials(engine, settings.station_name, prefix=settings.serial_counter.prefix)
    return CounterSerialReader(settings.serial_counter, stored)


def build_missed_parts(settings: LineSettings) -> MissedParts:
    """Outage timing, with exact accounting when the line has a part counter."""
    counter = None if settings.part_counter is None else PartCounter(settings.part_counter)
    rate = settings.line_rate_hz if settings.line_rate_hz is not None else settings.rate_hz
    return MissedParts(
        counter, nominal_rate_hz=rate or None, in_flight=settings.part_counter_in_flight
    )
