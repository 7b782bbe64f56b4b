"""A real pymodbus TCP server on loopback, in its own thread, that records every write."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingModbusServer:
    """Registers and coils 0-999; ``writes`` lists (kind, address, values) as they arrive."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.writes: list[tuple[str, int, list]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._thread: threading.Thread | None = None

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            name = type(pdu).__name__
            if name.startswith("Write"):
                values = list(pdu.registers or []) if "Register" in name else list(pdu.bits or [])
                with self._lock:
                    self.writes.append((name, pdu.address, values))
        return pdu

    def start(self) -> None:
        ready = threading.Event()

        async def serve() -> None:
            device = SimDevice(
                1,
                simdata=(
                    [SimData(0, count=1000, values=False, datatype=DataType.BITS)],
                    [SimData(0, count=10, values=False, datatype=DataType.BITS)],
                    [SimData(0, count=1000, values=0, datatype=DataType.REGISTERS)],
                    [SimData(0, count=10, values=0, datatype=DataType.REGISTERS)],
                ),
            )
            self._server = ModbusTcpServer(
                device, address=("127.0.0.1", self.port), trace_pdu=self._trace
            )
            ready.set()
            await self._server.serve_forever()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # wait until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("modbus test server did not start")

    def stop(self) -> None:
        if self._server is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(5)
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = self._loop = None

    def register_writes(self) -> list[list[int]]:
        with self._lock:
            return [values for name, _, values in self.writes if "Register" in name]
