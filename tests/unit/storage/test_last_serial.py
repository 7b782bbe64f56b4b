"""The serials a station stored last: where a serial counter continues after a restart."""

import pytest

from inspector.storage.last_serial import recent_serials
from inspector.storage.repository import add_inspections
from tests.records import new_record


def test_newest_first_per_station_and_prefix(engine):
    add_inspections(
        engine,
        [new_record(station="line-1", serial=f"L1-{n:04d}") for n in range(5)]
        + [new_record(station="line-2", serial="L1-9999")]
        + [new_record(station="line-1", serial=None)]
        + [new_record(station="line-1", serial="QR-CODE")],
    )
    assert recent_serials(engine, "line-1", prefix="L1-", limit=3) == [
        "L1-0004",
        "L1-0003",
        "L1-0002",
    ]
    assert recent_serials(engine, "line-1")[0] == "QR-CODE"
    assert recent_serials(engine, "line-3") == []


def test_a_prefix_is_text_not_a_pattern(engine):
    add_inspections(engine, [new_record(serial="A_1"), new_record(serial="AB2")])
    assert recent_serials(engine, "line-1", prefix="A_") == ["A_1"]


def test_limit_must_be_positive(engine):
    with pytest.raises(ValueError, match="limit"):
        recent_serials(engine, "line-1", limit=0)
