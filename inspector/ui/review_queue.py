"""Where a reviewer is in the review queue: the parts listed, the one shown, this session's reviews.

Plain Python over :func:`inspector.storage.reviews.review_queue`, no Qt: the
Review tab shows what this holds. The queue is read in batches and extended
when the reviewer reaches its end, so a decision never waits for a query;
reviewed parts stay listed (going back to one appends a new review), and parts
reviewed elsewhere meanwhile simply are not listed again. The pictures of the
current part and the next one are drawn ahead and kept in a small cache, so
the next part appears the moment a decision is stored.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine

from inspector.core.record import StoredInspection
from inspector.overlay.compose import render_overlay
from inspector.reports.part_images import as_inspection, load_part_image
from inspector.storage.image_store import ImageStore
from inspector.storage.reviews import Review, review_queue

BATCH = 100
_CACHE = 4  # pictures kept: current, next and a couple to go back to
SCALE = 2.0  # parts are drawn at twice their size, so boxes and labels stay crisp
Picture = tuple[np.ndarray, tuple[int, int] | None]  # the drawn part, its image's (h, w)


class ReviewQueue:
    """The parts waiting for review, newest first, and a cursor over them.

    Args:
        engine: The station's database.
        image_store: Where the parts' images are kept.
        station: Only this station's parts; all by default.
        batch: Parts read per query.
    """

    def __init__(
        self,
        engine: Engine,
        image_store: ImageStore,
        station: str | None = None,
        batch: int = BATCH,
    ) -> None:
        self.engine = engine
        self.image_store = image_store
        self.station = station
        self.batch = batch
        self.items: list[StoredInspection] = []
        self.index = 0
        self.decided: dict[int, Review] = {}  # this session's reviews, by inspection id
        self.more = False  # the last read was a full batch: more are waiting
        self._pictures: dict[int, Picture] = {}

    @property
    def current(self) -> StoredInspection | None:
        """The part shown, or ``None`` when the queue is empty (or finished)."""
        return self.items[self.index] if self.index < len(self.items) else None

    def reload(self) -> None:
        """Read the newest unreviewed parts and add those not listed yet."""
        listed = {part.id for part in self.items}
        fresh = review_queue(self.engine, limit=self.batch, station=self.station)
        self.more = len(fresh) == self.batch
        self.items.extend(part for part in fresh if part.id not in listed)

    def forward(self) -> None:
        """Move to the next part; at the end, read more of the queue."""
        if self.index < len(self.items):
            self.index += 1
        if self.index >= len(self.items):
            self.reload()

    def back(self) -> bool:
        """Move to the previous part; ``False`` at the first one."""
        if self.index == 0:
            return False
        self.index -= 1
        return True

    def prepare_upcoming(self) -> None:
        """Draw the next part's picture now, so it appears at once after a decision."""
        if self.index + 1 < len(self.items):
            self.picture(self.items[self.index + 1])

    def record(self, review: Review) -> None:
        """Remember a review made in this session (shown when going back to the part)."""
        self.decided[review.inspection_id] = review

    def progress(self) -> str:
        """``12+ waiting · 8 reviewed this session``, or that the queue is empty."""
        if self.current is None:
            return f"Queue empty · {len(self.decided)} reviewed this session"
        waiting = sum(1 for p in self.items[self.index :] if p.id not in self.decided)
        more = "+" if self.more else ""
        return f"{waiting}{more} waiting · {len(self.decided)} reviewed this session"

    def picture(self, part: StoredInspection) -> Picture:
        """The part drawn with the machine's boxes, and its image's ``(height, width)``.

        No verdict banner: stacked above the part it would move the picture
        away from the image coordinates a reviewer draws in (the verdict is in
        the facts beside it). A part whose
        image was not kept is a "no image" card with its banner, and no shape.
        """
        if part.id not in self._pictures:
            image, _why = load_part_image(part, self.image_store)
            scene = render_overlay(
                as_inspection(part, image),
                heatmap=False,
                contours=False,
                banner=image is None,
                scale=SCALE,
            )
            shape = None if image is None else (int(image.shape[0]), int(image.shape[1]))
            self._pictures[part.id] = (scene, shape)
            while len(self._pictures) > _CACHE:
                self._pictures.pop(next(iter(self._pictures)))
        return self._pictures[part.id]
