"""Reject gate through a serial / USB relay board: a pulse on the output per rejected part.

The common CH340 "LCUS" boards switch relay 1 with four bytes,
``A0 01 01 A2`` (on) and ``A0 01 00 A1`` (off); other boards take other bytes,
so both commands are configurable. The pulse is ended by a timer, not by
sleeping on the gate thread, so the next part's verdict is never held up by
the previous part's pulse. The relay knows nothing of part ids: a pulse acts on
whatever part is at the gate, so set a gate deadline (late verdicts are then
not pulsed, see ``GateWorker``). Needs pyserial: ``pip install 'inspector[serial]'``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from inspector.core.verdict import Verdict
from inspector.decision.actuator import ActuatorError

log = logging.getLogger(__name__)

LCUS_ON = "A0 01 01 A2"
LCUS_OFF = "A0 01 00 A1"


def parse_hex(text: str) -> bytes:
    """Bytes from hex text such as ``"A0 01 01 A2"`` (spaces optional).

    Raises:
        ValueError: the text is not an even number of hex digits.
    """
    try:
        data = bytes.fromhex(text)
    except ValueError as exc:
        msg = f"{text!r} is not hex bytes: write them like 'A0 01 01 A2'"
        raise ValueError(msg) from exc
    if not data:
        msg = "a relay command needs at least one byte, like 'A0 01 01 A2'"
        raise ValueError(msg)
    return data


@dataclass(frozen=True)
class SerialRelaySettings:
    """The relay board's port and commands.

    Attributes:
        port: Serial device (``/dev/ttyUSB0``, ``/dev/serial/by-id/...``, ``COM3``).
        baudrate: Line speed (LCUS boards: 9600).
        on: Bytes that close the relay, as hex text.
        off: Bytes that open it again.
        pulse_ms: How long the relay stays closed per pulse.
        pulse_on: Verdicts that pulse the relay (the others leave it open).
        timeout_s: Write timeout, so a stuck port never blocks the gate thread.
    """

    port: str
    baudrate: int = 9600
    on: str = LCUS_ON
    off: str = LCUS_OFF
    pulse_ms: float = 100.0
    pulse_on: tuple[Verdict, ...] = (Verdict.REJECT, Verdict.REVIEW)
    timeout_s: float = 0.5

    def __post_init__(self) -> None:
        parse_hex(self.on)
        parse_hex(self.off)
        if self.pulse_ms <= 0:
            msg = f"pulse_ms must be > 0, got {self.pulse_ms}"
            raise ValueError(msg)


class SerialRelayActuator:
    """Pulses a relay for every verdict in ``pulse_on``; opens it for the others.

    A lost device (USB unplugged, port gone) raises :class:`ActuatorError`, so
    the gate raises an alarm and retries; the next write reopens the port.
    """

    #: The relay cannot tell parts apart: a verdict pulsed late hits the wrong part.
    tracks_parts = False

    def __init__(self, settings: SerialRelaySettings) -> None:
        self.settings = settings
        self.name = f"relay {settings.port}"
        self._on = parse_hex(settings.on)
        self._off = parse_hex(settings.off)
        self._port = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed_relay = False
        self.pulses = 0

    def connect(self) -> None:
        """Open the serial port.

        Raises:
            ActuatorError: pyserial is missing or the port cannot be opened.
        """
        with self._lock:
            self._open_locked()

    def signal(self, part_id: int, verdict: Verdict) -> None:
        """Pulse the relay for this verdict, or make sure it is open.

        Raises:
            ActuatorError: the port is gone or the write failed.
        """
        with self._lock:
            if verdict in self.settings.pulse_on:
                self._write_locked(self._on, part_id)
                self._closed_relay = True
                self.pulses += 1
                self._schedule_off_locked()
            elif self._closed_relay and self._timer is None:
                self._write_locked(self._off, part_id)  # an earlier "off" was lost
                self._closed_relay = False

    def close(self) -> None:
        """Open the relay (if a pulse is on) and close the port."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._closed_relay and self._port is not None:
                try:
                    self._write_locked(self._off, None)
                    self._closed_relay = False
                except ActuatorError:
                    pass  # the port is gone: the relay lost power with it
            self._drop_port_locked()

    def _schedule_off_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()  # a new pulse extends the current one
        self._timer = threading.Timer(self.settings.pulse_ms / 1000.0, self._end_pulse)
        self._timer.daemon = True
        self._timer.start()

    def _end_pulse(self) -> None:
        with self._lock:
            self._timer = None
            try:
                self._write_locked(self._off, None)
                self._closed_relay = False
            except ActuatorError as exc:  # the next signal() finds the relay closed and retries
                log.warning("relay left closed: %s", exc)

    def _open_locked(self) -> None:
        if self._port is not None:
            return
        try:
            import serial
        except ImportError as exc:
            msg = "the serial relay needs pyserial: pip install 'inspector[serial]'"
            raise ActuatorError(msg) from exc
        try:
            self._port = serial.Serial(
                self.settings.port,
                self.settings.baudrate,
                timeout=self.settings.timeout_s,
                write_timeout=self.settings.timeout_s,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            msg = f"cannot open the relay port {self.settings.port}: {exc}; check the cable"
            raise ActuatorError(msg) from exc

    def _write_locked(self, data: bytes, part_id: int | None) -> None:
        import serial

        self._open_locked()
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            self._drop_port_locked()
            what = "relay command" if part_id is None else f"verdict of part {part_id}"
            msg = f"{what} not sent to {self.name}: {exc}"
            raise ActuatorError(msg) from exc

    def _drop_port_locked(self) -> None:
        if self._port is not None:
            import serial

            try:
                self._port.close()
            except (serial.SerialException, OSError) as exc:  # a vanished device
                log.debug("closing %s: %s", self.name, exc)
            self._port = None
