"""Inspection records: SQLite or PostgreSQL database, part images on disk, the writer thread.

Callers use :func:`open_database`, the repository functions (which return
``inspector.core`` types), :class:`ImageStore` and :class:`RecordWriter`; the
ORM schema and migrations are internal to this package.
"""

from inspector.storage.engine import default_database_path, open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import (
    NewRecord,
    add_inspections,
    count_inspections,
    get_inspection,
    recent_inspections,
    record_from_inspection,
    verdict_counts,
)
from inspector.storage.writer import RecordWriter

__all__ = [
    "ImageStore",
    "NewRecord",
    "RecordWriter",
    "add_inspections",
    "count_inspections",
    "default_database_path",
    "get_inspection",
    "open_database",
    "recent_inspections",
    "record_from_inspection",
    "verdict_counts",
]
