from pathlib import Path

import pytest

from inspector.core import Verdict
from inspector.decision.actuator import LogActuator
from inspector.decision.modbus_actuator import ModbusActuator
from inspector.pipeline.station_config import ConfigError, load_station_config

SAMPLE = Path(__file__).resolve().parents[3] / "resources" / "station.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_sample_is_valid_and_points_at_the_demo_model():
    config = load_station_config(SAMPLE)
    settings = config.line_settings(max_parts=5)
    assert settings.source == "demo"
    assert (settings.model_dir / "model.json").is_file()
    assert settings.max_parts == 5
    assert isinstance(config.build_actuator(), LogActuator)


def test_empty_file_gives_the_demo_defaults(tmp_path):
    config = load_station_config(write(tmp_path, ""))
    assert config.camera.source == "demo"
    assert config.decision.fail_safe is Verdict.REJECT
    assert config.build_actuator() is None
    assert config.line_settings().check_lighting is True


def test_values_reach_the_line_settings(tmp_path):
    text = """
[station]
name = "press-2"
[decision]
threshold = 3.5
fail_safe = "review"
deadline_ms = 250
lighting_check = false
[actuator]
kind = "modbus"
gate_deadline_ms = 400
[actuator.modbus]
host = "127.0.0.1"
port = 1502
verdict_register = 40
"""
    config = load_station_config(write(tmp_path, text))
    settings = config.line_settings()
    assert (settings.station_name, settings.threshold, settings.fail_safe) == (
        "press-2",
        3.5,
        Verdict.REVIEW,
    )
    assert settings.deadline_ms == 250 and settings.gate_deadline_ms == 400
    assert settings.check_lighting is False
    actuator = config.build_actuator()
    assert isinstance(actuator, ModbusActuator)
    assert actuator.addresses.verdict_register == 40 and actuator.addresses.port == 1502


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[decision]\nthreshold = -1", "decision.threshold = -1: Input should be greater than 0"),
        ("[camera]\ndefect_rate = 1.5", "camera.defect_rate = 1.5"),
        ("[decision]\nfail_safe = 'explode'", "decision.fail_safe = 'explode'"),
        ("[decision]\nlighting_check = 'sometimes'", "decision.lighting_check = 'sometimes'"),
        ("[model]\ndevice = 'tpu'", "model.device = 'tpu'"),
        ("[actuator.modbus]\nhost='x'\nport = 70000", "actuator.modbus.port = 70000"),
        ("[camera]\nsorce = 'demo'", "camera.sorce: unknown key"),
        ("[actuator]\nkind = 'modbus'", "needs an [actuator.modbus] table"),
    ],
)
def test_bad_values_name_key_value_and_expectation(tmp_path, text, expected):
    with pytest.raises(ConfigError) as caught:
        load_station_config(write(tmp_path, text))
    assert expected in str(caught.value)
    assert "station.toml" in str(caught.value)


def test_all_problems_are_listed_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_station_config(write(tmp_path, "[decision]\nthreshold = 0\nreview_margin = 2"))
    assert "decision.threshold" in str(caught.value) and "decision.review_margin" in str(
        caught.value
    )


def test_missing_and_malformed_files_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_station_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_station_config(write(tmp_path, "[station\nname="))


def test_relative_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "images").mkdir()
    config = load_station_config(
        write(tmp_path, "[camera]\nsource = 'images'\n[model]\npath = 'my-model'")
    )
    assert config.camera.source == str((tmp_path / "images").resolve())
    assert config.model.path == (tmp_path / "my-model").resolve()


def test_zones_reach_the_decision_rules(tmp_path):
    text = """
[[decision.zones]]
name = "label"
box = [0.0, 0.0, 0.25, 0.15]
ignore = true
[[decision.zones]]
name = "face"
box = [0.3, 0.3, 0.4, 0.4]
threshold = 20.0
"""
    zones = load_station_config(write(tmp_path, text)).line_settings().zones
    assert [z.name for z in zones] == ["label", "face"]
    assert zones[0].ignore and zones[1].threshold == 20.0


def test_a_zone_outside_the_image_is_refused_by_name(tmp_path):
    text = '[[decision.zones]]\nname = "edge"\nbox = [0.9, 0.0, 0.5, 0.5]'
    with pytest.raises(ConfigError, match="zone 'edge'.*inside the image"):
        load_station_config(write(tmp_path, text))


def test_a_list_of_sources_is_a_multi_camera_station(tmp_path):
    config = load_station_config(write(tmp_path, '[camera]\nsource = ["demo", "demo"]'))
    settings = config.line_settings()
    assert (settings.source, settings.extra_sources) == ("demo", ("demo",))
    with pytest.raises(ConfigError, match="camera"):
        load_station_config(write(tmp_path, "[camera]\nsource = []"))
