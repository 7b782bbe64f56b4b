"""Shadow mode: a candidate model scores every part beside production and drives nothing.

The station offers each part to :class:`ShadowRunner` after production's
verdict went to the gate and the record writer, so the shadow can never delay
the gate. ``offer`` never blocks: when the shadow's own small queue is full
(the candidate is slower than the line), the part is recorded as *not
shadowed* rather than slowing the line, and the comparison counts it.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from inspector.core.inspection import Inspection, ShadowVerdict
from inspector.decision import DecisionRules, decide
from inspector.ml.lighting import scorer_lighting
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.batching import take_batch
from inspector.pipeline.station import Scorer

log = logging.getLogger(__name__)

_STOP = object()
NOT_SHADOWED_BEHIND = "not shadowed: shadow model behind the line"


def shadow_rules(production: DecisionRules, scorer: Scorer) -> DecisionRules:
    """Production's rules with the candidate's own calibrated threshold.

    A candidate's scores are on its own scale, so production's threshold means
    nothing to it; zones, margins and the fail-safe verdict stay the station's.
    """
    return replace(production, threshold=scorer.default_threshold)


class ShadowRunner:
    """Runs a shadow model on its own thread and hands its verdicts to storage.

    Args:
        scorer: The candidate model, loaded.
        rules: Its decision rules (see :func:`shadow_rules`).
        submit: Takes each :class:`ShadowVerdict` (the record writer's
            ``submit_shadow``); must not block.
        queue_size: Parts waiting for the shadow; past it, parts are not shadowed.
        max_batch: Most parts scored together.
        on_alarm: Told once when the shadow falls behind and when its model fails.
        check_lighting: Give a part lit unlike the candidate's good parts the
            fail-safe verdict, as the candidate would in production (the station's
            setting).
    """

    def __init__(
        self,
        scorer: Scorer,
        rules: DecisionRules,
        submit: Callable[[ShadowVerdict], None],
        *,
        queue_size: int = 16,
        max_batch: int = 8,
        on_alarm: Callable[[Alarm], None] | None = None,
        check_lighting: bool = True,
    ) -> None:
        if queue_size < 1 or max_batch < 1:
            msg = f"queue_size and max_batch must be >= 1, got {queue_size} and {max_batch}"
            raise ValueError(msg)
        self.scorer = scorer
        self.rules = rules
        self._submit = submit
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._max_batch = max_batch
        self._on_alarm = on_alarm
        self._lighting = scorer_lighting(scorer) if check_lighting else None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._behind = False
        self.shadowed = 0
        self.not_shadowed = 0

    @property
    def model_version(self) -> str:
        """Version of the shadow model."""
        return self.scorer.version

    def start(self) -> None:
        """Start the shadow thread (once)."""
        if self._thread is not None:
            msg = "ShadowRunner.start() was called twice; create a new one instead"
            raise RuntimeError(msg)
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def offer(self, inspection: Inspection) -> None:
        """Give the shadow a part production has decided; returns at once."""
        if inspection.frame.image.size == 0:
            self._skip(inspection, "not shadowed: the part has no image")
            return
        with self._lock:
            stopped = self._stopped
        if stopped:
            self._skip(inspection, "not shadowed: line stopping")
            return
        try:
            self._queue.put_nowait(inspection)
        except queue.Full:
            if not self._behind:
                self._behind = True
                self._alarm(Severity.WARNING, "shadow model is behind the line: parts not shadowed")
            self._skip(inspection, NOT_SHADOWED_BEHIND)

    def stop(self, timeout: float = 10.0) -> None:
        """Score the parts already queued, then end the thread."""
        with self._lock:
            self._stopped = True
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("shadow model did not finish its queued parts within %.1f s", timeout)

    def _run(self) -> None:
        while True:
            batch, ended = self._next_batch()
            if batch:
                self._score(batch)
            if ended:
                return

    def _next_batch(self) -> tuple[list[Inspection], bool]:
        return take_batch(self._queue, self._max_batch, _STOP)

    def _score(self, batch: list[Inspection]) -> None:
        started = time.perf_counter()
        try:
            outputs = self.scorer.predict([inspection.frame.image for inspection in batch])
        except Exception as exc:  # the shadow drives nothing: a failure is only recorded
            log.exception("shadow model failed")
            self._alarm(Severity.WARNING, f"shadow model failed: {exc}")
            for inspection in batch:
                self._skip(inspection, f"not shadowed: shadow model failed: {exc}")
            return
        per_part_ms = 1000.0 * (time.perf_counter() - started) / len(batch)
        if self._queue.empty():
            self._behind = False  # caught up: the next skip is news again
        for inspection, output in zip(batch, outputs, strict=True):
            verdict, _ = decide(output, self.rules, lighting_fault=self._lighting_fault(inspection))
            with self._lock:
                self.shadowed += 1
            self._hand_on(
                ShadowVerdict(
                    inspection=inspection,
                    model_version=self.scorer.version,
                    verdict=verdict,
                    score=output.score,
                    threshold=self.rules.threshold,
                    inference_ms=per_part_ms,
                )
            )

    def _lighting_fault(self, inspection: Inspection) -> str | None:
        """The candidate's lighting fault of the part, from the grey levels production
        measured (measured here only for a part production did not measure)."""
        lighting, levels = self._lighting, inspection.grey_levels
        if lighting is None:
            return None
        if levels is None:
            return lighting.fault(inspection.frame.image)
        return lighting.fault_of(levels)

    def _skip(self, inspection: Inspection, reason: str) -> None:
        with self._lock:  # offered from the acquisition and inference threads
            self.not_shadowed += 1
        self._hand_on(
            ShadowVerdict(
                inspection=inspection,
                model_version=self.scorer.version,
                verdict=None,
                score=math.nan,
                threshold=math.nan,
                inference_ms=math.nan,
                error=reason,
            )
        )

    def _hand_on(self, verdict: ShadowVerdict) -> None:
        try:
            self._submit(verdict)
        except Exception:  # storage stopped: the shadow must never break the line
            log.exception("shadow verdict of part %s not stored", verdict.inspection.frame.part_id)

    def _alarm(self, severity: Severity, message: str) -> None:
        if self._on_alarm is not None:
            try:
                self._on_alarm(Alarm(severity, "shadow", message))
            except Exception:
                log.exception("alarm handler failed")
