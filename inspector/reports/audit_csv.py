"""The audit log as CSV, for the quality file and auditors' spreadsheets.

Each line carries the entry's hash, so an auditor can check an exported line
against ``inspector audit verify`` on the database it came from. Text typed by
people (reasons, names) is made formula-safe: a reason starting with ``=``
must never run as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from inspector.storage.audit import AuditEntry

COLUMNS = ("id", "at", "actor", "action", "subject", "old_value", "new_value", "reason", "hash")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_audit_csv(entries: Iterable[AuditEntry], destination: Path) -> int:
    """Write ``entries`` to ``destination`` (UTF-8 with BOM, replaced only once complete).

    Returns:
        How many entries were written.
    """
    destination = Path(destination).absolute()
    partial = destination.with_name(f".{destination.name}.partial")
    written = 0
    try:
        with open(partial, "w", newline="", encoding="utf-8-sig") as stream:
            writer = csv.writer(stream)
            writer.writerow(COLUMNS)
            for e in entries:
                text = (e.actor, e.action, e.subject, e.old_value, e.new_value, e.reason)
                writer.writerow([e.id, e.at.isoformat(), *(_safe(t or "") for t in text), e.hash])
                written += 1
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def _safe(text: str) -> str:
    """Quote a leading formula character with an apostrophe, as OWASP recommends."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text
