"""The serial relay gate, for real, on a pseudo-terminal pair standing in for the USB board.

The actuator opens the terminal through a symlink, as a line PC opens
``/dev/serial/by-id/...``; the test reads the bytes the board would get from
the other end. Unplugging closes that end and removes the link; plugging in
again makes a new terminal behind the same link.
"""

import os
import select
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from inspector.core import Frame, Inspection, Verdict
from inspector.decision.actuator import ActuatorError
from inspector.decision.serial_relay import (
    SerialRelayActuator,
    SerialRelaySettings,
    parse_hex,
)
from inspector.pipeline.alarms import Severity
from inspector.pipeline.gate import GateWorker

pytest.importorskip("serial")

ON, OFF = bytes.fromhex("A00101A2"), bytes.fromhex("A00100A1")


class PtyBoard:
    """The relay board's end of the line: bytes written to the port arrive here."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = self.slave = -1
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(os.ttyname(self.slave))

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)
        self.link.unlink()
        self.master = self.slave = -1

    def read(self, size: int, timeout: float = 5.0) -> bytes:
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < size and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                data += os.read(self.master, size - len(data))
        return data

    def close(self) -> None:
        if self.master >= 0:
            self.unplug()


@pytest.fixture
def board(tmp_path):
    pty = PtyBoard(tmp_path / "ttyRELAY")
    yield pty
    pty.close()


def inspection(part_id: int, verdict: Verdict, age_s: float = 0.0) -> Inspection:
    stamp = time.monotonic() - age_s
    frame = Frame(np.zeros((2, 2, 3), np.uint8), "c", part_id, stamp, datetime.now(UTC))
    return Inspection(frame, verdict, 1.0, 1.0, (), None, "m", "r", 1.0, 1.0)


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_reject_closes_the_relay_for_the_pulse_then_opens_it(board):
    relay = SerialRelayActuator(SerialRelaySettings(str(board.link), pulse_ms=150))
    relay.connect()
    started = time.monotonic()
    relay.signal(7, Verdict.REJECT)
    assert time.monotonic() - started < 0.1  # the gate thread is not held for the pulse
    assert board.read(4) == ON
    assert board.read(4) == OFF
    assert time.monotonic() - started >= 0.14
    relay.signal(8, Verdict.ACCEPT)
    assert board.read(1, timeout=0.3) == b""  # accepts leave the relay alone
    relay.close()


def test_every_verdict_goes_through_the_gate_and_the_relay_ends_open(board):
    relay = SerialRelayActuator(
        SerialRelaySettings(str(board.link), pulse_ms=30, on="01 FF", off="01 00")
    )
    gate = GateWorker(relay)
    gate.start()
    verdicts = [Verdict.ACCEPT, Verdict.REJECT, Verdict.ACCEPT, Verdict.REVIEW, Verdict.REJECT]
    for part_id, verdict in enumerate(verdicts):
        gate.submit(inspection(part_id, verdict))
    wait_for(lambda: gate.delivered == len(verdicts))
    gate.stop()
    data = board.read(64, timeout=0.5)
    commands = [data[i : i + 2] for i in range(0, len(data), 2)]
    assert commands.count(b"\x01\xff") == relay.pulses == 3
    assert set(commands) <= {b"\x01\xff", b"\x01\x00"}
    assert commands[-1] == b"\x01\x00"  # stopped with the relay open


def test_an_unplugged_relay_raises_an_alarm_keeps_the_verdicts_and_reconnects(board):
    alarms = []
    relay = SerialRelayActuator(SerialRelaySettings(str(board.link), pulse_ms=20))
    gate = GateWorker(relay, on_alarm=alarms.append)
    gate.start()
    gate.submit(inspection(0, Verdict.REJECT))
    assert board.read(4) == ON
    wait_for(lambda: gate.delivered == 1)
    board.unplug()
    gate.submit(inspection(1, Verdict.REJECT))
    gate.submit(inspection(2, Verdict.ACCEPT))
    wait_for(lambda: any(a.severity is Severity.ERROR for a in alarms))
    assert gate.delivered == 1 and gate.pending >= 1
    assert "retrying" in alarms[0].message and "relay" in alarms[0].message
    board.plug()  # the board is back (same by-id link, new device node)
    wait_for(lambda: gate.delivered == 3)
    assert board.read(4) == ON  # part 1's pulse, on the new device
    gate.stop()
    assert any("reachable again" in a.message for a in alarms)
    assert gate.failures >= 1 and relay.pulses == 2


def test_a_verdict_past_the_gate_deadline_is_not_pulsed_but_counted(board):
    alarms = []
    relay = SerialRelayActuator(SerialRelaySettings(str(board.link)))
    gate = GateWorker(relay, deadline_ms=200, on_alarm=alarms.append)
    gate.start()
    gate.submit(inspection(5, Verdict.REJECT, age_s=1.0))
    gate.submit(inspection(6, Verdict.REJECT))
    wait_for(lambda: gate.delivered == 1)
    gate.stop()
    assert board.read(4) == ON  # part 6 only: part 5 has passed the gate already
    assert (gate.late, gate.not_signalled, relay.pulses) == (1, 1, 1)
    assert "part 5 (reject) passed relay" in alarms[0].message


def test_a_port_that_does_not_exist_is_named():
    relay = SerialRelayActuator(SerialRelaySettings("/dev/does-not-exist-relay"))
    with pytest.raises(ActuatorError, match="does-not-exist-relay.*check the cable"):
        relay.connect()


def test_commands_are_hex_bytes():
    assert parse_hex("A0 01 01 A2") == ON
    with pytest.raises(ValueError, match="not hex bytes"):
        parse_hex("A0 1")
    with pytest.raises(ValueError, match="pulse_ms"):
        SerialRelaySettings("/dev/ttyUSB0", pulse_ms=0)
