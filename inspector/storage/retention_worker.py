"""The line's housekeeping thread: applies the retention policy now and then, at low priority.

Retention must never slow the line: the thread sleeps most of the time, works
in small batches, lowers its own CPU priority where the system allows, and
stops between batches when the line stops. Problems (a file that cannot be
deleted, a database that stays locked) are reported through ``on_report`` and
retried on the next pass, never raised into the line.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from inspector.core.errors import StorageError
from inspector.storage.image_store import ImageStore
from inspector.storage.retention import PruneResult, RetentionPolicy, prune_images

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 3600.0
DEFAULT_FIRST_DELAY_S = 60.0
_LOW_PRIORITY_NICE = 10  # added to the nice value: 10 steps below the line


class RetentionWorker:
    """Runs :func:`prune_images` every ``interval_s`` seconds on its own thread.

    Args:
        engine: The line's database.
        store: The line's image store.
        policy: What to keep.
        interval_s: Time between passes.
        first_delay_s: Time before the first pass (the line's start is busy enough).
        on_report: Called on the worker thread with a message for the operator
            when a pass could not finish its work (must be quick and thread-safe).
    """

    def __init__(
        self,
        engine: Engine,
        store: ImageStore,
        policy: RetentionPolicy,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        first_delay_s: float = DEFAULT_FIRST_DELAY_S,
        on_report: Callable[[str], None] | None = None,
    ) -> None:
        if interval_s <= 0 or first_delay_s < 0:
            msg = (
                "RetentionWorker needs interval_s > 0 and first_delay_s >= 0, "
                f"got {interval_s} and {first_delay_s}"
            )
            raise ValueError(msg)
        self._engine = engine
        self._store = store
        self._policy = policy
        self._interval_s = interval_s
        self._first_delay_s = first_delay_s
        self._on_report = on_report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.last_result: PruneResult | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            msg = "RetentionWorker.start() was called twice; create a new worker instead"
            raise RuntimeError(msg)
        self._thread = threading.Thread(target=self._run, name="image-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current batch and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        _lower_priority()
        delay = self._first_delay_s
        while not self._stop.wait(delay):
            self.run_once()
            delay = self._interval_s

    def run_once(self) -> PruneResult | None:
        """One pass now (the thread's body; also for tests); ``None`` if it failed."""
        try:
            result = prune_images(
                self._engine, self._store, self._policy, should_stop=self._stop.is_set
            )
        except (SQLAlchemyError, StorageError, OSError) as exc:
            self._report(f"image retention failed, retried in {self._interval_s:g} s: {exc}")
            return None
        self.passes += 1
        self.last_result = result
        if result.removed or result.finished_interrupted:
            logger.info("image retention: %s", result.summary())
        if result.errors:
            self._report(f"image retention: {result.errors[0]} ({len(result.errors)} such)")
        if result.over_quota:
            self._report(f"image retention: {result.summary()}")
        return result

    def _report(self, message: str) -> None:
        logger.warning("%s", message)
        if self._on_report is not None:
            try:
                self._on_report(message)
            except Exception:
                logger.exception("retention on_report callback failed")


def _lower_priority() -> None:
    """Lower this thread's CPU priority (Linux threads have their own nice value)."""
    try:
        thread_id = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, current + _LOW_PRIORITY_NICE))
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: run as is
        logger.debug("retention thread keeps its priority: %s", exc)
