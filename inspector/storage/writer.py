"""The record writer: images and database rows written on their own thread, in batches.

The line must never wait for the disk: ``submit`` only enqueues. The writer
thread collects what is queued into a batch, saves the images worth keeping
(every reject and review, every part that failed inspection, a sample of good
parts) and inserts the batch in one transaction. A locked database is retried
with backoff until it succeeds: a triggered part's record is never dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from inspector.core.errors import StorageError
from inspector.core.inspection import Inspection, ShadowVerdict
from inspector.core.verdict import Verdict
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import NewRecord, add_inspections, record_from_inspection
from inspector.storage.shadow import add_shadow_verdicts

logger = logging.getLogger(__name__)

_NO_IMAGE = np.zeros((0, 0, 3), dtype=np.uint8)
_STOP = object()  # wakes the thread at once instead of after the flush interval
_FIRST_RETRY_S = 0.05
_MAX_RETRY_S = 2.0


class RecordWriter:
    """Persists inspections in the background: ``start()``, ``submit()`` many, ``stop()``.

    Args:
        engine: From :func:`inspector.storage.engine.open_database`.
        image_store: Where part images go.
        station: Station name stored with every record.
        keep_good_every: Keep the image of the first good part and of every
            Nth one after it, so a good reference is at hand without filling
            the disk; ``0`` keeps no good images.
        max_batch: Most records per transaction.
        flush_interval_s: Longest a record waits in the queue for its batch to fill.
        on_error: Called on the writer thread with a message when something
            goes wrong (database locked, image not saved); it must be quick
            and thread-safe (the UI hands it to its own thread).
    """

    def __init__(
        self,
        engine: Engine,
        image_store: ImageStore,
        *,
        station: str,
        keep_good_every: int = 50,
        max_batch: int = 64,
        flush_interval_s: float = 0.25,
        on_error: Callable[[str], None] | None = None,
        max_backlog_images: int = 1000,
    ) -> None:
        if keep_good_every < 0 or max_batch < 1 or flush_interval_s <= 0:
            msg = (
                "RecordWriter needs keep_good_every >= 0, max_batch >= 1 and flush_interval_s > 0"
                f"; got {keep_good_every}, {max_batch}, {flush_interval_s}"
            )
            raise ValueError(msg)
        self._engine = engine
        self._images = image_store
        self._station = station
        self._keep_good_every = keep_good_every
        self._max_batch = max_batch
        self._flush_interval_s = flush_interval_s
        self._on_error = on_error
        self._max_backlog_images = max_backlog_images
        self._images_dropped = 0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._goods_seen = 0
        self._submitted = 0
        self._written = 0
        self._failed = 0
        self._images_saved = 0
        self._last_error: str | None = None

    @property
    def written(self) -> int:
        """Records committed to the database."""
        return self._written

    @property
    def pending(self) -> int:
        """Records submitted but not yet committed (queued, or in a batch being retried)."""
        with self._lock:
            return self._submitted - self._written - self._failed

    @property
    def failed(self) -> int:
        """Records the database refused for good (not a lock: a bad value); each was reported."""
        return self._failed

    @property
    def images_dropped(self) -> int:
        """Images not kept because the backlog was over its bound (records were kept)."""
        return self._images_dropped

    @property
    def images_saved(self) -> int:
        """Part images written to the image store."""
        return self._images_saved

    @property
    def last_error(self) -> str | None:
        """The most recent problem, for a status line; ``None`` if there was none."""
        return self._last_error

    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is not None:
            msg = "RecordWriter.start() was called twice; create a new writer instead"
            raise RuntimeError(msg)
        # A daemon thread: if stop() times out on a dead disk, the app can still exit.
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def submit(self, inspection: Inspection) -> None:
        """Queue one inspection for writing; never blocks.

        Raises:
            RuntimeError: the writer was already stopped (the record would be lost).
        """
        with self._lock:
            if self._stop_event.is_set():
                msg = f"record writer is stopped; part {inspection.frame.part_id} was not recorded"
                raise RuntimeError(msg)
            self._submitted += 1
            backlog = self._submitted - self._written - self._failed
        # The writer never keeps the anomaly map; past the backlog bound (database
        # locked or disk full for a long time) it keeps the record but not the pixels,
        # so memory stays bounded and no record is lost.
        light = replace(inspection, anomaly_map=None)
        if backlog > self._max_backlog_images and light.frame.image.size:
            light = replace(light, frame=replace(light.frame, image=_NO_IMAGE))
            self._images_dropped += 1
            if self._images_dropped == 1:
                self._report(
                    f"storage backlog over {self._max_backlog_images} records: new records are "
                    "kept without their images until the database accepts writes again"
                )
        self._queue.put(light)

    def submit_shadow(self, shadow: ShadowVerdict) -> None:
        """Queue a shadow model's verdict on a part submitted before; never blocks.

        It shares the records' queue, so it is written after the part's own
        record, to which it is linked. A shadow verdict whose part's record was
        lost is reported, not stored.
        """
        inspection = shadow.inspection
        frame = replace(inspection.frame, image=_NO_IMAGE)  # the link needs no pixels
        light = replace(shadow, inspection=replace(inspection, frame=frame, anomaly_map=None))
        with self._lock:
            if self._stop_event.is_set():
                msg = f"record writer is stopped; shadow verdict of part {frame.part_id} is lost"
                raise RuntimeError(msg)
        self._queue.put(light)

    def stop(self, timeout: float = 10.0) -> None:
        """Write everything still queued, then end the thread.

        Raises:
            StorageError: the records could not all be written within ``timeout``
                seconds (the database stayed locked or the disk failed).
        """
        with self._lock:
            self._stop_event.set()
            self._queue.put(_STOP)
        if self._thread is None:
            self._run()  # never started: write what was submitted on this thread
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            msg = (
                f"record writer did not finish within {timeout:g} s: {self.pending} records are "
                f"not written (last error: {self._last_error}); check the database and the disk"
            )
            raise StorageError(msg)

    def __enter__(self) -> RecordWriter:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        """Loop until stopped, then drain the queue so that nothing submitted is lost."""
        while not self._stop_event.is_set():
            batch = self._collect()
            if batch:
                self._write(batch)
        while batch := self._drain():
            self._write(batch)
        self._refresh_statistics()

    def _refresh_statistics(self) -> None:
        """Let SQLite refresh its query-planner statistics (cheap; history queries need them)."""
        if self._engine.dialect.name != "sqlite":
            return
        try:
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA optimize")
        except SQLAlchemyError as error:  # statistics are an optimisation, not a record
            logger.warning("PRAGMA optimize failed: %s", error)

    def _collect(self) -> list[Inspection | ShadowVerdict]:
        """Wait for a first record, then gather more until the batch or the interval is full."""
        batch: list[Inspection | ShadowVerdict] = []
        deadline = time.monotonic() + self._flush_interval_s
        while len(batch) < self._max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if not isinstance(item, Inspection | ShadowVerdict):  # the stop marker
                break
            batch.append(item)
        return batch

    def _drain(self) -> list[Inspection | ShadowVerdict]:
        batch: list[Inspection | ShadowVerdict] = []
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Inspection | ShadowVerdict):
                batch.append(item)
        return batch

    def _write(self, batch: list[Inspection | ShadowVerdict]) -> None:
        shadows = [item for item in batch if isinstance(item, ShadowVerdict)]
        inspections = [item for item in batch if isinstance(item, Inspection)]
        if inspections:
            self._write_records(inspections)
        if shadows:  # after the records: each shadow verdict links to its part's row
            self._write_shadows(shadows)

    def _write_shadows(self, shadows: list[ShadowVerdict]) -> None:
        delay = _FIRST_RETRY_S
        while True:
            try:
                linked = add_shadow_verdicts(self._engine, self._station, shadows)
                break
            except OperationalError as exc:
                self._report(f"database busy, {len(shadows)} shadow verdicts waiting: {exc.orig}")
                time.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_S)
            except SQLAlchemyError as exc:
                self._report(f"{len(shadows)} shadow verdicts refused by the database: {exc}")
                return
        if linked < len(shadows):
            self._report(
                f"{len(shadows) - linked} shadow verdicts not stored: their parts' records are lost"
            )

    def _write_records(self, batch: list[Inspection]) -> None:
        records = [r for r in map(self._prepare, batch) if r is not None]
        try:
            self._insert_retrying(records)
        except Exception:
            # Not a lock: the batch holds a record the database refuses, and retrying
            # it would fail forever. Write one by one so that only that record is lost.
            logger.exception("batch of %d records refused; writing one by one", len(records))
            for record in records:
                try:
                    self._insert_retrying([record])
                except Exception as exc:
                    self._count_lost(
                        f"record of part {record.part_id} ({record.camera_id}) was refused "
                        f"by the database and is lost: {exc}"
                    )

    def _insert_retrying(self, records: list[NewRecord]) -> None:
        """Insert in one transaction, retrying with backoff while the database is locked."""
        delay = _FIRST_RETRY_S
        retried = False
        while True:
            try:
                add_inspections(self._engine, records)
            except OperationalError as exc:
                # Locked, busy or disk full: keep the batch and retry; nothing is dropped.
                self._report(f"database busy, {len(records)} records waiting: {exc.orig}")
                retried = True
                time.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_S)
                continue
            with self._lock:
                self._written += len(records)
            if retried:
                logger.info("record writer recovered; %d records written", self._written)
            return

    def _prepare(self, inspection: Inspection) -> NewRecord | None:
        """Save the image if kept and describe the row; a malformed inspection is reported."""
        try:
            return record_from_inspection(inspection, self._station, self._save_image(inspection))
        except Exception as exc:  # one bad object must not end the thread and lose the rest
            logger.exception("cannot record part %s", inspection.frame.part_id)
            self._count_lost(f"record of part {inspection.frame.part_id} is lost: {exc!r}")
            return None

    def _save_image(self, inspection: Inspection) -> str | None:
        if not self._keeps_image(inspection):
            return None
        frame = inspection.frame
        try:
            path = self._images.save(
                frame.image,
                captured_at=frame.captured_at,
                station=self._station,
                part_id=frame.part_id,
                verdict=inspection.verdict,
            )
        except StorageError as exc:
            # The record is worth more than its picture: store the row without it.
            self._report(f"image of part {frame.part_id} not saved: {exc}")
            return None
        self._images_saved += 1
        return path

    def _keeps_image(self, inspection: Inspection) -> bool:
        if inspection.frame.image.size == 0:
            return False  # unreadable input: there are no pixels to keep
        if inspection.error is not None or inspection.verdict != Verdict.ACCEPT:
            return True
        keep = self._keep_good_every > 0 and self._goods_seen % self._keep_good_every == 0
        self._goods_seen += 1
        return keep

    def _count_lost(self, message: str) -> None:
        with self._lock:
            self._failed += 1
        self._report(message)

    def _report(self, message: str) -> None:
        self._last_error = message
        logger.warning("%s", message)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                logger.exception("record writer on_error callback failed")
