"""Taking work off a queue in batches: what is waiting, up to a size, never waiting for more.

The station's inference thread and the shadow model both score batches: a
batch is the first item (waited for) plus whatever else is already queued,
so a busy line batches and a quiet one keeps its latency.
"""

from __future__ import annotations

import queue
from typing import Any


def take_batch(source: queue.Queue, max_batch: int, end: object) -> tuple[list[Any], bool]:
    """Block for one item, then take up to ``max_batch`` in all without blocking.

    Returns:
        The batch (without the ``end`` sentinel) and whether ``end`` was taken.
    """
    first = source.get()
    if first is end:
        return [], True
    batch = [first]
    while len(batch) < max_batch:
        try:
            item = source.get_nowait()
        except queue.Empty:
            break
        if item is end:
            return batch, True
        batch.append(item)
    return batch, False
