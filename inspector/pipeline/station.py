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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import numpy as np

from inspector.acquisition.source import FrameDecodeError, FrameSource
from inspector.core.errors import InspectorError, SourceError
from inspector.core.frame import Frame
from inspector.core.inspection import Inspection, ModelOutput
from inspector.decision import DecisionRules, decide
from inspector.decision.decide import lighting_overrides
from inspector.ml.lighting import LightingRange, grey_levels, scorer_lighting
from inspector.pipeline.alarm_latch import AlarmLatch
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.batching import take_batch
from inspector.pipeline.missed_parts import MissedParts, not_captured
from inspector.pipeline.part_assembler import PartAssembler
from inspector.pipeline.statistics import LineStatistics, StatsSnapshot

log = logging.getLogger(__name__)

_END = object()
_RECONNECT_S = (0.5, 1.0, 2.0, 5.0)
OVERFLOW_REASON = "not inspected: inference queue full"
STOPPED_REASON = "not inspected: the line stopped before its turn"
_OVERFLOW_IMAGES_PER_SLOT = 4
"""Parts that found inference full keep their images for their records up to this many
times ``queue_size`` at once; past it (inference stalled) they are recorded without
pixels, so a stalled model cannot fill the memory with camera frames."""
_MAX_DROPPED_RECORDED = 1000
"""A larger gap in a live camera's part ids is not taken for dropped parts (a restarted
numbering, say): it is an alarm, not a thousand records."""
_ABANDON_GRACE_S = 5.0
"""How long a stop past its deadline waits for the inference thread to finish the batch
it holds and record the queued parts as not inspected."""


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


class ShadowSink(Protocol):
    """A candidate model beside production (:class:`inspector.pipeline.shadow.ShadowRunner`).

    ``offer`` must never block: the shadow drives nothing and must not slow the line.
    """

    def start(self) -> None: ...

    def offer(self, inspection: Inspection) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


class Service(Protocol):
    """A helper thread that lives as long as the line (the deployment watcher)."""

    def start(self) -> None: ...

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
            silently dropped, and in its turn, so the gate still gets the parts in
            order; a replay source waits instead.
        max_batch: Most frames scored together.
        deadline_ms: A part decided later than this after acquisition gets the
            fail-safe verdict (None: no deadline).
        max_parts: Stop after this many parts (None: until the source ends); with
            several cameras a part is one frame from each.
        listeners: Called on the inference thread with every inspection; must be quick.
        reconnect: When a live source (camera) that was running fails, raise an
            alarm and reopen it with backoff until it is back or the line stops.
        serial_reader: Reads the part's serial on the acquisition thread as the
            part is acquired (QR code in the image, PLC registers, a counter);
            None leaves serials empty. When it raises an InspectorError the part
            goes on without a serial and one alarm says so until reads work again.
        missed_parts: Times camera outages and, with the PLC's part counter,
            records each part counted but not acquired as not inspected.
        shadow: A candidate model that gets every part after production's verdict
            went to the gate and the record writer (shadow mode); None: no shadow.
        services: Helpers started after the threads and stopped first.
        check_lighting: Send frames lit unlike the model's good parts (a scorer's
            ``lighting``, :mod:`inspector.ml.lighting`) to the fail-safe bin with an
            alarm; false judges them like any other (models without a range are
            never checked).
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
        missed_parts: MissedParts | None = None,
        shadow: ShadowSink | None = None,
        services: Sequence[Service] = (),
        check_lighting: bool = True,
    ) -> None:
        if queue_size < 1 or max_batch < 1:
            msg = f"queue_size and max_batch must be >= 1, got {queue_size} and {max_batch}"
            raise ValueError(msg)
        self._open_source = open_source
        self._scorer = scorer
        self._rules = rules
        self._shadow = shadow
        self._services = tuple(services)
        # A model swap waits here until the inference thread is between two batches.
        self._swap_lock = threading.Lock()
        self._pending_swap: tuple[Scorer, DecisionRules | None] | None = None
        self._sink = sink
        self._gate = gate
        self.station_name = station_name
        # Unbounded, so acquisition never blocks on it: the bound is on the frames it
        # holds for inference (``_slots``); a part that finds none free waits there as
        # _NotInspected, pixels kept for its record, to be recorded fail-safe in its turn.
        self._queue: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(queue_size)
        self._overflow_images = threading.Semaphore(_OVERFLOW_IMAGES_PER_SLOT * queue_size)
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
        self._abandon = threading.Event()
        self._sink_stopped = False
        self._in_hand: list[Frame] = []
        self._emitting: Inspection | None = None
        self._threads: list[threading.Thread] = []
        self._reconnect = reconnect
        self._assembler: PartAssembler | None = None
        self.views = 1
        self._serial_reader = serial_reader
        self._serial_alarm = AlarmLatch(self.raise_alarm, "traceability")
        self.missed_parts = missed_parts if missed_parts is not None else MissedParts()
        self._counter_alarm = AlarmLatch(self.raise_alarm, "part counter")
        self._lighting_alarms: dict[str, AlarmLatch] = {}
        self._check_lighting = check_lighting
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

    @property
    def model_version(self) -> str:
        """Version of the model scoring parts now."""
        return self._scorer.version

    def set_rules(self, rules: DecisionRules) -> None:
        """Apply new rules from the next part on (no model change needed)."""
        self._rules = rules

    def swap_scorer(self, scorer: Scorer, *, rules: DecisionRules | None = None) -> None:
        """Switch the model (and, with it, the rules) between two batches, without stopping.

        The inference thread takes the new model before its next batch: the
        batch being scored finishes with the old one, no part waits for the
        load or is scored twice, counters go on, and each record names the
        version that scored it. Load ``scorer`` before calling (off the
        inference thread): a model is never loaded while parts wait.

        Args:
            scorer: The new model, loaded.
            rules: Rules to apply from the same part on (e.g. the new model's
                calibrated threshold); ``None`` keeps the rules in force.
        """
        with self._swap_lock:
            self._pending_swap = (scorer, rules)
        if not any(thread.is_alive() for thread in self._threads):
            self._take_swap()  # not running: take it now, so what the station reports is true

    def start(self) -> None:
        """Start the threads; returns at once."""
        if self._threads:
            msg = "a station can be started once; build a new one to run again"
            raise RuntimeError(msg)
        self._state = LineState.STARTING
        self._running.set()
        for output in (self._gate, self._sink, self._shadow):
            if output is not None:
                output.start()
        self._threads = [
            threading.Thread(target=self._acquire, name="acquisition", daemon=True),
            threading.Thread(target=self._infer, name="inference", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        for service in self._services:
            service.start()

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
        for service in self._services:
            service.stop(timeout)
        self._services = ()
        self._stop.set()
        self._running.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._settle_unfinished()
        if self._assembler is not None:
            self._assembler.flush()
        if self._shadow is not None:  # before the writer: it stores the shadow's verdicts
            self._shadow.stop(max(1.0, deadline - time.monotonic()))
            self._shadow = None
        for name in ("_gate", "_sink"):
            output = getattr(self, name)
            if output is None:
                continue
            setattr(self, name, None)
            self._sink_stopped = self._sink_stopped or name == "_sink"
            try:
                output.stop(max(1.0, deadline - time.monotonic()))
            except InspectorError as exc:  # e.g. records still unwritten: say so, don't crash
                self.raise_alarm(Severity.ERROR, "storage" if name == "_sink" else "gate", str(exc))
        if self._state is LineState.STOPPING:
            self._state = LineState.FINISHED

    def _settle_unfinished(self) -> None:
        """Past the stop's deadline, the parts still queued go to the fail-safe bin,
        recorded, while the gate and the records still take them.

        The inference thread finishes the batch it holds, then records each queued
        part as not inspected; only a thread that does not even finish its batch in
        :data:`_ABANDON_GRACE_S` leaves parts unaccounted for, and that is an alarm.
        """
        inference = self._thread("inference")
        if inference is not None and inference.is_alive():
            self._abandon.set()
            self._queue.put(_END)  # wakes a thread waiting on an empty queue
            inference.join(_ABANDON_GRACE_S)
        if inference is not None and inference.is_alive():
            self.raise_alarm(
                Severity.ERROR,
                "inference",
                f"inspection did not stop within {_ABANDON_GRACE_S:.0f} s of the deadline: "
                "the parts it still holds may be neither signalled nor stored; check the "
                "last parts by hand",
            )
            return
        self._record_left_over(STOPPED_REASON)
        acquisition = self._thread("acquisition")
        if acquisition is not None and acquisition.is_alive():
            self.raise_alarm(
                Severity.ERROR,
                "camera",
                f"{self.source_name or 'the camera'} did not stop by the deadline: a part it "
                "still delivers is not recorded; check the last parts by hand",
            )

    def _thread(self, name: str) -> threading.Thread | None:
        """The station's ``"acquisition"`` or ``"inference"`` thread (``None`` before start)."""
        return next((t for t in self._threads if t.name == name), None)

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
                            outage = self.missed_parts.camera_back()
                            back = f"{source.name} is back" + (
                                f" ({outage.describe()})" if outage else ""
                            )
                            self.raise_alarm(Severity.WARNING, "camera", back)
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
                        self.missed_parts.camera_down(self.snapshot().parts_per_s)
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
            self._account_missed(final=True)
            self._close_readers()
            self._queue.put(_END)

    def _join_views(self, views: int) -> None:
        """With several cameras per part, the gate and the operator's counts get each part
        once: its worst view (the records keep every view)."""
        self.views = views
        if views > 1 and self._assembler is None:
            self._assembler = PartAssembler(
                views, self._decided_part, fail_safe=self._rules.fail_safe
            )

    def _decided_part(self, inspection: Inspection) -> None:
        """A part's deciding inspection (its only one with one camera): to the gate, counted."""
        gate = self._gate
        if gate is not None:
            gate.submit(inspection)
        self.statistics.record(inspection)

    def _pump(self, source: FrameSource) -> None:
        """Move frames from ``source`` to the queue until it ends, the limit, or stop.

        After a reconnect, part ids continue from where the lost source left off.
        """
        iterator = iter(source)
        while not self._stop.is_set():
            if self._max_parts is not None and self._taken >= self._max_parts * self.views:
                return
            paused = not self._running.is_set()  # frames a camera drops meanwhile are no loss
            self._running.wait()
            if self._stop.is_set():
                return
            try:
                frame = next(iterator)
            except StopIteration:
                return
            except FrameDecodeError as exc:
                self._account_missed()
                self._taken += 1
                self.raise_alarm(Severity.WARNING, "camera", str(exc))
                placeholder = self._prepare_frame(_placeholder(exc))
                self._queue.put(_NotInspected(placeholder, f"unreadable image: {exc}"))
                continue
            self._account_missed()
            self._taken += 1
            expected = self._next_part_id
            frame = self._prepare_frame(frame)
            if source.live and not paused:
                self._account_dropped(expected, frame)
            self._enqueue(frame, live=source.live)

    def _account_dropped(self, expected: int, frame: Frame) -> None:
        """Record the parts whose frames a live camera dropped (a gap in its part ids) as
        not inspected, in their turn, with an alarm: their verdicts must reach the gate.

        With several views a part's ids are the assembler's, and with a part counter the
        counter accounts for every part, so neither is checked here.
        """
        arrived = frame.part_id
        if arrived <= expected or self.views > 1 or self.missed_parts.has_counter:
            return
        if arrived - expected > _MAX_DROPPED_RECORDED:
            self.raise_alarm(
                Severity.ERROR,
                "camera",
                f"{self.source_name} skipped part ids {expected}-{arrived - 1}: too many to be "
                "parts dropped in passing, so they are not recorded; check the camera",
            )
            return
        reason = "not inspected: the camera dropped its frame (frames were taken too slowly)"
        for part_id in range(expected, arrived):
            # The arriving frame's time: a part-blind gate then knows how late these are.
            missed = not_captured(part_id, origin="camera", timestamp=frame.timestamp)
            self._queue.put(_NotInspected(missed, reason))
        missing = (
            f"part {expected}" if arrived == expected + 1 else f"parts {expected}-{arrived - 1}"
        )
        self.raise_alarm(
            Severity.WARNING,
            "camera",
            f"{self.source_name} dropped {arrived - expected} frame(s): {missing} recorded "
            "fail-safe as not inspected",
        )

    def _account_missed(self, *, final: bool = False) -> None:
        """Record parts the part counter counted but no frame came for (fail-safe).

        Called as each new part's first view arrives (and once when acquisition
        ends), so the missed parts take the part ids before it.
        """
        if not self.missed_parts.has_counter or (self._taken % self.views and not final):
            return
        acquired = -(-self._taken // self.views) + (0 if final else 1)
        try:
            missing, reason = self.missed_parts.settle(acquired, final=final)
        except InspectorError as exc:
            self._counter_alarm.failed(f"{exc}; parts are not checked against the counter")
            return
        self._counter_alarm.ok("part counter readable again")
        if final and self.missed_parts.surplus:
            self.raise_alarm(
                Severity.WARNING,
                "part counter",
                f"{self.missed_parts.surplus} more parts were acquired than the part counter "
                f"counted: check that {self.missed_parts.counter.name} counts this camera's "
                "triggers",
            )
        for _ in range(missing):
            for _view in range(self.views):
                self._queue.put(_NotInspected(not_captured(self._next_part_id), reason))
            self._next_part_id += 1
            self._part_offset += 1

    def _read_serial(
        self, reader: Callable[[np.ndarray], str | None], image: np.ndarray
    ) -> str | None:
        """The part's serial; a failed read leaves it empty and raises one alarm."""
        try:
            serial = reader(image)
        except InspectorError as exc:
            self._serial_alarm.failed(f"{exc}; parts go on without serials until it answers")
            return None
        self._serial_alarm.ok("serials are read again")
        return serial

    def _close_readers(self) -> None:
        """Release the PLC connections the acquisition thread used."""
        for device in (self._serial_reader, self.missed_parts.counter):
            close = getattr(device, "close", None)
            if close is not None:
                close()

    def _prepare_frame(self, frame: Frame) -> Frame:
        """Continue part ids after a reconnect and attach the part's serial if read."""
        changes: dict = {}
        if self._part_offset:
            changes["part_id"] = frame.part_id + self._part_offset
        if self._serial_reader is not None and frame.serial is None:
            changes["serial"] = self._read_serial(self._serial_reader, frame.image)
        if changes:
            frame = replace(frame, **changes)
        self._next_part_id = frame.part_id + 1
        return frame

    def _enqueue(self, frame: Frame, *, live: bool) -> None:
        if not live:
            while not self._stop.is_set():
                if self._slots.acquire(timeout=0.1):
                    self._queue.put(frame)
                    return
            self._queue.put(_NotInspected(frame, STOPPED_REASON))
            return
        if self._slots.acquire(blocking=False):
            self._queue.put(frame)
            return
        self.raise_alarm(
            Severity.WARNING, "inference", "inference is behind: part handled fail-safe"
        )
        if self._overflow_images.acquire(blocking=False):
            self._queue.put(_NotInspected(frame, OVERFLOW_REASON, holds_image=True))
        else:  # inference has stalled: keep the part's record, not its pixels
            blank = replace(frame, image=np.zeros((0, 0, 3), np.uint8))
            self._queue.put(_NotInspected(blank, f"{OVERFLOW_REASON} (image not kept)"))

    # -- inference thread ---------------------------------------------------------

    def _infer(self) -> None:
        try:
            while True:
                if self._abandon.is_set():
                    self._drain_fail_safe(STOPPED_REASON)
                    break
                batch, ended = self._next_batch()
                self._inspect_in_turn(batch)
                if ended:
                    break
        except Exception as exc:  # e.g. the records refused a part: stop, but lose nothing
            log.exception("inspection failed")
            self._state = LineState.FAILED
            self.raise_alarm(
                Severity.ERROR,
                "inference",
                f"inspection stopped: {exc}; the parts still queued go to the fail-safe bin",
            )
            self._stop.set()
            self._running.set()
            in_hand, self._in_hand = list(self._in_hand), []
            failed = self._emitting
            if failed is not None:  # the part being passed on when it failed
                self._say_unstored(1, f" (part {failed.frame.part_id})")
            self._drain_fail_safe(f"not inspected: inspection stopped: {exc}", in_hand)
        finally:
            if self._state in (LineState.RUNNING, LineState.PAUSED, LineState.STARTING):
                self._state = LineState.FINISHED
            self._done.set()

    def _inspect_in_turn(self, batch: list[Frame | _NotInspected]) -> None:
        """Inspect the batch's frames and record its parts not to inspect, in part order.

        ``_in_hand`` holds the batch's frames not passed on yet, so a failure part way
        through leaves them to be recorded fail-safe, not lost.
        """
        self._in_hand = [i.frame if isinstance(i, _NotInspected) else i for i in batch]
        frames: list[Frame] = []
        for item in batch:
            if isinstance(item, _NotInspected):
                if frames:
                    self._inspect(frames)
                    frames = []
                self._emit(self._unqueued_fail_safe(item, item.reason))
            else:
                self._slots.release()
                frames.append(item)
        if frames:
            self._inspect(frames)

    def _unqueued_fail_safe(self, item: Frame | _NotInspected, reason: str) -> Inspection:
        """A queued part recorded without inspection (one never meant for it says why)."""
        if isinstance(item, _NotInspected):
            if item.holds_image:
                self._overflow_images.release()
            return self._fail_safe(item.frame, item.reason)
        self._slots.release()
        return self._fail_safe(item, reason)

    def _drain_fail_safe(self, reason: str, in_hand: Sequence[Frame] = ()) -> None:
        """Record every part still queued (after ``in_hand``, taken out already) as a
        fail-safe part, until acquisition ends.

        Nothing is silently lost: a part that cannot even be stored is counted in an
        alarm (its verdict still reached the gate, which comes first).
        """
        acquisition = self._thread("acquisition")
        unstored = sum(not self._try_emit(self._fail_safe(frame, reason)) for frame in in_hand)
        while True:
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:  # stopping: whatever comes later, stop() sweeps up
                if acquisition is None or not acquisition.is_alive() or self._stop.is_set():
                    break
                continue
            if item is _END:
                break
            unstored += not self._try_emit(self._unqueued_fail_safe(item, reason))
        self._say_unstored(unstored)

    def _record_left_over(self, reason: str) -> None:
        """Record what is left in the queue once the inference thread has ended."""
        unstored = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _END:
                unstored += not self._try_emit(self._unqueued_fail_safe(item, reason))
        self._say_unstored(unstored)

    def _try_emit(self, inspection: Inspection) -> bool:
        """:meth:`_emit`, False (logged) when the part could not be passed on in full."""
        try:
            self._emit(inspection)
        except Exception:
            log.exception("part %s could not be recorded", inspection.frame.part_id)
            return False
        return True

    def _say_unstored(self, count: int, which: str = "") -> None:
        if count:
            self.raise_alarm(
                Severity.ERROR,
                "storage",
                f"{count} part(s){which} decided but not stored (the gate had their "
                "verdicts): check the last parts by hand",
            )

    def _next_batch(self) -> tuple[list[Frame | _NotInspected], bool]:
        return take_batch(self._queue, self._max_batch, _END)

    def _take_swap(self) -> None:
        """Apply a pending :meth:`swap_scorer` (on the inference thread, between batches)."""
        with self._swap_lock:
            pending, self._pending_swap = self._pending_swap, None
        if pending is None:
            return
        scorer, rules = pending
        old = self._scorer.version
        self._scorer = scorer
        if rules is not None:
            self._rules = rules
        log.info("model switched from %s to %s", old, scorer.version)

    def _inspect(self, batch: list[Frame]) -> None:
        self._take_swap()
        scorer = self._scorer
        rules = self._rules
        started = time.perf_counter()
        try:
            outputs = scorer.predict([frame.image for frame in batch])
            if len(outputs) != len(batch):
                msg = f"the model returned {len(outputs)} results for {len(batch)} images"
                raise RuntimeError(msg)
        except Exception as exc:  # a model failure is a fail-safe part, not a crash
            log.exception("inference failed")
            self.raise_alarm(Severity.ERROR, "inference", f"inference failed: {exc}")
            for frame in batch:
                reason = f"not inspected: inference failed: {exc}"
                self._emit(self._fail_safe(frame, reason, grey_levels=_measured(frame)))
            return
        per_part_ms = 1000.0 * (time.perf_counter() - started) / len(batch)
        now = time.monotonic()
        lighting = scorer_lighting(scorer) if self._check_lighting else None
        for frame, output in zip(batch, outputs, strict=True):
            try:
                inspection = self._judge(frame, output, (scorer, rules), lighting, per_part_ms, now)
            except Exception as exc:  # a rule or lighting bug must not lose the part
                log.exception("deciding part %s failed", frame.part_id)
                self.raise_alarm(
                    Severity.ERROR,
                    "inference",
                    f"deciding part {frame.part_id} failed: {exc}; it goes to the fail-safe bin",
                )
                reason = f"not inspected: deciding failed: {exc}"
                inspection = self._fail_safe(frame, reason, output=output)
            self._emit(inspection)

    def _judge(
        self,
        frame: Frame,
        output: ModelOutput,
        judged_by: tuple[Scorer, DecisionRules],
        lighting: LightingRange | None,
        per_part_ms: float,
        now: float,
    ) -> Inspection:
        """The part's inspection from the model's output: late, not lit as taught, or decided
        (by the batch's model and rules, ``judged_by``)."""
        scorer, rules = judged_by
        latency_ms = 1000.0 * (now - frame.timestamp)
        levels = _measured(frame)
        measured = {"output": output, "latency_ms": latency_ms, "grey_levels": levels}
        if self._deadline_ms is not None and latency_ms > self._deadline_ms:
            late = f"late: decided after {latency_ms:.0f} ms > deadline {self._deadline_ms:.0f} ms"
            return self._fail_safe(frame, late, **measured)
        fault = self._lighting_fault(lighting, frame, levels)
        verdict, defects = decide(output, rules)
        if fault is not None and lighting_overrides(verdict, rules):
            # Not judged; a part the model rejects anyway stays rejected, with its defects.
            return self._fail_safe(frame, f"not inspected: {fault}", **measured)
        return Inspection(
            frame=frame,
            verdict=verdict,
            score=output.score,
            threshold=rules.threshold,
            defects=defects,
            anomaly_map=output.anomaly_map,
            model_version=scorer.version,
            rules_version=rules.version,
            inference_ms=per_part_ms,
            latency_ms=latency_ms,
            grey_levels=levels,
        )

    def _lighting_fault(
        self,
        lighting: LightingRange | None,
        frame: Frame,
        levels: tuple[float, float] | None,
    ) -> str | None:
        """Why ``frame`` is lit unlike the model's good parts, or ``None``; one alarm per
        camera while it lasts, cleared when that camera's frames are back in range.

        A model that standardises exposure would judge such a frame as if lit right,
        and one that does not would reject good parts for their lighting: either way
        the part is not judged (fail-safe, unless the model rejects it anyway) and
        the operator hears why.
        """
        if lighting is None:
            # The model in use keeps no range (or the check is off): clear what an earlier
            # model raised, or a later one's faults would go unannounced.
            for camera, latch in self._lighting_alarms.items():
                why = "the model in use keeps no lighting range"
                latch.ok(f"lighting no longer checked on camera {camera}: {why}")
            return None
        if levels is None:
            return None
        latch = self._lighting_alarms.get(frame.camera_id)
        if latch is None:
            source = "lighting" if self.views == 1 else f"lighting, camera {frame.camera_id}"
            latch = self._lighting_alarms[frame.camera_id] = AlarmLatch(self.raise_alarm, source)
        fault = lighting.fault_of(levels)
        if fault is None:
            latch.ok("lighting is back within what the model learnt from")
        else:
            latch.failed(f"{fault}; parts go to the fail-safe bin until it is back")
        return fault

    # -- outputs -------------------------------------------------------------------

    def _fail_safe(
        self,
        frame: Frame,
        reason: str,
        *,
        output: ModelOutput | None = None,
        latency_ms: float | None = None,
        grey_levels: tuple[float, float] | None = None,
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
            grey_levels=grey_levels,
        )

    def _emit(self, inspection: Inspection) -> None:
        if self._in_hand and self._in_hand[0].part_id == inspection.frame.part_id:
            self._in_hand.pop(0)  # passed on (or failing now: then named, not retried)
        self._emitting = inspection
        self._pass_on(inspection)
        self._emitting = None

    def _pass_on(self, inspection: Inspection) -> None:
        if self._assembler is not None:
            self._assembler.add(inspection)
        else:
            self._decided_part(inspection)
        sink = self._sink
        if sink is not None:
            sink.submit(inspection)
        elif self._sink_stopped:
            self.raise_alarm(
                Severity.ERROR,
                "storage",
                f"part {inspection.frame.part_id} ({inspection.verdict.value}) was decided "
                "after its records had stopped: it is not stored",
            )
        shadow = self._shadow
        if shadow is not None:
            shadow.offer(inspection)
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


@dataclass(frozen=True)
class _NotInspected:
    """A part that will not be inspected (no room for inference, or the line stopped),
    queued all the same so that it is recorded fail-safe in its turn."""

    frame: Frame
    reason: str
    holds_image: bool = False  # one of the overflow images kept (``_OVERFLOW_IMAGES_PER_SLOT``)


def _measured(frame: Frame) -> tuple[float, float] | None:
    """The frame's grey levels (stored with its record, checked against the model's
    taught lighting); ``None`` for a frame without usable pixels."""
    if frame.image.size == 0:
        return None
    try:
        return grey_levels(frame.image)
    except ValueError:  # not RGB: the model said so already; never stop the line for it
        return None


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
