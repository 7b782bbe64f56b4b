"""One inspection station: the threads that move parts from camera to verdict to record.

    acquisition thread ──Frame──▶ bounded queue ──▶ inference thread ──▶ decision
                                                       │
                                                       ├─▶ record writer (its own thread)
                                                       ├─▶ statistics
                                                       └─▶ listeners (the UI bridge's mailbox)

The inference thread never waits on the database or the display: the writer
takes records through a non-blocking ``submit`` and the display reads a
latest-only mailbox filled by a listener.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import numpy as np

from inspector.acquisition.source import FrameDecodeError, FrameSource
from inspector.core.errors import InspectorError, SourceError
from inspector.core.frame import Frame
from inspector.core.inspection import Inspection, ModelOutput
from inspector.decision import DecisionRules, decide
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.part_assembler import PartAssembler
from inspector.pipeline.statistics import LineStatistics, StatsSnapshot

log = logging.getLogger(__name__)

_END = object()
_RECONNECT_S = (0.5, 1.0, 2.0, 5.0)


class Scorer(Protocol):
    """What the station needs from a model: raw scores and maps for a batch."""

    version: str
    device_label: str
    default_threshold: float

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]: ...


class RecordSink(Protocol):
    """Where finished inspections go to be stored (the record writer)."""

    def start(self) -> None: ...

    def submit(self, inspection: Inspection) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


class LineState(StrEnum):
    """What the line is doing, as shown to the operator."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"


class Station:
    """Runs a frame source through a model, the decision rules and the outputs.

    Args:
        open_source: Opens the frame source; called on the acquisition thread so a
            slow camera never blocks the caller.
        scorer: The model (see :class:`Scorer`).
        rules: Decision rules; replace them at run time with :meth:`set_rules`.
        sink: Record writer; started and stopped with the station.
        gate: Reject-gate worker (same start/submit/stop contract); it gets each
            part before the record writer, to keep the gate's latency short.
        station_name: Stored with every record.
        queue_size: Frames waiting for inference. A live source whose frame finds
            the queue full gets that part handled fail-safe and recorded, never
            silently dropped; a replay source waits instead.
        max_batch: Most frames scored together.
        deadline_ms: A part decided later than this after acquisition gets the
            fail-safe verdict (None: no deadline).
        max_parts: Stop after this many parts (None: until the source ends); with
            several cameras a part is one frame from each.
        listeners: Called on the inference thread with every inspection; must be quick.
        reconnect: When a live source (camera) that was running fails, raise an
            alarm and reopen it with backoff until it is back or the line stops.
        serial_reader: Reads the part's serial from its image on the acquisition
            thread (traceability); None leaves serials empty.
    """

    def __init__(
        self,
        open_source: Callable[[], FrameSource],
        scorer: Scorer,
        rules: DecisionRules,
        *,
        sink: RecordSink | None = None,
        gate: RecordSink | None = None,
        station_name: str = "station-1",
        queue_size: int = 32,
        max_batch: int = 8,
        deadline_ms: float | None = None,
        max_parts: int | None = None,
        listeners: Sequence[Callable[[Inspection], None]] = (),
        on_alarm: Callable[[Alarm], None] | None = None,
        reconnect: bool = True,
        serial_reader: Callable[[np.ndarray], str | None] | None = None,
    ) -> None:
        if queue_size < 1 or max_batch < 1:
            msg = f"queue_size and max_batch must be >= 1, got {queue_size} and {max_batch}"
            raise ValueError(msg)
        self._open_source = open_source
        self._scorer = scorer
        self._rules = rules
        self._sink = sink
        self._gate = gate
        self.station_name = station_name
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._max_batch = max_batch
        self._deadline_ms = deadline_ms
        self._max_parts = max_parts
        self._listeners = list(listeners)
        self._on_alarm = on_alarm
        self.statistics = LineStatistics()
        self.alarms: deque[Alarm] = deque(maxlen=200)
        self.source_name = ""
        self._state = LineState.IDLE
        self._stop = threading.Event()
        self._running = threading.Event()
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reconnect = reconnect
        self._assembler: PartAssembler | None = None
        self.views = 1
        self._serial_reader = serial_reader
        self._source_live = False
        self._taken = 0
        self._part_offset = 0
        self._next_part_id = 0

    # -- control -----------------------------------------------------------------

    @property
    def state(self) -> LineState:
        """Current state of the line."""
        return self._state

    @property
    def rules(self) -> DecisionRules:
        """Rules applied to the next part."""
        return self._rules

    @property
    def device_label(self) -> str:
        """Where inference runs, for the status bar."""
        return self._scorer.device_label

    def set_rules(self, rules: DecisionRules) -> None:
        """Apply new rules from the next part on (no model change needed)."""
        self._rules = rules

    def start(self) -> None:
        """Start the threads; returns at once."""
        if self._threads:
            msg = "a station can be started once; build a new one to run again"
            raise RuntimeError(msg)
        self._state = LineState.STARTING
        self._running.set()
        for output in (self._gate, self._sink):
            if output is not None:
                output.start()
        self._threads = [
            threading.Thread(target=self._acquire, name="acquisition", daemon=True),
            threading.Thread(target=self._infer, name="inference", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def pause(self) -> None:
        """Stop taking new frames; parts already queued are still inspected."""
        if self._state is LineState.RUNNING:
            self._running.clear()
            self._state = LineState.PAUSED

    def resume(self) -> None:
        """Take frames again after :meth:`pause`."""
        if self._state is LineState.PAUSED:
            self._state = LineState.RUNNING
            self._running.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop acquisition, finish the queued parts, flush the records, join threads."""
        if self._state not in (LineState.FINISHED, LineState.FAILED):
            self._state = LineState.STOPPING
        self._stop.set()
        self._running.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._assembler is not None:
            self._assembler.flush()
        for name in ("_gate", "_sink"):
            output = getattr(self, name)
            if output is None:
                continue
            setattr(self, name, None)
            try:
                output.stop(max(1.0, deadline - time.monotonic()))
            except InspectorError as exc:  # e.g. records still unwritten: say so, don't crash
                self.raise_alarm(Severity.ERROR, "storage" if name == "_sink" else "gate", str(exc))
        if self._state is LineState.STOPPING:
            self._state = LineState.FINISHED

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source is exhausted and every part is decided."""
        return self._done.wait(timeout)

    def snapshot(self) -> StatsSnapshot:
        """Figures for the display and the summary."""
        return self.statistics.snapshot()

    @property
    def queue_depth(self) -> int:
        """Frames waiting for inference now."""
        return self._queue.qsize()

    # -- acquisition thread -------------------------------------------------------

    def _acquire(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    with self._open_source() as source:
                        self.source_name = source.name
                        self._source_live = source.live
                        self._join_views(getattr(source, "views", 1))
                        if self._state is LineState.STARTING:
                            self._state = LineState.RUNNING
                        if failures:
                            self.raise_alarm(Severity.WARNING, "camera", f"{source.name} is back")
                            failures = 0
                        self._part_offset = self._next_part_id
                        self._pump(source)
                        return
                except SourceError as exc:
                    if not (self._reconnect and self._source_live):
                        self.raise_alarm(Severity.ERROR, "camera", str(exc))
                        self._state = LineState.FAILED
                        return
                    if failures == 0:
                        self.raise_alarm(Severity.ERROR, "camera", f"{exc}; reconnecting")
                    delay = _RECONNECT_S[min(failures, len(_RECONNECT_S) - 1)]
                    failures += 1
                    if self._stop.wait(delay):
                        return
        except Exception as exc:  # a source bug must not kill the app silently
            log.exception("frame source failed")
            self.raise_alarm(Severity.ERROR, "camera", f"frame source failed: {exc}")
            self._state = LineState.FAILED
        finally:
            self._queue.put(_END)

    def _join_views(self, views: int) -> None:
        """With several cameras per part, the gate gets each part once: its worst view."""
        self.views = views
        if views > 1 and self._gate is not None and self._assembler is None:
            self._assembler = PartAssembler(
                views, self._gate.submit, fail_safe=self._rules.fail_safe
            )

    def _pump(self, source: FrameSource) -> None:
        """Move frames from ``source`` to the queue until it ends, the limit, or stop.

        After a reconnect, part ids continue from where the lost source left off.
        """
        iterator = iter(source)
        while not self._stop.is_set():
            if self._max_parts is not None and self._taken >= self._max_parts * self.views:
                return
            self._running.wait()
            if self._stop.is_set():
                return
            try:
                frame = next(iterator)
            except StopIteration:
                return
            except FrameDecodeError as exc:
                self._taken += 1
                self.raise_alarm(Severity.WARNING, "camera", str(exc))
                placeholder = self._prepare_frame(_placeholder(exc))
                self._emit(self._fail_safe(placeholder, f"unreadable image: {exc}"))
                continue
            self._taken += 1
            self._enqueue(self._prepare_frame(frame), live=source.live)

    def _prepare_frame(self, frame: Frame) -> Frame:
        """Continue part ids after a reconnect and attach the part's serial if read."""
        changes: dict = {}
        if self._part_offset:
            changes["part_id"] = frame.part_id + self._part_offset
        if self._serial_reader is not None and frame.serial is None:
            changes["serial"] = self._serial_reader(frame.image)
        if changes:
            frame = replace(frame, **changes)
        self._next_part_id = frame.part_id + 1
        return frame

    def _enqueue(self, frame: Frame, *, live: bool) -> None:
        if not live:
            while not self._stop.is_set():
                try:
                    self._queue.put(frame, timeout=0.1)
                    return
                except queue.Full:
                    continue
            self._emit(self._fail_safe(frame, "not inspected: line stopped"))
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.raise_alarm(
                Severity.WARNING, "inference", "inference is behind: part handled fail-safe"
            )
            self._emit(self._fail_safe(frame, "not inspected: inference queue full"))

    # -- inference thread ---------------------------------------------------------

    def _infer(self) -> None:
        try:
            while True:
                batch, ended = self._next_batch()
                if batch:
                    self._inspect(batch)
                if ended:
                    break
        finally:
            if self._state in (LineState.RUNNING, LineState.PAUSED, LineState.STARTING):
                self._state = LineState.FINISHED
            self._done.set()

    def _next_batch(self) -> tuple[list[Frame], bool]:
        first = self._queue.get()
        if first is _END:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _END:
                return batch, True
            batch.append(item)
        return batch, False

    def _inspect(self, batch: list[Frame]) -> None:
        rules = self._rules
        started = time.perf_counter()
        try:
            outputs = self._scorer.predict([frame.image for frame in batch])
        except Exception as exc:  # a model failure is a fail-safe part, not a crash
            log.exception("inference failed")
            self.raise_alarm(Severity.ERROR, "inference", f"inference failed: {exc}")
            for frame in batch:
                self._emit(self._fail_safe(frame, f"not inspected: inference failed: {exc}"))
            return
        per_part_ms = 1000.0 * (time.perf_counter() - started) / len(batch)
        now = time.monotonic()
        for frame, output in zip(batch, outputs, strict=True):
            latency_ms = 1000.0 * (now - frame.timestamp)
            if self._deadline_ms is not None and latency_ms > self._deadline_ms:
                late = (
                    f"late: decided after {latency_ms:.0f} ms > deadline {self._deadline_ms:.0f} ms"
                )
                self._emit(self._fail_safe(frame, late, output=output, latency_ms=latency_ms))
                continue
            verdict, defects = decide(output, rules)
            self._emit(
                Inspection(
                    frame=frame,
                    verdict=verdict,
                    score=output.score,
                    threshold=rules.threshold,
                    defects=defects,
                    anomaly_map=output.anomaly_map,
                    model_version=self._scorer.version,
                    rules_version=rules.version,
                    inference_ms=per_part_ms,
                    latency_ms=latency_ms,
                )
            )

    # -- outputs -------------------------------------------------------------------

    def _fail_safe(
        self,
        frame: Frame,
        reason: str,
        *,
        output: ModelOutput | None = None,
        latency_ms: float | None = None,
    ) -> Inspection:
        rules = self._rules
        if latency_ms is None:
            latency_ms = 1000.0 * (time.monotonic() - frame.timestamp)
        return Inspection(
            frame=frame,
            verdict=rules.fail_safe,
            score=output.score if output is not None else math.nan,
            threshold=rules.threshold,
            defects=(),
            anomaly_map=output.anomaly_map if output is not None else None,
            model_version=self._scorer.version,
            rules_version=rules.version,
            inference_ms=0.0,
            latency_ms=latency_ms,
            error=reason,
        )

    def _emit(self, inspection: Inspection) -> None:
        if self._assembler is not None:
            self._assembler.add(inspection)
        elif self._gate is not None:
            self._gate.submit(inspection)
        self.statistics.record(inspection)
        if self._sink is not None:
            self._sink.submit(inspection)
        for listener in self._listeners:
            try:
                listener(inspection)
            except Exception:
                log.exception("inspection listener failed")

    def raise_alarm(self, severity: Severity, source: str, message: str) -> None:
        """Log an alarm, keep it for the display and pass it to the alarm handler."""
        alarm = Alarm(severity, source, message)
        log.warning("%s", alarm)
        self.alarms.append(alarm)
        if self._on_alarm is not None:
            try:
                self._on_alarm(alarm)
            except Exception:
                log.exception("alarm handler failed")


def _placeholder(error: FrameDecodeError) -> Frame:
    """A pixel-less frame standing for a part whose image could not be read."""
    return Frame(
        image=np.zeros((0, 0, 3), dtype=np.uint8),
        camera_id="",
        part_id=error.part_id,
        timestamp=time.monotonic(),
        captured_at=datetime.now(UTC),
        origin=error.origin,
    )
