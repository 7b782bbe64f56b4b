"""Camera outages without a part counter: timed, and the parts missed estimated (and said so)."""

import pytest

from inspector.core.errors import SourceError
from inspector.decision import DecisionRules
from inspector.pipeline.missed_parts import MissedParts
from inspector.pipeline.station import Station
from tests.unit.pipeline.helpers import ContrastScorer, ListSink, ListSource, part

RULES = DecisionRules(0.5, review_margin=0.0, min_defect_area_px=4)


def test_an_outage_is_timed_and_its_parts_estimated_at_the_configured_rate():
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
        source = DroppingSource if len(opened) == 1 else ListSource
        return source(images, live=True)

    alarms, sink = [], ListSink()
    station = Station(
        open_camera,
        ContrastScorer(),
        RULES,
        sink=sink,
        on_alarm=alarms.append,
        missed_parts=MissedParts(nominal_rate_hz=20.0),
    )
    station.start()
    assert station.wait(10)
    station.stop()
    downtime = station.missed_parts.snapshot()
    assert downtime.outages == 1 and not downtime.down_now
    assert downtime.down_s >= 0.5  # the first reconnect waits 0.5 s
    assert downtime.estimated_missed == round(downtime.down_s * 20)
    back = next(a.message for a in alarms if "is back" in a.message)
    assert f"down {downtime.down_s:.1f} s" in back
    assert f"estimate: about {downtime.estimated_missed} parts missed at the configured 20" in back
    assert "estimate" in downtime.describe()
    assert len(sink.items) == 10  # an estimate makes no records: it is not a count


def test_without_a_rate_the_parts_missed_are_unknown_not_guessed():
    missed = MissedParts()
    missed.camera_down(measured_rate_hz=0.0)
    outage = missed.camera_back()
    assert outage is not None and outage.estimated_missed is None
    assert "estimate" not in outage.describe()
    assert "unknown" in missed.snapshot().describe()
    assert missed.camera_back() is None  # it was not down any more


def test_the_measured_rate_is_used_and_named_when_none_is_configured():
    missed = MissedParts()
    missed.camera_down(measured_rate_hz=12.34)
    snap = missed.snapshot()
    assert snap.down_now and snap.outages == 1
    outage = missed.camera_back()
    assert "measured 12.3 parts/s" in outage.describe()


def test_parts_in_flight_cannot_be_negative():
    with pytest.raises(ValueError, match="in_flight"):
        MissedParts(in_flight=-1)
