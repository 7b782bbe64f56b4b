"""Image retention and the disk quota: old part images go, their records stay and say so.

Records are quality evidence and are never deleted; the JPEGs beside them are
what fills a disk. Goods go first (after ``keep_good_days``), rejects, REVIEW
parts, failed inspections and every reviewed part are kept longer
(``keep_reject_days``), and a quota on the image folder removes the oldest
goods first, then the oldest of the rest.

Deleting one image is three steps, each committed before the next, so that a
crash at any point never leaves a row naming a missing file unmarked:

1. the row is marked (``image_removed_at``, ``image_removed_reason``);
2. the file is deleted;
3. the row's ``image_path`` is cleared.

A crash between 1 and 3 leaves a marked row that still names its file (which
may or may not exist); the next pass finds those rows through a partial index
and finishes them. Readers treat a cleared ``image_path`` as "image not kept",
so nothing downstream ever tries to open a deleted file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import Engine, and_, exists, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from inspector.core.errors import StorageError
from inspector.storage.engine import write_transaction
from inspector.storage.image_store import ImageStore
from inspector.storage.schema import InspectionRow, ReviewRow

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
_GIB = 1024**3
_ROWS = InspectionRow


@dataclass(frozen=True)
class RetentionPolicy:
    """How long images are kept and how much disk they may take.

    Args:
        keep_good_days: Days an unreviewed good part's image is kept; ``None``: forever.
        keep_reject_days: Days the image of a reject, a REVIEW part, a failed
            inspection or any reviewed part is kept; ``None``: forever. Never
            shorter than ``keep_good_days``: the evidence outlives the samples.
        quota_bytes: Most bytes the image folder may hold; ``None``: no quota.
    """

    keep_good_days: float | None = 30.0
    keep_reject_days: float | None = 365.0
    quota_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("keep_good_days", "keep_reject_days", "quota_bytes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                msg = f"{name} must be positive (or unset to keep images forever), got {value}"
                raise ValueError(msg)
        good, kept = self.keep_good_days, self.keep_reject_days
        if kept is not None and (good is None or kept < good):
            msg = (
                f"keep_reject_days ({kept}) must be at least keep_good_days ({good}): rejects "
                "and reviewed parts are the evidence and are kept longer than goods"
            )
            raise ValueError(msg)

    @classmethod
    def from_settings(
        cls,
        keep_good_days: float | None,
        keep_reject_days: float | None,
        image_quota_gb: float | None,
    ) -> RetentionPolicy:
        """The policy from a station file's ``[storage]`` values (quota in GiB)."""
        quota = None if image_quota_gb is None else int(image_quota_gb * _GIB)
        return cls(keep_good_days, keep_reject_days, quota)

    @property
    def does_anything(self) -> bool:
        """False when every image is kept forever and there is no quota."""
        return any(v is not None for v in (self.keep_good_days, self.quota_bytes))


@dataclass(frozen=True)
class ImageRemoval:
    """When and why a record's image was removed, for views that would show it."""

    at: datetime
    reason: str

    def describe(self, tz: tzinfo | None = None) -> str:
        """The sentence a view shows instead of the image, its time in ``tz`` (the plant's;
        ``None``: this computer's zone)."""
        return f"image removed by {self.reason} on {self.at.astimezone(tz):%Y-%m-%d %H:%M}"


@dataclass
class PruneResult:
    """What one pass removed (or, in a dry run, would remove)."""

    dry_run: bool
    removed_old_goods: int = 0
    removed_old_kept: int = 0
    removed_for_quota: int = 0
    finished_interrupted: int = 0
    bytes_freed: int = 0
    usage_bytes: int | None = None
    over_quota: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        """Images removed in this pass, whatever the reason."""
        return self.removed_old_goods + self.removed_old_kept + self.removed_for_quota

    def summary(self) -> str:
        """One line for the command line and the line's log."""
        verb = "would remove" if self.dry_run else "removed"
        text = (
            f"{verb} {self.removed} images ({self.bytes_freed / 1e6:.1f} MB): "
            f"{self.removed_old_goods} old goods, {self.removed_old_kept} old rejects/reviewed, "
            f"{self.removed_for_quota} for the disk quota"
        )
        if self.finished_interrupted:
            text += f"; finished {self.finished_interrupted} interrupted removals"
        if self.usage_bytes is not None:
            text += f"; image folder {self.usage_bytes / 1e6:.1f} MB"
        if self.over_quota:
            text += " — still over the quota (only files without a record are left)"
        return text


@dataclass(frozen=True)
class _Candidate:
    id: int
    captured_at: datetime
    image_path: str


def prune_images(
    engine: Engine,
    store: ImageStore,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    batch_size: int = BATCH_SIZE,
) -> PruneResult:
    """Apply ``policy`` to the images of the records in ``engine``, in small batches.

    Args:
        engine: The records' database.
        store: Where their images are.
        policy: Ages and quota.
        now: The time ages are measured from (default: the current time).
        dry_run: Count what would go; change nothing.
        should_stop: Checked between batches so that a stopping line is not held up.
        batch_size: Rows marked per transaction.

    Returns:
        Counts, bytes freed, the image folder's size and any file that could not
        be deleted (its row stays marked and is retried on the next pass).
    """
    now = now or datetime.now(UTC)
    result = PruneResult(dry_run=dry_run)
    if not dry_run:
        result.finished_interrupted = _finish_pending(engine, store, result)
    # What the age rules leave; the quota chooses among these only (a dry run has
    # marked nothing, so it must not count the same image twice).
    young_goods, young_kept = _good_parts(), ~_good_parts()
    if policy.keep_good_days is not None:
        cutoff = now - timedelta(days=policy.keep_good_days)
        young_goods = young_goods & (_ROWS.captured_at >= cutoff)
        reason = f"retention (good part older than {policy.keep_good_days:g} days)"
        for batch in _batches(engine, _good_parts() & (_ROWS.captured_at < cutoff), batch_size):
            result.removed_old_goods += _remove(engine, store, batch, reason, now, result)
            if should_stop():
                return result
    if policy.keep_reject_days is not None:
        cutoff = now - timedelta(days=policy.keep_reject_days)
        young_kept = young_kept & (_ROWS.captured_at >= cutoff)
        reason = f"retention (reject or reviewed part older than {policy.keep_reject_days:g} days)"
        for batch in _batches(engine, ~_good_parts() & (_ROWS.captured_at < cutoff), batch_size):
            result.removed_old_kept += _remove(engine, store, batch, reason, now, result)
            if should_stop():
                return result
    if policy.quota_bytes is not None:
        usage = folder_usage(store.root) - (result.bytes_freed if dry_run else 0)
        reason = f"disk quota ({policy.quota_bytes / _GIB:.3g} GiB)"
        for condition in (young_goods, young_kept):
            usage = _apply_quota(
                engine,
                store,
                condition,
                usage,
                policy.quota_bytes,
                reason,
                now,
                result,
                should_stop,
                batch_size,
            )
        result.usage_bytes = usage
        result.over_quota = usage > policy.quota_bytes
    return result


def image_removal(engine: Engine, inspection_id: int) -> ImageRemoval | None:
    """When and why retention removed this record's image; ``None`` if it did not."""
    with engine.connect() as connection:
        row = connection.execute(
            select(_ROWS.image_removed_at, _ROWS.image_removed_reason).where(
                _ROWS.id == inspection_id
            )
        ).first()
    if row is None or row.image_removed_at is None:
        return None
    return ImageRemoval(row.image_removed_at, row.image_removed_reason or "retention")


def mark_removed(
    engine: Engine, ids: list[int], reason: str, now: datetime | None = None
) -> list[int]:
    """Step 1: mark rows whose image is about to be deleted; returns the ids marked.

    Only rows that still hold an unmarked image are marked, so two passes (two
    stations sharing an image root) never both claim one file.
    """
    if not ids:
        return []
    now = now or datetime.now(UTC)
    statement = (
        update(_ROWS)
        .where(_ROWS.id.in_(ids), _ROWS.image_path.is_not(None), _ROWS.image_removed_at.is_(None))
        .values(image_removed_at=now, image_removed_reason=reason[:128])
        .returning(_ROWS.id)
    )
    with write_transaction(engine) as connection:
        return sorted(connection.execute(statement).scalars())


def folder_usage(root: os.PathLike[str] | str) -> int:
    """Bytes held by the files under ``root`` (0 when it does not exist yet)."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                continue  # deleted meanwhile: it no longer counts
    return total


def _good_parts() -> ColumnElement[bool]:
    """Unreviewed, inspected goods: the only images that go before the evidence."""
    reviewed = exists().where(ReviewRow.inspection_id == _ROWS.id)
    return and_(_ROWS.verdict == "accept", _ROWS.error.is_(None), ~reviewed)


def _batches(
    engine: Engine, condition: ColumnElement[bool], batch_size: int
) -> Iterator[list[_Candidate]]:
    """Rows holding an unmarked image that match ``condition``, oldest first.

    Keyset paging on (time, id), so a dry run (which marks nothing) advances too.
    """
    after: tuple[datetime, int] | None = None
    while True:
        statement = (
            select(_ROWS.id, _ROWS.captured_at, _ROWS.image_path)
            .where(_ROWS.image_path.is_not(None), _ROWS.image_removed_at.is_(None), condition)
            .order_by(_ROWS.captured_at, _ROWS.id)
            .limit(batch_size)
        )
        if after is not None:
            statement = statement.where(tuple_(_ROWS.captured_at, _ROWS.id) > after)
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
        if not rows:
            return
        yield [_Candidate(r.id, r.captured_at, r.image_path) for r in rows]
        after = (rows[-1].captured_at, rows[-1].id)


def _remove(
    engine: Engine,
    store: ImageStore,
    batch: list[_Candidate],
    reason: str,
    now: datetime,
    result: PruneResult,
) -> int:
    """Mark, delete, clear one batch (or only measure it in a dry run); returns the count."""
    sizes = {c.id: _size(store, c.image_path) for c in batch}
    if result.dry_run:
        result.bytes_freed += sum(sizes.values())
        return len(batch)
    marked = set(mark_removed(engine, [c.id for c in batch], reason, now))
    done = _delete_and_clear(engine, store, [c for c in batch if c.id in marked], result)
    result.bytes_freed += sum(sizes[i] for i in done)
    return len(done)


def _delete_and_clear(
    engine: Engine, store: ImageStore, marked: list[_Candidate], result: PruneResult
) -> list[int]:
    """Steps 2 and 3 for rows already marked; a file that cannot go keeps its row pending."""
    deleted: list[int] = []
    for candidate in marked:
        try:
            store.path(candidate.image_path).unlink(missing_ok=True)
        except (OSError, StorageError) as exc:
            message = (
                f"cannot delete image {candidate.image_path} of record {candidate.id}: {exc}; "
                "its record stays marked and the next pass retries"
            )
            logger.warning("%s", message)
            result.errors.append(message)
            continue
        deleted.append(candidate.id)
    if deleted:
        with write_transaction(engine) as connection:
            connection.execute(update(_ROWS).where(_ROWS.id.in_(deleted)).values(image_path=None))
    return deleted


def _finish_pending(engine: Engine, store: ImageStore, result: PruneResult) -> int:
    """Finish removals a crash interrupted: marked rows that still name their file."""
    pending = _ROWS.image_removed_at.is_not(None) & _ROWS.image_path.is_not(None)
    with engine.connect() as connection:
        rows = connection.execute(
            select(_ROWS.id, _ROWS.captured_at, _ROWS.image_path).where(pending)
        ).all()
    candidates = [_Candidate(r.id, r.captured_at, r.image_path) for r in rows]
    return len(_delete_and_clear(engine, store, candidates, result))


def _apply_quota(
    engine: Engine,
    store: ImageStore,
    condition: ColumnElement[bool],
    usage: int,
    quota: int,
    reason: str,
    now: datetime,
    result: PruneResult,
    should_stop: Callable[[], bool],
    batch_size: int,
) -> int:
    """Remove the oldest images matching ``condition`` until the folder fits; the new usage."""
    for batch in _batches(engine, condition, batch_size):
        if usage <= quota or should_stop():
            break
        needed: list[_Candidate] = []
        for candidate in batch:
            if usage <= quota:
                break
            needed.append(candidate)
            usage -= _size(store, candidate.image_path)
        errors = len(result.errors)
        result.removed_for_quota += _remove(engine, store, needed, reason, now, result)
        if len(result.errors) > errors:
            usage = folder_usage(store.root)  # some files did not go: measure again
    return usage


def _size(store: ImageStore, relative: str) -> int:
    try:
        return store.path(relative).stat().st_size
    except (OSError, StorageError):
        return 0
