"""``inspector config check``: a station file checked from the command line as the line would."""

from pathlib import Path

from inspector.cli import main
from inspector.decision.zones import Zone
from inspector.pipeline.station_zones import write_zones

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "station.toml"


def test_a_valid_file_is_summarised_with_its_zones(tmp_path, capsys):
    station = tmp_path / "station.toml"
    zones = (
        Zone("label", (0.0, 0.0, 0.25, 0.15), ignore=True),
        Zone("face", (0.3, 0.3, 0.4, 0.4), threshold=20.0, min_defect_area_px=4),
    )
    station.write_text(write_zones(SAMPLE.read_text(encoding="utf-8"), zones), encoding="utf-8")
    assert main(["config", "check", str(station)]) == 0
    out = capsys.readouterr().out
    assert f"{station}: valid" in out
    assert "zone 'label' [0, 0, 0.25, 0.15]: ignored" in out
    assert "zone 'face' [0.3, 0.3, 0.4, 0.4]: threshold 20, min defect area 4 px" in out


def test_an_invalid_file_lists_every_problem_and_exits_1(tmp_path, capsys):
    station = tmp_path / "station.toml"
    station.write_text(
        '[decision]\nthreshold = -1\n[[decision.zones]]\nname = "a"\nbox = [0.9, 0, 0.5, 0.1]\n',
        encoding="utf-8",
    )
    assert main(["config", "check", str(station)]) == 1
    err = capsys.readouterr().err
    assert "decision.threshold = -1" in err
    assert "decision.zones.0" in err and "must lie inside the image" in err
    assert main(["config", "check", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read station configuration" in capsys.readouterr().err
