"""Reading a few PLC registers over Modbus TCP, quickly or not at all.

Both the PLC serial reader and the part counter read registers on the
acquisition thread, where a hung read would hold up the camera. So every read
has a timeout, and after a failure the link is not retried for ``retry_s``:
while the PLC is unreachable a read costs nothing instead of a connect timeout
per part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from inspector.core.errors import InspectorError

RegisterFormat = Literal["uint16", "uint32", "ascii"]
RegisterTable = Literal["holding", "input"]

#: Registers a value of each numeric format takes.
_WORDS = {"uint16": 1, "uint32": 2}


class PlcReadError(InspectorError):
    """The PLC did not answer a register read (link down, timeout, refused address)."""


@dataclass(frozen=True)
class PlcRegisters:
    """Where a value lives in the PLC and how it is encoded.

    Attributes:
        host: PLC address.
        port: Modbus TCP port.
        device_id: Modbus unit / device id.
        register: First register of the value.
        count: Registers read; ``uint16`` needs 1, ``uint32`` 2 (high word
            first), ``ascii`` 1-64 (two characters each, high byte first).
        format: How the registers encode the value.
        table: ``holding`` (function 3) or ``input`` (function 4) registers.
        timeout_s: Per-request timeout.
        retry_s: After a failed read, further reads fail at once for this long
            instead of waiting for another connect timeout.
    """

    host: str
    port: int = 502
    device_id: int = 1
    register: int = 0
    count: int = 1
    format: RegisterFormat = "uint16"
    table: RegisterTable = "holding"
    timeout_s: float = 0.2
    retry_s: float = 1.0

    def __post_init__(self) -> None:
        words = _WORDS.get(self.format)
        if words is not None and self.count != words:
            msg = (
                f"format {self.format!r} takes count = {words} registers, got count = {self.count}"
            )
            raise ValueError(msg)
        if not 1 <= self.count <= 64:
            msg = f"count must be 1..64 registers, got {self.count}"
            raise ValueError(msg)

    @property
    def label(self) -> str:
        """Where the value is read from, for alarms."""
        return f"{self.table} register {self.register} at modbus://{self.host}:{self.port}"


def decode_registers(words: list[int], fmt: RegisterFormat) -> int | str:
    """Turn raw 16-bit registers into the value they encode.

    ``ascii`` strips the NUL and space padding PLC strings carry, so a fixed
    10-register field holding ``"LOT42"`` reads as ``"LOT42"``.
    """
    if fmt == "uint16":
        return words[0]
    if fmt == "uint32":
        return (words[0] << 16) | words[1]
    raw = b"".join(word.to_bytes(2, "big") for word in words)
    return raw.decode("latin-1").strip("\x00 ")


class PlcRegisterReader:
    """Reads one configured value; one reader per thread (the client is not shared)."""

    def __init__(self, registers: PlcRegisters) -> None:
        self.registers = registers
        self._client = ModbusTcpClient(
            registers.host, port=registers.port, timeout=registers.timeout_s, retries=0
        )
        self._quiet_until = 0.0

    def read(self) -> int | str:
        """The value now.

        Raises:
            PlcReadError: the PLC did not answer, refused the read, or was
                unreachable less than ``retry_s`` ago.
        """
        spec = self.registers
        if time.monotonic() < self._quiet_until:
            msg = f"PLC unreachable ({spec.label}); next try in under {spec.retry_s:g} s"
            raise PlcReadError(msg)
        try:
            if not self._client.connected and not self._client.connect():
                msg = f"cannot connect to the PLC for {spec.label}: check the address and cabling"
                raise PlcReadError(msg)
            read = (
                self._client.read_holding_registers
                if spec.table == "holding"
                else self._client.read_input_registers
            )
            reply = read(spec.register, count=spec.count, device_id=spec.device_id)
            if reply.isError():
                msg = f"the PLC refused to read {spec.label}: {reply}; check the address"
                raise PlcReadError(msg)
            return decode_registers(list(reply.registers), spec.format)
        except (ModbusException, PlcReadError) as exc:
            self._client.close()
            self._quiet_until = time.monotonic() + spec.retry_s
            if isinstance(exc, PlcReadError):
                raise
            msg = f"reading {spec.label} failed: {exc}"
            raise PlcReadError(msg) from exc

    def close(self) -> None:
        """Close the connection."""
        self._client.close()
