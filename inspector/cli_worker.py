"""Running a command's model work on a worker thread.

On Linux with glibc, torch's CPU convolutions run 4-5x slower on the
process's main thread than on any other thread (measured on the 2-core
build machine: the main thread's malloc arena is the difference), so the
CLI commands that score or fit images do it on a worker, as the line's
inference stage always has. Ctrl-C still reaches the main thread, which
waits in short slices so it can react.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def call_on_worker(work: Callable[[], T], *, name: str = "inspector-worker") -> T:
    """Run ``work()`` on a new thread and return its result (or raise its exception)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # re-raised on the calling thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.2)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
