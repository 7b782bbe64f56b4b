"""Several cameras looking at one part (top and side views): one part id per set of views."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

from inspector.acquisition.source import FrameDecodeError, FrameSource
from inspector.core.frame import Frame


class MultiCameraSource:
    """Takes one frame from each camera per part and gives all of them the same part id.

    This assumes the cameras are triggered together (one trigger, one frame
    each), as on a line with a part sensor wired to every camera. Frames come out
    camera by camera; the station's part assembler joins the views again after
    inspection and the part's verdict is the worst of them.

    Raises (from ``__next__``):
        SourceError: a camera failed; the whole set is unusable (the station
            reconnects live sources).
        FrameDecodeError: one view of a part could not be decoded, with the
            part's shared id.
    """

    def __init__(self, sources: Sequence[FrameSource]) -> None:
        if len(sources) < 2:
            msg = f"a multi-camera station needs at least 2 cameras, got {len(sources)}"
            raise ValueError(msg)
        self.sources = list(sources)
        self.views = len(self.sources)
        self.name = " + ".join(source.name for source in self.sources)
        self.live = any(source.live for source in self.sources)
        self._pending: deque[Frame | FrameDecodeError] = deque()
        self._next_part_id = 0
        ids = [getattr(source, "camera_id", "") for source in self.sources]
        unique = len(set(ids)) == len(ids)
        # Views must stay tellable apart in the records: number cameras that share an id.
        self._camera_ids = (
            ids if unique else [f"{cid or 'camera'}-{n}" for n, cid in enumerate(ids)]
        )

    def __enter__(self) -> Self:
        for source in self.sources:
            source.__enter__()
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

    def __next__(self) -> Frame:
        if not self._pending:
            self._take_part()
        item = self._pending.popleft()
        if isinstance(item, FrameDecodeError):
            raise item
        return item

    def _take_part(self) -> None:
        part_id = self._next_part_id
        views: list[Frame | FrameDecodeError] = []
        for source, camera_id in zip(self.sources, self._camera_ids, strict=True):
            try:
                frame = next(source)  # StopIteration from any camera ends the set
            except FrameDecodeError as exc:
                views.append(FrameDecodeError(str(exc), part_id=part_id, origin=exc.origin))
                continue
            views.append(replace(frame, part_id=part_id, camera_id=camera_id))
        self._next_part_id += 1
        self._pending.extend(views)

    def close(self) -> None:
        """Close every camera."""
        for source in self.sources:
            source.close()
