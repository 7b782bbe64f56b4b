"""The reject gate against a real Modbus TCP server on loopback."""

import sqlite3
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from inspector.cli import main
from inspector.core import Frame, Inspection, Verdict
from inspector.decision.actuator import VERDICT_CODES
from inspector.decision.modbus_actuator import ModbusActuator, ModbusAddresses
from inspector.pipeline.alarms import Severity
from inspector.pipeline.gate import GateWorker
from tests.integration.modbus_server import RecordingModbusServer, free_port

VERDICTS = [Verdict.ACCEPT, Verdict.REJECT, Verdict.REVIEW]


@pytest.fixture
def server():
    srv = RecordingModbusServer()
    srv.start()
    yield srv
    srv.stop()


def inspection(part_id: int) -> Inspection:
    frame = Frame(np.zeros((2, 2, 3), np.uint8), "c", part_id, time.monotonic(), datetime.now(UTC))
    verdict = VERDICTS[part_id % 3]
    return Inspection(frame, verdict, 1.0, 1.0, (), None, "m", "r", 1.0, 1.0)


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_every_verdict_arrives_at_the_right_address_in_order(server):
    actuator = ModbusActuator(
        ModbusAddresses("127.0.0.1", server.port, verdict_register=100, reject_coil=7)
    )
    gate = GateWorker(actuator)
    gate.start()
    for part_id in range(60):
        gate.submit(inspection(part_id))
    gate.stop()
    assert gate.delivered == 60
    expected = [[part_id, VERDICT_CODES[VERDICTS[part_id % 3]]] for part_id in range(60)]
    assert server.register_writes() == expected
    addresses = {address for name, address, _ in server.writes if "Register" in name}
    assert addresses == {100}
    coils = [values[0] for name, _, values in server.writes if "Coil" in name]
    assert coils == [VERDICTS[p % 3] is not Verdict.ACCEPT for p in range(60)]
    p50, p99 = gate.latency_ms()
    assert 0 < p50 <= p99


def test_server_dropping_and_returning_loses_no_verdict():
    port = free_port()
    server = RecordingModbusServer(port)
    server.start()
    alarms = []
    gate = GateWorker(
        ModbusActuator(ModbusAddresses("127.0.0.1", port, timeout_s=0.3)), on_alarm=alarms.append
    )
    gate.start()
    for part_id in range(10):
        gate.submit(inspection(part_id))
    wait_for(lambda: gate.delivered == 10)
    first = server.register_writes()
    server.stop()
    for part_id in range(10, 25):
        gate.submit(inspection(part_id))
    wait_for(lambda: any(a.severity is Severity.ERROR for a in alarms))
    assert gate.delivered == 10
    revived = RecordingModbusServer(port)
    revived.start()
    try:
        wait_for(lambda: gate.delivered == 25)
        gate.stop()
    finally:
        revived.stop()
    delivered = [values[0] for values in first + revived.register_writes()]
    assert delivered == list(range(25))
    assert any("retrying" in a.message for a in alarms)
    assert any("reachable again" in a.message for a in alarms)


@pytest.mark.slow
def test_headless_line_drives_the_gate_from_a_station_file(server, tmp_path, capsys):
    config = tmp_path / "station.toml"
    config.write_text(
        f"""
[camera]
source = "demo"
rate_hz = 10
seed = 4
defect_rate = 0.5
[actuator]
kind = "modbus"
[actuator.modbus]
host = "127.0.0.1"
port = {server.port}
verdict_register = 10
""",
        encoding="utf-8",
    )
    db = tmp_path / "gate.db"
    code = main(["run", "--headless", "--config", str(config), "--frames", "40", "--db", str(db)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "40 verdicts delivered" in out
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT part_id, verdict FROM inspections").fetchall()
    stored = {part_id: VERDICT_CODES[Verdict(verdict)] for part_id, verdict in rows}
    written = server.register_writes()
    assert len(written) == len(stored) == 40
    assert dict(written) == stored  # each part's verdict, as recorded, reached the PLC
