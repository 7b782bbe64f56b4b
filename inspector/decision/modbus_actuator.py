"""Reject gate over Modbus TCP: each verdict is written to the PLC's registers."""

from __future__ import annotations

from dataclasses import dataclass

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from inspector.core.verdict import Verdict
from inspector.decision.actuator import VERDICT_CODES, ActuatorError


@dataclass(frozen=True)
class ModbusAddresses:
    """Where the PLC expects verdicts.

    Attributes:
        host: PLC address.
        port: Modbus TCP port.
        device_id: Modbus unit / device id.
        verdict_register: First of two holding registers written per part, in one
            request: ``[part_id mod 65536, verdict code]`` (codes in
            :data:`~inspector.decision.actuator.VERDICT_CODES`). Writing both at
            once means the PLC never sees a part id with another part's verdict.
        reject_coil: Optional coil set on reject/review and cleared on accept,
            for gates wired to a single output.
        timeout_s: Per-request timeout, so a dead PLC never blocks the gate thread.
    """

    host: str
    port: int = 502
    device_id: int = 1
    verdict_register: int = 0
    reject_coil: int | None = None
    timeout_s: float = 1.0


class ModbusActuator:
    """Writes every verdict to a PLC over Modbus TCP (pymodbus client, synchronous)."""

    def __init__(self, addresses: ModbusAddresses) -> None:
        self.addresses = addresses
        self.name = f"modbus://{addresses.host}:{addresses.port}"
        self._client = ModbusTcpClient(
            addresses.host, port=addresses.port, timeout=addresses.timeout_s, retries=0
        )

    def connect(self) -> None:
        """Open the TCP connection.

        Raises:
            ActuatorError: the PLC does not answer.
        """
        if not self._client.connect():
            msg = f"cannot connect to the PLC at {self.name}: check the address and cabling"
            raise ActuatorError(msg)

    def signal(self, part_id: int, verdict: Verdict) -> None:
        """Write the part's verdict (and the reject coil when configured).

        Raises:
            ActuatorError: the write failed or the PLC answered with an error.
        """
        addresses = self.addresses
        try:
            if not self._client.connected:
                self.connect()
            reply = self._client.write_registers(
                addresses.verdict_register,
                [part_id % 65536, VERDICT_CODES[verdict]],
                device_id=addresses.device_id,
            )
            _check(reply, self.name, "registers", addresses.verdict_register)
            if addresses.reject_coil is not None:
                reply = self._client.write_coil(
                    addresses.reject_coil,
                    verdict is not Verdict.ACCEPT,
                    device_id=addresses.device_id,
                )
                _check(reply, self.name, "coil", addresses.reject_coil)
        except ModbusException as exc:
            self._client.close()
            msg = f"verdict of part {part_id} not delivered to {self.name}: {exc}"
            raise ActuatorError(msg) from exc

    def close(self) -> None:
        """Close the connection."""
        self._client.close()


def _check(reply: object, name: str, what: str, address: int) -> None:
    if reply.isError():  # type: ignore[attr-defined]
        msg = f"{name} refused the write to {what} {address}: {reply}"
        raise ActuatorError(msg)
