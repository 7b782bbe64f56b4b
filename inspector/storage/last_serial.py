"""The serials a station stored last, so a serial counter continues after a restart."""

from __future__ import annotations

from sqlalchemy import Engine, select

from inspector.storage.schema import InspectionRow


def recent_serials(
    engine: Engine, station: str, *, prefix: str = "", limit: int = 100
) -> list[str]:
    """The station's newest stored serials that start with ``prefix``, newest first.

    More than one is returned because the newest may come from another reader
    (a QR code, the PLC) and not be a counter's number; the caller takes the
    first it can continue from.
    """
    if limit < 1:
        msg = f"limit must be at least 1, got {limit}"
        raise ValueError(msg)
    serial = InspectionRow.serial
    query = (
        select(serial)
        .where(InspectionRow.station == station)
        .where(serial.is_not(None))
        .where(serial.startswith(prefix, autoescape=True))
        .order_by(InspectionRow.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return list(connection.scalars(query))
