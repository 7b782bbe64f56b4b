"""Saving a station file from the editor: validated, atomic, versioned and audited.

The station file decides how parts are sorted, so a save must never leave a
half-written or invalid file for the next start to trip over, must keep the
version it replaces (an engineer can go back), and must say who changed what
and why in the hash-chained audit log. A running line is not touched: it keeps
the settings it was started with until it is restarted with the file.
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from inspector.pipeline.station_config import ConfigError, StationConfig, parse_station_config
from inspector.storage.audit import append_audit

AUDIT_ACTION = "station.config"
_BACKUP = re.compile(r"\.v(\d{4,})\.bak$")


@dataclass(frozen=True)
class SavedStation:
    """The outcome of :func:`save_station_text`.

    Attributes:
        path: The station file, now holding the new text.
        backup: Where the replaced version was kept (``None`` for a new file).
        audit_id: The audit log entry that records the change.
        config: The validated configuration the file now holds.
    """

    path: Path
    backup: Path | None
    audit_id: int
    config: StationConfig


def backups_of(path: str | Path) -> list[Path]:
    """The kept versions of a station file, oldest first (``station.toml.v0001.bak``, ...)."""
    file = Path(path)
    found = [
        candidate
        for candidate in file.parent.glob(f"{glob.escape(file.name)}.v*.bak")
        if _BACKUP.search(candidate.name)
    ]
    return sorted(found, key=lambda p: int(_BACKUP.search(p.name).group(1)))


def station_diff(old: str, new: str, name: str) -> str:
    """A unified diff of two versions of a station file, as stored in the audit log."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{name} (before)",
        tofile=f"{name} (after)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def save_station_text(
    path: str | Path,
    text: str,
    *,
    engine: Engine,
    actor: str,
    reason: str,
    expected_old: str | None,
) -> SavedStation:
    """Validate ``text`` and make it the station file, keeping the old version and auditing it.

    Steps, in an order that never leaves a broken file: validate; check that
    the file still holds what the editor loaded; write a temporary file beside
    it and flush it to disk; copy the current version to the next numbered
    backup; append the audit entry; replace the file with ``os.replace``
    (atomic on one file system). A failure before the replace leaves the file
    as it was.

    Args:
        path: The station file (created when it does not exist yet).
        text: The new content.
        engine: The database whose audit log records the change (the line's).
        actor: Who saves (user name).
        reason: Why, in the engineer's words; required.
        expected_old: The text the editor loaded, or ``None`` when it started a
            new file; a file changed on disk since then is not overwritten.

    Raises:
        ConfigError: the text is invalid (every problem listed), or the file
            changed on disk since it was opened.
        ValueError: no actor or reason, or the text equals the file.
    """
    file = Path(path)
    if not actor.strip():
        msg = "saving a station file needs a user name (stored in the audit log): log in first"
        raise ValueError(msg)
    if not reason.strip():
        msg = "say why the station file changes (the reason is stored in the audit log)"
        raise ValueError(msg)
    config = parse_station_config(text, file)
    old = _current_text(file)
    if old != expected_old:
        msg = (
            f"{file} changed on disk since it was opened (another editor or engineer?): "
            "reload it, redo your change and save again"
        )
        raise ConfigError(msg)
    if old == text:
        msg = f"nothing to save: the text is the same as {file.name}"
        raise ValueError(msg)
    temporary = _write_temporary(file, text)
    backup = None
    try:
        if old is not None:
            backup = _next_backup(file)
            shutil.copy2(file, backup)
        entry = append_audit(
            engine,
            actor=actor.strip(),
            action=AUDIT_ACTION,
            subject=str(file.resolve()),
            old_value=None if old is None else f"sha256:{_digest(old)} kept as {backup.name}",
            new_value=f"sha256:{_digest(text)}\n{station_diff(old or '', text, file.name)}",
            reason=reason.strip(),
        )
        os.replace(temporary, file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        if backup is not None:
            backup.unlink(missing_ok=True)
        raise
    _sync_folder(file.parent)
    return SavedStation(file, backup, entry.id, config)


def _current_text(file: Path) -> str | None:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        msg = f"cannot read {file}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc


def _write_temporary(file: Path, text: str) -> Path:
    """The new text in a flushed temporary file beside ``file``, with ``file``'s permissions."""
    try:
        handle, name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    except OSError as exc:
        msg = f"cannot write in {file.parent}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if file.exists():
            shutil.copymode(file, temporary)
        else:
            umask = os.umask(0)
            os.umask(umask)
            temporary.chmod(0o666 & ~umask)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _next_backup(file: Path) -> Path:
    existing = backups_of(file)
    number = int(_BACKUP.search(existing[-1].name).group(1)) + 1 if existing else 1
    return file.with_name(f"{file.name}.v{number:04d}.bak")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); Windows has no directory handles to flush."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
