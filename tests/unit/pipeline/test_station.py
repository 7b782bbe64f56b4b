import re
import threading
import time

import numpy as np
import pytest

from inspector.core import ModelOutput, Verdict
from inspector.core.errors import SourceError, StorageError
from inspector.decision import DecisionRules
from inspector.pipeline.alarms import Severity
from inspector.pipeline.station import LineState, Station
from tests.unit.pipeline.helpers import ContrastScorer, ListSink, ListSource, part

RULES = DecisionRules(0.5, review_margin=0.0, min_defect_area_px=4)


def run_to_end(station: Station, timeout: float = 10.0) -> None:
    station.start()
    assert station.wait(timeout), "station did not finish"
    station.stop()


def test_every_part_is_decided_recorded_and_counted():
    images = [part(defect=i % 3 == 0) for i in range(30)]
    sink = ListSink()
    station = Station(lambda: ListSource(images), ContrastScorer(), RULES, sink=sink, max_batch=4)
    run_to_end(station)
    assert sink.started and sink.stopped
    assert [i.frame.part_id for i in sink.items] == list(range(30))
    for inspection in sink.items:
        expected = Verdict.REJECT if inspection.frame.part_id % 3 == 0 else Verdict.ACCEPT
        assert inspection.verdict is expected
        assert inspection.threshold == 0.5
        assert inspection.rules_version == RULES.version
        assert inspection.model_version == "contrast-1"
    rejected = [i for i in sink.items if i.verdict is Verdict.REJECT]
    assert all(i.defects[0].box == (10, 10, 6, 6) for i in rejected)
    snap = station.snapshot()
    assert (snap.inspected, snap.rejected, snap.accepted) == (30, 10, 20)
    assert station.state is LineState.FINISHED


def test_parts_are_batched_up_to_the_limit():
    scorer = ContrastScorer(delay_s=0.02)
    station = Station(lambda: ListSource([part(False)] * 40), scorer, RULES, max_batch=8)
    run_to_end(station)
    assert sum(scorer.batch_sizes) == 40
    assert max(scorer.batch_sizes) == 8
    assert max(scorer.batch_sizes) > 1


def test_max_parts_bounds_the_run():
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 50), ContrastScorer(), RULES, sink=sink, max_parts=7
    )
    run_to_end(station)
    assert len(sink.items) == 7


def test_unreadable_item_is_recorded_fail_safe_and_the_line_goes_on():
    alarms = []
    sink = ListSink()
    source = lambda: ListSource([part(False)] * 5, bad=[2])  # noqa: E731
    station = Station(source, ContrastScorer(), RULES, sink=sink, on_alarm=alarms.append)
    run_to_end(station)
    assert sorted(i.frame.part_id for i in sink.items) == [0, 1, 2, 3, 4]
    bad = next(i for i in sink.items if i.frame.part_id == 2)
    assert bad.verdict is RULES.fail_safe
    assert "unreadable" in bad.error
    assert alarms and alarms[0].severity is Severity.WARNING
    assert station.snapshot().not_inspected == 1


def test_live_source_overflow_is_fail_safe_never_silent():
    sink = ListSink()
    scorer = ContrastScorer(delay_s=0.05)
    station = Station(
        lambda: ListSource([part(False)] * 40, live=True),
        scorer,
        RULES,
        sink=sink,
        queue_size=2,
        max_batch=1,
    )
    run_to_end(station, timeout=20)
    assert len(sink.items) == 40
    overflow = [i for i in sink.items if i.error and "queue full" in i.error]
    assert overflow, "a live source faster than inference must overflow"
    assert all(i.verdict is Verdict.REJECT for i in overflow)
    # Recorded in their turn: a relay gate, which cannot tell parts apart, gets them in order.
    assert [i.frame.part_id for i in sink.items] == list(range(40))


def test_replay_source_waits_instead_of_overflowing():
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 20, live=False),
        ContrastScorer(delay_s=0.01),
        RULES,
        sink=sink,
        queue_size=1,
        max_batch=1,
    )
    run_to_end(station)
    assert len(sink.items) == 20
    assert not any(i.error for i in sink.items)


def test_missed_deadline_is_fail_safe_and_keeps_the_score():
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 3),
        ContrastScorer(delay_s=0.05),
        RULES,
        sink=sink,
        deadline_ms=1.0,
    )
    run_to_end(station)
    assert all(i.error.startswith("late") for i in sink.items)
    assert all(i.verdict is Verdict.REJECT for i in sink.items)
    assert all(i.score == pytest.approx(0.0) for i in sink.items)


def test_model_failure_is_fail_safe_with_an_alarm():
    alarms = []
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 4),
        ContrastScorer(fail=True),
        RULES,
        sink=sink,
        on_alarm=alarms.append,
    )
    run_to_end(station)
    assert len(sink.items) == 4
    assert all("model exploded" in i.error for i in sink.items)
    assert any(a.severity is Severity.ERROR for a in alarms)


def test_source_that_cannot_open_fails_the_line_with_an_alarm():
    def broken():
        msg = "camera 7 is not connected"
        raise SourceError(msg)

    alarms = []
    station = Station(broken, ContrastScorer(), RULES, on_alarm=alarms.append)
    station.start()
    assert station.wait(5)
    station.stop()
    assert station.state is LineState.FAILED
    assert "camera 7" in alarms[0].message


def test_threshold_changes_at_run_time():
    gate = threading.Event()
    seen = []

    def listener(inspection):
        seen.append(inspection)
        if len(seen) == 5:
            station.set_rules(RULES.with_threshold(1.5))
            gate.set()

    images = [part(defect=True)] * 10
    station = Station(
        lambda: ListSource(images, interval_s=0.01),
        ContrastScorer(),
        RULES,
        listeners=[listener],
        max_batch=1,
    )
    run_to_end(station)
    assert [i.verdict for i in seen[:5]] == [Verdict.REJECT] * 5
    assert seen[-1].verdict is Verdict.ACCEPT
    assert seen[-1].threshold == 1.5


def test_pause_stops_taking_frames_and_resume_goes_on():
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 200, interval_s=0.005),
        ContrastScorer(),
        RULES,
        sink=sink,
    )
    station.start()
    while station.snapshot().inspected < 5:
        pass
    station.pause()
    assert station.state is LineState.PAUSED
    time.sleep(0.1)
    count = station.snapshot().inspected
    time.sleep(0.2)
    assert station.snapshot().inspected <= count + 1
    station.resume()
    assert station.wait(10)
    station.stop()
    assert len(sink.items) == 200


def test_stop_mid_run_finishes_queued_parts_and_joins():
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 10_000, interval_s=0.001),
        ContrastScorer(),
        RULES,
        sink=sink,
    )
    station.start()
    while station.snapshot().inspected < 10:
        pass
    station.stop(timeout=5)
    assert station.state is LineState.FINISHED
    assert not any(
        t.is_alive() for t in threading.enumerate() if t.name in ("acquisition", "inference")
    )
    assert len(sink.items) == station.snapshot().inspected


def test_storage_failure_at_shutdown_is_an_alarm_not_a_crash():
    class StuckSink(ListSink):
        def stop(self, timeout: float = 10.0) -> None:
            msg = "3 records are still unwritten: the database stays locked"
            raise StorageError(msg)

    alarms = []
    station = Station(
        lambda: ListSource([part(False)] * 3),
        ContrastScorer(),
        RULES,
        sink=StuckSink(),
        on_alarm=alarms.append,
    )
    run_to_end(station)
    assert any("unwritten" in a.message and a.source == "storage" for a in alarms)


def test_a_camera_that_drops_out_is_reconnected_and_part_ids_go_on():
    class DroppingSource(ListSource):
        def __next__(self):
            if self._next_id == 4:
                msg = "camera 2 stopped sending frames"
                raise SourceError(msg)
            return super().__next__()

    opened = []

    def open_camera():
        opened.append(1)
        images = [part(False)] * 6
        return (
            DroppingSource(images, live=True) if len(opened) == 1 else ListSource(images, live=True)
        )

    alarms, sink = [], ListSink()
    station = Station(open_camera, ContrastScorer(), RULES, sink=sink, on_alarm=alarms.append)
    run_to_end(station)
    assert len(opened) == 2
    assert [i.frame.part_id for i in sink.items] == list(range(10))
    assert station.state is LineState.FINISHED
    assert "reconnecting" in alarms[0].message and alarms[0].severity is Severity.ERROR
    assert "is back" in alarms[1].message


def test_a_replay_that_fails_is_not_reopened():
    class BrokenReplay(ListSource):
        def __next__(self):
            msg = "disk read error"
            raise SourceError(msg)

    opened = []

    def open_replay():
        opened.append(1)
        return BrokenReplay([part(False)])

    station = Station(open_replay, ContrastScorer(), RULES)
    run_to_end(station)
    assert len(opened) == 1
    assert station.state is LineState.FAILED


def test_serials_read_from_qr_codes_travel_with_the_part():
    import cv2

    from inspector.acquisition.serial_reader import QRSerialReader

    def tagged(serial: str) -> np.ndarray:
        code = cv2.QRCodeEncoder.create().encode(serial)
        code = cv2.resize(code, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)
        image = np.full((160, 160), 128, np.uint8)
        image[20 : 20 + code.shape[0], 20 : 20 + code.shape[1]] = code
        return np.dstack([image] * 3)

    images = [tagged(f"SN-{n:04d}") for n in range(3)] + [part(False, size=160)]
    sink = ListSink()
    station = Station(
        lambda: ListSource(images),
        ContrastScorer(),
        RULES,
        sink=sink,
        serial_reader=QRSerialReader(),
    )
    run_to_end(station)
    assert [i.frame.serial for i in sink.items] == ["SN-0000", "SN-0001", "SN-0002", None]


def test_a_stop_past_its_deadline_records_every_queued_part_fail_safe():
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 400),
        ContrastScorer(delay_s=0.1),
        RULES,
        sink=sink,
        max_batch=2,
    )
    station.start()
    while station.snapshot().inspected < 4:
        time.sleep(0.01)
    station.stop(timeout=0.05)  # far too short for the queued parts: they go fail-safe
    ids = [i.frame.part_id for i in sink.items]
    assert ids == list(range(len(ids))), "every part taken, in order, none twice"
    assert len(ids) == station.snapshot().inspected
    late = [i for i in sink.items if i.error == "not inspected: the line stopped before its turn"]
    assert len(late) >= 10 and all(i.verdict is RULES.fail_safe for i in late)
    assert not any(t.is_alive() for t in threading.enumerate() if t.name == "inference")


class ShortScorer(ContrastScorer):
    """Returns one output too few on its third batch, as a broken model might."""

    def predict(self, images):
        outputs = super().predict(images)
        return outputs[:-1] if len(self.batch_sizes) == 3 else outputs


class WordScorer(ContrastScorer):
    """Part 5's map is not numbers: deciding that part fails."""

    def predict(self, images):
        outputs = super().predict(images)
        self.seen = getattr(self, "seen", 0) + len(images)
        if self.seen - len(images) <= 5 < self.seen:
            index = 5 - (self.seen - len(images))
            outputs[index] = ModelOutput(0.9, np.array([["a"]]))
        return outputs


@pytest.mark.parametrize("faulty", [ShortScorer, WordScorer], ids=["too-few", "bad-map"])
def test_a_scorer_fault_after_predict_is_fail_safe_never_a_lost_part(faulty):
    alarms = []
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 12),
        faulty(),
        RULES,
        sink=sink,
        max_batch=2,
        on_alarm=alarms.append,
    )
    run_to_end(station)
    assert sorted(i.frame.part_id for i in sink.items) == list(range(12))
    failed = [i for i in sink.items if i.error]
    assert failed and all(i.verdict is RULES.fail_safe for i in failed)
    assert all("not inspected" in i.error for i in failed)
    assert any(a.severity is Severity.ERROR and a.source == "inference" for a in alarms)
    assert station.state is LineState.FINISHED


def test_records_refused_mid_run_stop_the_line_loudly_and_quickly():
    class FullDiskSink(ListSink):
        def submit(self, inspection):
            if len(self.items) >= 5:
                msg = "database or disk is full"
                raise StorageError(msg)
            super().submit(inspection)

    alarms = []
    station = Station(
        lambda: ListSource([part(False)] * 200),
        ContrastScorer(delay_s=0.01),
        RULES,
        sink=FullDiskSink(),
        max_batch=8,  # the refusal comes mid-batch: the rest of that batch is not lost
        on_alarm=alarms.append,
    )
    station.start()
    assert station.wait(10)
    began = time.monotonic()
    station.stop()
    assert time.monotonic() - began < 3.0  # acquisition is not left blocked on a full queue
    assert station.state is LineState.FAILED
    errors = [a.message for a in alarms if a.severity is Severity.ERROR]
    assert any(m.startswith("inspection stopped: database or disk is full") for m in errors)
    assert "1 part(s) (part 5) decided but not stored" in " ".join(errors)
    # Every part counted is either stored or named in an alarm: none left unaccounted.
    unstored = [re.match(r"(\d+) part\(s\)", m) for m in errors]
    told = sum(int(m.group(1)) for m in unstored if m)
    assert station.snapshot().inspected == 5 + told


def test_frames_a_live_camera_dropped_are_recorded_in_their_turn():
    class DroppingCamera(ListSource):
        """Part ids are given at capture; frames 3 and 4 were dropped before delivery."""

        def __next__(self):
            if self._next_id == 3:
                self._next_id = 5
            return super().__next__()

    alarms = []
    sink = ListSink()
    station = Station(
        lambda: DroppingCamera([part(False)] * 8, live=True),
        ContrastScorer(),
        RULES,
        sink=sink,
        on_alarm=alarms.append,
    )
    run_to_end(station)
    assert [i.frame.part_id for i in sink.items] == list(range(8))
    dropped = [i for i in sink.items if i.frame.part_id in (3, 4)]
    assert all(i.verdict is RULES.fail_safe and "dropped its frame" in i.error for i in dropped)
    assert any("dropped 2 frame(s): parts 3-4 recorded fail-safe" in a.message for a in alarms)
    assert station.snapshot().inspected == 8


def test_a_stalled_model_cannot_fill_the_memory_with_overflowed_frames():
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(False)] * 30, live=True),
        ContrastScorer(delay_s=0.5),  # stalled next to a fast camera
        RULES,
        sink=sink,
        queue_size=1,
        max_batch=1,
    )
    run_to_end(station, timeout=20)
    assert [i.frame.part_id for i in sink.items] == list(range(30))
    overflow = [i for i in sink.items if i.error and "queue full" in i.error]
    kept = [i for i in overflow if i.frame.image.size]
    blank = [i for i in overflow if not i.frame.image.size]
    assert 0 < len(kept) <= 4 * 1 + 1  # a few keep their pictures for review ...
    assert blank and all(i.error.endswith("(image not kept)") for i in blank)  # ... not all


def test_a_stop_while_the_camera_waits_for_a_part_does_not_wait_out_the_grace():
    class WaitingCamera(ListSource):
        def __next__(self):
            if self._next_id == 3:
                time.sleep(1.5)  # a triggered camera between parts
            return super().__next__()

    alarms = []
    station = Station(
        lambda: WaitingCamera([part(False)] * 5, live=True),
        ContrastScorer(),
        RULES,
        sink=ListSink(),
        on_alarm=alarms.append,
    )
    station.start()
    while station.snapshot().inspected < 3:
        time.sleep(0.01)
    began = time.monotonic()
    station.stop(timeout=0.3)
    assert time.monotonic() - began < 1.5  # the idle inference thread was woken
    assert not any("inspection did not stop" in a.message for a in alarms)


def test_frames_a_free_running_camera_skips_during_a_pause_are_not_lost_parts():
    class FreeRunningCamera(ListSource):
        """Numbers frames by capture time, as a camera that keeps grabbing while paused."""

        t0 = None

        def __next__(self):
            if self.closed or self._next_id >= 100:
                raise StopIteration
            self.t0 = self.t0 or time.monotonic()
            time.sleep(0.01)
            self._next_id = max(self._next_id, int((time.monotonic() - self.t0) / 0.02))
            return super().__next__()

    camera = FreeRunningCamera([part(False)] * 200, live=True)
    sink = ListSink()
    station = Station(lambda: camera, ContrastScorer(), RULES, sink=sink)
    station.start()
    time.sleep(0.2)
    station.pause()
    time.sleep(0.5)  # about 25 frames pass unseen
    station.resume()
    assert station.wait(20)
    station.stop()
    dropped = [i for i in sink.items if i.error and "dropped its frame" in i.error]
    assert len(dropped) < 5, "a pause is the operator's choice, not frames lost"
