"""Zones written into a real station file with tomlkit: comments kept, values exact."""

from dataclasses import replace
from pathlib import Path

import pytest

from inspector.decision.zones import Zone
from inspector.pipeline.station_config import (
    ConfigError,
    load_station_config,
    parse_station_config,
)
from inspector.pipeline.station_zones import (
    box_from_corners,
    read_zones,
    write_zones,
    zone_with,
)

SAMPLE = Path(__file__).resolve().parents[3] / "resources" / "station.toml"
LABEL = Zone("label", (0.0, 0.0, 0.25, 0.15), ignore=True)
FACE = Zone("sealing face", (0.3, 0.3, 0.4, 0.4), threshold=20.0, min_defect_area_px=4)


def test_zones_written_into_the_sample_reload_equal_and_keep_every_comment(tmp_path):
    text = SAMPLE.read_text(encoding="utf-8")
    written = write_zones(text, (LABEL, FACE))
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert all(line in written.splitlines() for line in comments)
    station = tmp_path / "station.toml"
    station.write_text(written, encoding="utf-8")
    config = load_station_config(station)
    assert tuple(z.to_zone() for z in config.decision.zones) == (LABEL, FACE)
    assert config.line_settings().zones == (LABEL, FACE)
    assert read_zones(written) == (LABEL, FACE)
    # Writing the same zones again changes nothing; removing them gives the file back.
    assert write_zones(written, (LABEL, FACE)) == written
    assert write_zones(written, ()) == text


def test_a_zone_that_keeps_its_name_keeps_its_comments_and_unset_values_disappear():
    text = (
        "[[decision.zones]]\n"
        "# the sticker on the left\n"
        'name = "label"  # printed by the supplier\n'
        "box = [0.0, 0.0, 0.25, 0.15]\n"
        "threshold = 9.0\n"
        "\n[actuator]\nkind = 'log'\n"
    )
    moved = Zone("label", (0.1, 0.0, 0.25, 0.15), ignore=True)
    written = write_zones(text, (moved, Zone("new", (0.5, 0.5, 0.1, 0.1))))
    assert "# the sticker on the left" in written
    assert 'name = "label"  # printed by the supplier' in written
    assert "threshold" not in written
    assert "[actuator]\nkind = 'log'" in written
    assert read_zones(written) == (moved, Zone("new", (0.5, 0.5, 0.1, 0.1)))


def test_duplicate_names_and_broken_toml_are_refused_with_what_to_do():
    with pytest.raises(ConfigError, match="used more than once: label: rename"):
        write_zones("", (LABEL, Zone("label", (0.5, 0.5, 0.1, 0.1))))
    with pytest.raises(ConfigError, match="fix it in the text editor first"):
        write_zones("[decision\n", (LABEL,))
    with pytest.raises(ConfigError, match="fix it in the text editor first"):
        read_zones("[decision\n")
    with pytest.raises(ConfigError, match=r"decision must be a \[decision\] table"):
        read_zones("decision = 3\n")
    with pytest.raises(ConfigError, match="must be a list"):
        read_zones("[decision]\nzones = 3\n")


def test_an_invalid_zone_in_the_text_is_named_by_index_and_key():
    text = '[[decision.zones]]\nname = "a"\nbox = [0.1, 0.1, 0.1, 0.1]\n' + (
        '[[decision.zones]]\nname = "b"\nbox = [0.9, 0.1, 0.5, 0.1]\n'
    )
    with pytest.raises(ConfigError, match=r"decision\.zones\.1 is invalid: .*must lie inside"):
        read_zones(text)


def test_corners_become_rounded_fractions_in_any_drag_direction_clamped_to_the_image():
    assert box_from_corners((100, 60), (20, 10), 200, 100) == (0.1, 0.1, 0.4, 0.5)
    assert box_from_corners((-30, -5), (250, 40), 200, 100) == (0.0, 0.0, 1.0, 0.4)
    assert box_from_corners((1, 1), (2, 2), 3, 3) == (0.3333, 0.3333, 0.3334, 0.3334)
    Zone("edge", box_from_corners((1, 1), (3, 3), 3, 3))  # x + w stays inside the image
    with pytest.raises(ValueError, match="drag a rectangle"):
        box_from_corners((50, 50), (50, 80), 200, 100)


def test_zones_only_text_round_trips_and_can_lose_all_its_zones():
    text = '[[decision.zones]]\nname = "a"\nbox = [0.1, 0.1, 0.2, 0.2]\n'
    assert read_zones(text) == (Zone("a", (0.1, 0.1, 0.2, 0.2)),)
    assert read_zones(write_zones(text, ())) == ()
    assert parse_station_config(write_zones(text, ()), "station.toml").decision.zones == ()


def test_typed_cells_become_zone_fields_or_say_what_is_wrong():
    zone = Zone("z", (0.1, 0.1, 0.2, 0.2))
    assert zone_with(zone, "name", "  fixture ") == replace(zone, name="fixture")
    assert zone_with(zone, "threshold", "2.5").threshold == 2.5
    assert zone_with(replace(zone, threshold=2.5), "threshold", "").threshold is None
    assert zone_with(zone, "min_defect_area_px", "12").min_defect_area_px == 12
    assert zone_with(zone, "w", "0.333333").box == (0.1, 0.1, 0.3333, 0.2)
    with pytest.raises(ValueError, match="min_defect_area_px must be a whole number"):
        zone_with(zone, "min_defect_area_px", "1.5")
    with pytest.raises(ValueError, match="threshold must be a number, got 'high'"):
        zone_with(zone, "threshold", "high")
    with pytest.raises(ValueError, match="must lie inside the image"):
        zone_with(zone, "x", "0.9")
    with pytest.raises(ValueError, match="needs a name"):
        zone_with(zone, "name", " ")
