"""Serials from a running number: format, and where numbering continues."""

import numpy as np
import pytest

from inspector.acquisition.serial_counter import CounterFormat, CounterSerialReader

NO_IMAGE = np.zeros((0, 0, 3), np.uint8)


def test_numbers_are_padded_and_parsed_back():
    fmt = CounterFormat("L7-", width=4)
    assert fmt.format(42) == "L7-0042"
    assert fmt.format(123456) == "L7-123456"
    assert fmt.parse("L7-0042") == 42
    assert fmt.parse("L8-0042") is None
    assert fmt.parse("L7-42a") is None


def test_numbering_continues_after_the_newest_serial_of_its_format():
    reader = CounterSerialReader(CounterFormat("L7-", 4), ["QR-XYZ", "L7-0041", "L7-0040"])
    assert [reader(NO_IMAGE) for _ in range(3)] == ["L7-0042", "L7-0043", "L7-0044"]


def test_a_new_station_starts_at_start():
    reader = CounterSerialReader(CounterFormat(width=3, start=100), ["not-a-number"])
    assert reader.name == "counter (next 100)"
    assert reader(NO_IMAGE) == "100"


@pytest.mark.parametrize(("start", "width"), [(-1, 6), (1, 0), (1, 19)])
def test_bad_formats_are_refused(start, width):
    with pytest.raises(ValueError, match="counter start"):
        CounterFormat(start=start, width=width)
