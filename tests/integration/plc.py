"""The test's side of the PLC: writes the registers a line program would (serials, counter)."""

from __future__ import annotations

from pymodbus.client import ModbusTcpClient


class PlcProgram:
    """Writes registers of a real Modbus server, as the PLC's own program would.

    ``trigger`` counts one part on a 16-bit counter register (wrapping), the way
    a PLC counts parts at the camera trigger.
    """

    def __init__(self, port: int, counter_register: int = 0, counter_start: int = 0) -> None:
        self.port = port
        self.counter_register = counter_register
        self.count = counter_start
        self._client = ModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)

    def write(self, register: int, values: list[int]) -> None:
        if not self._client.connected:
            assert self._client.connect(), "test PLC server not reachable"
        reply = self._client.write_registers(register, values, device_id=1)
        assert not reply.isError(), reply

    def trigger(self, parts: int = 1) -> None:
        self.count += parts
        self.write(self.counter_register, [self.count % 65536])

    def close(self) -> None:
        self._client.close()
