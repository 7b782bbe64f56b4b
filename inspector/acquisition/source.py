"""The contract every frame source keeps, and the glue they share.

A source is a context manager and an iterator of :class:`~inspector.core.Frame`.
The pipeline's camera thread is the only thing that iterates it; everything
else sees frames, never sources. Keeping the contract this small is what lets
the demo line, an image folder, a video file and a real camera be swapped
without the pipeline knowing which one it has.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np

from inspector.core.errors import SourceError
from inspector.core.frame import Frame
from inspector.core.inspection import Defect


class FrameDecodeError(SourceError):
    """One item of a source could not be decoded; the source itself is still usable.

    Raised from ``__next__`` for a single bad item (a corrupt image file, say).
    The part id is used up, so the part is not lost silently: the caller can
    record it as not inspected and call ``next()`` again to go on with the
    following item.

    Attributes:
        part_id: The part id the bad item was given.
        origin: Where the bad item came from (file path, URL), for people.
    """

    def __init__(self, message: str, *, part_id: int, origin: str) -> None:
        super().__init__(message)
        self.part_id = part_id
        self.origin = origin


@runtime_checkable
class FrameSource(Protocol):
    """Anything that delivers frames: ``with source: for frame in source: ...``.

    Attributes:
        name: Short description for people (``"Demo line"``,
            ``"Folder /x (12 images)"``).
        live: ``True`` when frames come on their own clock (a camera, the demo
            line): a consumer that falls behind must handle the parts it could
            not inspect in time fail-safe. ``False`` for a replay that the
            consumer may slow down without losing anything.

    Iteration ends with ``StopIteration`` at the end of a finite source and
    after :meth:`close`. A single undecodable item raises
    :class:`FrameDecodeError`; any other :class:`~inspector.core.SourceError`
    means the source cannot go on.
    """

    name: str
    live: bool

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __iter__(self) -> Self: ...

    def __next__(self) -> Frame: ...

    def close(self) -> None:
        """Release the device or files; safe to call twice and from another thread."""
        ...


class FrameSourceBase:
    """Shared plumbing: context manager, iterator protocol, part ids and frame stamping.

    Subclasses implement ``__next__`` and, when they hold resources,
    ``_release``. ``close`` sets :attr:`_closed` (an event, so a paced source
    sleeping on it wakes up at once when another thread closes it).
    """

    name: str = ""
    live: bool = False

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self._closed = threading.Event()
        self._next_id = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Frame:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed.is_set()

    def close(self) -> None:
        """Stop delivering frames and release what the source holds."""
        if not self._closed.is_set():
            self._closed.set()
            self._release()

    def _release(self) -> None:
        """Free devices or handles; called once by :meth:`close`."""

    def _take_part_id(self) -> int:
        """Hand out the next part id: one per item, good or bad, so none is lost silently."""
        part_id = self._next_id
        self._next_id += 1
        return part_id

    def _frame(
        self,
        image: np.ndarray,
        part_id: int,
        *,
        origin: str,
        timestamp: float | None = None,
        truth: tuple[Defect, ...] | None = None,
    ) -> Frame:
        """Stamp pixels with this source's identity and the acquisition clocks."""
        return Frame(
            image=image,
            camera_id=self.camera_id,
            part_id=part_id,
            timestamp=time.monotonic() if timestamp is None else timestamp,
            captured_at=datetime.now(UTC),
            origin=origin,
            truth=truth,
        )
