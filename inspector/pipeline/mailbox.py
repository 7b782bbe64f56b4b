"""A latest-only mailbox: the display takes the newest result and never slows the line."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    """Holds at most one item; a new item replaces an unread one.

    ``put`` tells whether the box was empty so that a notifier (the UI bridge)
    signals once per batch of arrivals instead of once per item.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self._dropped = 0

    def put(self, item: T) -> bool:
        """Store ``item``; return True when the box was empty before."""
        with self._lock:
            was_empty = self._item is None
            if not was_empty:
                self._dropped += 1
            self._item = item
            return was_empty

    def take(self) -> T | None:
        """Return the newest item (or None) and empty the box."""
        with self._lock:
            item, self._item = self._item, None
            return item

    @property
    def replaced(self) -> int:
        """How many items were replaced before anyone read them (display skips)."""
        with self._lock:
            return self._dropped
