"""Shared set-up of the GUI tests."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

WORKERS = ("grad-cam", "learn-good")
"""Threads the views start for model work (they build torch modules off the GUI thread)."""
LINE_THREADS = ("acquisition", "inference", "gate", "record-writer", "shadow", "deployments")
"""Threads of a line a test started; a closed window has stopped them, or is stopping them."""


@pytest.fixture(autouse=True)
def _settle_workers_and_garbage() -> Iterator[None]:
    """After each test: wait for its model workers, then collect its garbage.

    A crash seen once in CI (segfault in the GUI thread's cyclic garbage
    collection while a worker thread was building a torch model) involved
    garbage left by earlier tests; collecting at a quiet point between tests
    keeps one test's Qt and torch objects from being finalised during the next.
    """
    yield
    for thread in threading.enumerate():
        if thread is threading.current_thread():
            continue
        if thread.name in WORKERS:
            thread.join(timeout=60)
        elif thread.name in LINE_THREADS:
            thread.join(timeout=10)
    gc.collect()
