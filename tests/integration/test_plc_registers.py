"""PLC register reads against a real pymodbus server on loopback: formats, timeouts, outages."""

import socket
import time

import pytest

from inspector.acquisition.part_counter import PartCounter, counter_delta
from inspector.acquisition.plc_registers import (
    PlcReadError,
    PlcRegisterReader,
    PlcRegisters,
    decode_registers,
)
from tests.integration.modbus_server import RecordingModbusServer, free_port
from tests.integration.plc import PlcProgram


@pytest.fixture
def server():
    srv = RecordingModbusServer()
    srv.start()
    yield srv
    srv.stop()


def test_formats_decode_as_a_plc_stores_them():
    assert decode_registers([4321], "uint16") == 4321
    assert decode_registers([0x0001, 0x86A0], "uint32") == 100_000
    assert decode_registers([0x4C4F, 0x5434, 0x3200, 0x0000], "ascii") == "LOT42"
    assert decode_registers([0x2020, 0x0000], "ascii") == ""


def test_counts_must_fit_the_format():
    with pytest.raises(ValueError, match="uint32.*count = 2"):
        PlcRegisters("plc", count=1, format="uint32")
    with pytest.raises(ValueError, match="1..64"):
        PlcRegisters("plc", count=65, format="ascii")


def test_values_are_read_from_the_server(server):
    plc = PlcProgram(server.port)
    plc.write(20, [0x534E, 0x2D30, 0x3037])  # "SN-007"
    plc.write(30, [0x0002, 0x0003])
    ascii_reader = PlcRegisterReader(
        PlcRegisters("127.0.0.1", server.port, register=20, count=3, format="ascii")
    )
    number_reader = PlcRegisterReader(
        PlcRegisters("127.0.0.1", server.port, register=30, count=2, format="uint32")
    )
    try:
        assert ascii_reader.read() == "SN-007"
        assert number_reader.read() == 2 * 65536 + 3
    finally:
        ascii_reader.close()
        number_reader.close()
        plc.close()


def test_a_silent_plc_times_out_and_is_left_alone_for_retry_s():
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        reader = PlcRegisterReader(
            PlcRegisters("127.0.0.1", port, register=5, timeout_s=0.2, retry_s=30)
        )
        started = time.monotonic()
        with pytest.raises(PlcReadError, match="register 5"):
            reader.read()
        assert time.monotonic() - started < 2.0
        started = time.monotonic()
        with pytest.raises(PlcReadError, match="next try"):
            reader.read()  # within retry_s: fails at once, no second timeout
        assert time.monotonic() - started < 0.05
        reader.close()


def test_an_absent_plc_says_what_to_check():
    reader = PlcRegisterReader(PlcRegisters("127.0.0.1", free_port(), timeout_s=0.2))
    with pytest.raises(PlcReadError, match="check the address and cabling"):
        reader.read()


def test_the_part_counter_follows_a_16_bit_counter_across_its_wrap(server):
    plc = PlcProgram(server.port, counter_register=3, counter_start=65_530)
    plc.trigger(0)
    counter = PartCounter(PlcRegisters("127.0.0.1", server.port, register=3))
    try:
        counter.start()
        plc.trigger(4)
        assert counter.triggered() == 4
        plc.trigger(5)  # 65,539 wraps to 3
        assert counter.triggered() == 9
    finally:
        counter.close()
        plc.close()
    assert counter_delta(65_535, 2, 65_536) == 3


def test_a_text_register_is_no_part_counter():
    with pytest.raises(ValueError, match="uint16"):
        PartCounter(PlcRegisters("plc", count=2, format="ascii"))
