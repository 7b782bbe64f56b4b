"""Station-file tables for PLC serials, the part counter and the serial relay."""

from pathlib import Path

import pytest

from inspector.acquisition.plc_registers import PlcRegisters
from inspector.acquisition.serial_counter import CounterFormat
from inspector.core import Verdict
from inspector.decision.serial_relay import SerialRelayActuator
from inspector.pipeline.station_config import ConfigError, load_station_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_line_io_tables_reach_the_settings_and_the_actuator(tmp_path):
    text = """
[camera]
line_rate_hz = 4.5
[camera.part_counter]
host = "10.0.0.5"
register = 40
format = "uint32"
in_flight = 2
[traceability]
reader = "modbus"
[traceability.modbus]
host = "10.0.0.5"
register = 100
count = 8
format = "ascii"
timeout_s = 0.1
[actuator]
kind = "serial_relay"
gate_deadline_ms = 300
[actuator.serial_relay]
port = "/dev/serial/by-id/usb-relay"
pulse_ms = 80
pulse_on = ["reject"]
"""
    config = load_station_config(write(tmp_path, text))
    settings = config.line_settings()
    assert settings.serial_reader == "modbus"
    assert settings.serial_registers == PlcRegisters(
        "10.0.0.5", register=100, count=8, format="ascii", timeout_s=0.1
    )
    assert settings.part_counter == PlcRegisters("10.0.0.5", register=40, count=2, format="uint32")
    assert settings.part_counter_in_flight == 2
    assert settings.line_rate_hz == 4.5
    relay = config.build_actuator()
    assert isinstance(relay, SerialRelayActuator)
    assert relay.settings.pulse_on == (Verdict.REJECT,)
    assert relay.settings.on == "A0 01 01 A2" and relay.settings.pulse_ms == 80


def test_counter_serials_have_a_format(tmp_path):
    text = '[traceability]\nreader = "counter"\n[traceability.counter]\nprefix = "L2-"\nwidth = 4\n'
    settings = load_station_config(write(tmp_path, text)).line_settings()
    assert settings.serial_reader == "counter"
    assert settings.serial_counter == CounterFormat("L2-", 4, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[traceability]\nreader = "modbus"\n', "needs a [traceability.modbus] table"),
        (
            '[traceability.modbus]\nhost = "plc"\nformat = "ascii"\n',
            "traceability.modbus: Value error, format = 'ascii' needs count",
        ),
        (
            '[camera.part_counter]\nhost = "plc"\nregister = 70000\n',
            "camera.part_counter.register = 70000",
        ),
        ('[camera.part_counter]\nhost = "plc"\nformat = "ascii"\ncount = 2\n', "uint16"),
        ('[actuator]\nkind = "serial_relay"\n', "needs an [actuator.serial_relay] table"),
        (
            '[actuator.serial_relay]\nport = "/dev/ttyUSB0"\non = "A0 0G"\n',
            "not hex bytes",
        ),
        (
            '[actuator.serial_relay]\nport = "/dev/ttyUSB0"\npulse_on = ["maybe"]\n',
            "actuator.serial_relay.pulse_on.0",
        ),
    ],
)
def test_mistakes_name_the_key_and_the_fix(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_station_config(write(tmp_path, text))
    assert expected in str(error.value)
