"""Frames lit unlike the model's good parts are not judged: fail-safe, one alarm while it lasts."""

from __future__ import annotations

import numpy as np

from inspector.acquisition.multi_camera import MultiCameraSource
from inspector.core import Verdict
from inspector.decision import DecisionRules
from inspector.ml.lighting import LightingRange, grey_levels
from inspector.pipeline.alarms import Alarm
from inspector.pipeline.shadow import ShadowRunner
from inspector.pipeline.station import Station
from tests.unit.pipeline.helpers import ContrastScorer, ListSink, ListSource

RULES = DecisionRules(0.5, review_margin=0.0, min_defect_area_px=4)


def lit(seed: int, light: float = 1.0) -> np.ndarray:
    """A good grainy part around mid-grey, under ``light`` times the usual lamp."""
    grain = np.random.default_rng(seed).normal(128.0, 12.0, (32, 32, 1))
    return np.repeat(np.clip(grain * light, 0, 255), 3, axis=2).astype(np.uint8)


TAUGHT = LightingRange.taught(grey_levels(lit(seed)) for seed in range(20))


def _run(
    source: object, scorer: ContrastScorer, *, check: bool = True
) -> tuple[ListSink, list[Alarm]]:
    sink, alarms = ListSink(), []
    station = Station(
        lambda: source, scorer, RULES, sink=sink, on_alarm=alarms.append, check_lighting=check
    )
    station.start()
    assert station.wait(10), "station did not finish"
    station.stop()
    return sink, alarms


def test_a_dimmed_lamp_sends_parts_fail_safe_with_one_alarm_until_it_is_back() -> None:
    light = [1.0, 1.0, 0.8, 0.8, 0.8, 1.0, 1.0]  # at 80 %: mean grey about 102
    images = [lit(100 + i, level) for i, level in enumerate(light)]
    sink, alarms = _run(ListSource(images), ContrastScorer(lighting=TAUGHT))

    verdicts = [i.verdict for i in sink.items]
    assert verdicts == [Verdict.ACCEPT] * 2 + [RULES.fail_safe] * 3 + [Verdict.ACCEPT] * 2
    dimmed = sink.items[2:5]
    assert all(i.error.startswith("not inspected: lighting unlike") for i in dimmed)
    assert all("darker than taught" in i.error for i in dimmed)
    assert all(i.anomaly_map is not None and i.score > 0 for i in dimmed)  # scored, kept
    assert [a.source for a in alarms] == ["lighting", "lighting"]
    assert "parts go to the fail-safe bin" in alarms[0].message
    assert alarms[1].message == "lighting is back within what the model learnt from"
    # Every part's lighting goes with its record, for the lighting trend in Reports.
    assert [i.grey_levels for i in sink.items] == [grey_levels(image) for image in images]


def test_a_part_the_model_rejects_stays_rejected_whatever_the_fail_safe_verdict() -> None:
    """At half light the contrast scorer rejects the part: a lighting fault must not make
    a lenient fail-safe verdict (review here) let it off."""
    sink, alarms = ListSink(), []
    lenient = DecisionRules(0.5, review_margin=0.0, min_defect_area_px=4, fail_safe="review")
    scorer = ContrastScorer(lighting=TAUGHT)
    station = Station(
        lambda: ListSource([lit(500, 0.5)]), scorer, lenient, sink=sink, on_alarm=alarms.append
    )
    station.start()
    assert station.wait(10), "station did not finish"
    station.stop()
    [part] = sink.items
    assert part.verdict is Verdict.REJECT and part.defects and part.error is None
    assert [a.source for a in alarms] == ["lighting"]  # the operator still hears of the lamp


def test_an_alarm_is_cleared_when_the_model_in_use_keeps_no_range() -> None:
    """A dim lamp raises the alarm; a swap to a model without a range clears it; a swap back
    announces the fault again, rather than leaving it unsaid under a stale alarm."""
    import threading

    alarms: list[Alarm] = []
    seen = threading.Condition()

    def heard(alarm: Alarm) -> None:
        with seen:
            alarms.append(alarm)
            seen.notify_all()

    def wait_for(count: int) -> None:
        with seen:
            assert seen.wait_for(lambda: len(alarms) >= count, timeout=10), alarms

    dim = [lit(700 + i, 0.8) for i in range(400)]
    station = Station(
        lambda: ListSource(dim, live=True, interval_s=0.01),
        ContrastScorer(lighting=TAUGHT),
        RULES,
        on_alarm=heard,
        max_batch=1,
    )
    station.start()
    try:
        wait_for(1)
        station.swap_scorer(ContrastScorer())
        wait_for(2)
        station.swap_scorer(ContrastScorer(lighting=TAUGHT))
        wait_for(3)
    finally:
        station.stop()
    assert [a.message.split(":")[0] for a in alarms[:3]] == [
        "lighting unlike the good parts the model learnt from",
        "lighting no longer checked on camera test",
        "lighting unlike the good parts the model learnt from",
    ]


def test_a_model_that_keeps_no_lighting_judges_every_frame() -> None:
    images = [lit(100), lit(101, 0.5)]
    sink, alarms = _run(ListSource(images), ContrastScorer())
    assert all(i.error is None for i in sink.items)
    assert alarms == []


def test_a_station_told_not_to_check_judges_every_frame() -> None:
    images = [lit(100), lit(101, 0.5)]
    sink, alarms = _run(ListSource(images), ContrastScorer(lighting=TAUGHT), check=False)
    assert all(i.error is None for i in sink.items)
    assert alarms == []


def test_each_camera_has_its_own_lighting_alarm() -> None:
    top = [lit(200 + i) for i in range(4)]
    side = [lit(300 + i, 0.8 if i < 3 else 1.0) for i in range(4)]
    source = MultiCameraSource([ListSource(top), ListSource(side)])
    sink, alarms = _run(source, ContrastScorer(lighting=TAUGHT))

    faults = [(i.frame.camera_id, i.frame.part_id) for i in sink.items if i.error is not None]
    assert sorted(faults) == [("test-1", 0), ("test-1", 1), ("test-1", 2)]
    # the top camera's good frames between them neither clear nor repeat the side's alarm
    assert [a.source for a in alarms] == ["lighting, camera test-1"] * 2
    assert "back within" in alarms[1].message


def test_a_shadow_candidate_does_not_judge_a_part_lit_unlike_its_good_ones() -> None:
    """Its verdict is what it would do in production; the production model keeps no range."""
    images = [lit(400), lit(401, 0.8)]  # the second at 80 % light: mean grey about 102
    assert TAUGHT.fault(images[1]) is not None

    def shadowed(candidate: ContrastScorer, check: bool = True) -> list:
        verdicts: list = []
        shadow = ShadowRunner(candidate, RULES, verdicts.append, check_lighting=check)
        station = Station(lambda: ListSource(images), ContrastScorer(), RULES, shadow=shadow)
        station.start()
        assert station.wait(10), "station did not finish"
        station.stop()
        return [v.verdict for v in sorted(verdicts, key=lambda v: v.inspection.frame.part_id)]

    assert shadowed(ContrastScorer()) == [Verdict.ACCEPT, Verdict.ACCEPT]
    assert shadowed(ContrastScorer(lighting=TAUGHT)) == [Verdict.ACCEPT, RULES.fail_safe]
    assert shadowed(ContrastScorer(lighting=TAUGHT), check=False) == [Verdict.ACCEPT] * 2
