"""The gate thread: a driver fault is retried like a link down, and a stop never drops a
verdict unannounced."""

from __future__ import annotations

import pytest

from inspector.core import Inspection, Verdict
from inspector.decision.actuator import ActuatorError, LogActuator
from inspector.decision.rules import DecisionRules
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.gate import GateWorker
from inspector.pipeline.station import Station
from tests.unit.pipeline.helpers import ContrastScorer, ListSink, ListSource, part

RULES = DecisionRules(0.5, review_margin=0.0)


class FlakyActuator(LogActuator):
    """A driver that raises on its first ``faults`` writes."""

    name = "flaky"

    def __init__(self, faults: int, error: type[Exception] = RuntimeError) -> None:
        super().__init__()
        self.faults = faults
        self.error = error
        self.parts: list[int] = []

    def signal(self, part_id: int, verdict: Verdict) -> None:
        if self.faults:
            self.faults -= 1
            raise self.error("register write failed")
        self.parts.append(part_id)


def _decided(count: int, gate: GateWorker | None = None) -> list[Inspection]:
    """``count`` parts through a real station (and ``gate``), as the gate receives them."""
    sink = ListSink()
    station = Station(
        lambda: ListSource([part(i % 2 == 0) for i in range(count)]),
        ContrastScorer(),
        RULES,
        sink=sink,
        gate=gate,
    )
    station.start()
    assert station.wait(10)
    station.stop()
    return sink.items


def test_a_driver_bug_is_retried_like_a_link_down_and_no_verdict_is_lost():
    alarms: list[Alarm] = []
    actuator = FlakyActuator(faults=2)  # RuntimeError: a bug, not an ActuatorError
    _decided(6, GateWorker(actuator, on_alarm=alarms.append))
    assert actuator.parts == list(range(6))
    said = [(a.severity, a.message) for a in alarms]
    assert said[0][0] is Severity.ERROR and "RuntimeError('register write failed')" in said[0][1]
    assert said[-1] == (Severity.WARNING, "gate flaky reachable again")


def test_verdicts_left_when_the_link_stays_down_are_named_at_stop():
    worker = GateWorker(FlakyActuator(faults=10**6, error=ActuatorError))
    worker.start()
    for inspection in _decided(3):
        worker.submit(inspection)
    with pytest.raises(
        ActuatorError,
        match=r"3 verdicts were not delivered to flaky when the line stopped \(parts 0, 1, 2\)",
    ):
        worker.stop(timeout=0.3)


def test_a_station_says_which_verdicts_the_gate_could_not_deliver():
    alarms: list[Alarm] = []
    gate = GateWorker(FlakyActuator(faults=10**6, error=ActuatorError))
    station = Station(
        lambda: ListSource([part(False)] * 3),
        ContrastScorer(),
        RULES,
        sink=ListSink(),
        gate=gate,
        on_alarm=alarms.append,
    )
    station.start()
    assert station.wait(10)
    station.stop(timeout=0.5)
    gate_errors = [a.message for a in alarms if a.source == "gate"]
    assert any("parts 0, 1, 2" in m and "sort these parts by hand" in m for m in gate_errors)
