"""Joins the views of one part (several cameras) into one verdict: the worst of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from inspector.core.inspection import Inspection
from inspector.core.verdict import Verdict


def worst(inspections: list[Inspection]) -> Inspection:
    """The view that decides the part: the most severe verdict, the earliest on ties."""
    return max(inspections, key=lambda i: (i.verdict.strictness, -i.frame.timestamp))


class PartAssembler:
    """Collects ``views`` inspections per part id and passes on the deciding one.

    Every view of a part reaches the assembler (fail-safe views included), so a
    part completes unless its source died mid-part; :meth:`flush` then passes on
    what is there, handled fail-safe when a view is missing.
    """

    def __init__(
        self,
        views: int,
        on_part: Callable[[Inspection], None],
        *,
        fail_safe: Verdict = Verdict.REJECT,
    ) -> None:
        self.views = views
        self._on_part = on_part
        self._fail_safe = fail_safe
        self._parts: dict[int, list[Inspection]] = {}
        self._lock = threading.Lock()

    def add(self, inspection: Inspection) -> None:
        """Take one view; emit the part when all its views are in."""
        with self._lock:
            views = self._parts.setdefault(inspection.frame.part_id, [])
            views.append(inspection)
            if len(views) < self.views:
                return
            del self._parts[inspection.frame.part_id]
        self._on_part(worst(views))

    def flush(self) -> None:
        """Pass on incomplete parts (a camera stopped mid-part), at least fail-safe."""
        with self._lock:
            parts, self._parts = self._parts, {}
        for views in parts.values():
            deciding = worst(views)
            if deciding.verdict.strictness < self._fail_safe.strictness:
                missing = self.views - len(views)
                deciding = _with_verdict(deciding, self._fail_safe, f"{missing} view(s) missing")
            self._on_part(deciding)


def _with_verdict(inspection: Inspection, verdict: Verdict, reason: str) -> Inspection:
    return replace(inspection, verdict=verdict, error=reason)
