"""Several cameras per part: shared part ids, and the worst view decides at the gate."""

from inspector.acquisition.multi_camera import MultiCameraSource
from inspector.core import Verdict
from inspector.decision import DecisionRules
from inspector.decision.actuator import LogActuator
from inspector.pipeline.gate import GateWorker
from inspector.pipeline.part_assembler import PartAssembler
from inspector.pipeline.station import Station
from tests.unit.pipeline.helpers import ContrastScorer, ListSink, ListSource, part

RULES = DecisionRules(0.5, review_margin=0.0, min_defect_area_px=4)


class RecordingActuator(LogActuator):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, Verdict]] = []

    def signal(self, part_id: int, verdict: Verdict) -> None:
        self.calls.append((part_id, verdict))


def test_views_of_a_part_share_its_id_and_cameras_stay_apart():
    top = ListSource([part(False)] * 3)
    side = ListSource([part(True)] * 3)
    with MultiCameraSource([top, side]) as views:
        frames = list(views)
    assert [f.part_id for f in frames] == [0, 0, 1, 1, 2, 2]
    assert [f.camera_id for f in frames[:2]] == ["test-0", "test-1"]
    assert views.views == 2


def test_the_gate_gets_each_part_once_with_its_worst_view():
    # part 1 is defective on the side camera only; part 2 on the top camera only
    top = [part(False), part(False), part(True), part(False)]
    side = [part(False), part(True), part(False), part(False)]
    actuator = RecordingActuator()
    sink = ListSink()
    station = Station(
        lambda: MultiCameraSource([ListSource(top), ListSource(side)]),
        ContrastScorer(),
        RULES,
        sink=sink,
        gate=GateWorker(actuator),
    )
    station.start()
    assert station.wait(10)
    station.stop()
    assert len(sink.items) == 8  # every view is recorded
    assert sorted(actuator.calls) == [
        (0, Verdict.ACCEPT),
        (1, Verdict.REJECT),
        (2, Verdict.REJECT),
        (3, Verdict.ACCEPT),
    ]
    # The operator counts parts, as the gate sorts them, not camera views.
    snap = station.snapshot()
    assert (snap.inspected, snap.accepted, snap.rejected) == (4, 2, 2)


def _three_parts_two_cameras() -> Station:
    """A finished run without a gate: part 1 defective on the top camera only."""
    top = [part(False), part(True), part(False)]
    side = [part(False), part(False), part(False)]
    station = Station(
        lambda: MultiCameraSource([ListSource(top), ListSource(side)]),
        ContrastScorer(),
        RULES,
        sink=ListSink(),
    )
    station.start()
    assert station.wait(10)
    station.stop()
    return station


def test_without_a_gate_the_counters_still_count_parts():
    snap = _three_parts_two_cameras().snapshot()
    assert (snap.inspected, snap.accepted, snap.rejected) == (3, 2, 1)


def test_an_incomplete_part_is_flushed_fail_safe():
    emitted = []
    assembler = PartAssembler(2, emitted.append)
    sink = ListSink()
    station = Station(lambda: ListSource([part(False)]), ContrastScorer(), RULES, sink=sink)
    station.start()
    station.wait(5)
    station.stop()
    assembler.add(sink.items[0])
    assert emitted == []
    assembler.flush()
    assert emitted[0].verdict is Verdict.REJECT
    assert "1 view(s) missing" in emitted[0].error


def test_the_headless_summary_counts_parts_and_their_views():
    from types import SimpleNamespace

    from sqlalchemy import create_engine

    from inspector.cli import _summary

    station = _three_parts_two_cameras()

    line = SimpleNamespace(  # the parts of a built line the summary reads
        station=station,
        settings=SimpleNamespace(source="two cameras"),
        gate=None,
        engine=create_engine("sqlite://"),
        image_store=SimpleNamespace(root="images"),
    )
    said = _summary(line, 1.0)
    assert "Inspected 3 parts (6 views from 2 cameras)" in said and "(3.0 parts/s)" in said
