"""Station-file tables for the line's I/O: PLC registers, the part counter, serials, the relay.

They live beside ``station_config.py`` (which includes them) so that file stays
about the station as a whole; each table turns itself into the plain settings
object the acquisition or decision code takes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inspector.acquisition.plc_registers import PlcRegisters, RegisterFormat, RegisterTable
from inspector.acquisition.serial_counter import CounterFormat
from inspector.core.verdict import Verdict
from inspector.decision.serial_relay import LCUS_OFF, LCUS_ON, SerialRelaySettings, parse_hex


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlcRegistersSection(_Section):
    """``[traceability.modbus]`` and ``[camera.part_counter]``: a value in the PLC."""

    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)
    device_id: int = Field(1, ge=0, le=247)
    # "register" in the file; BaseModel has a ``register`` attribute of its own.
    first_register: int = Field(0, ge=0, le=65535, alias="register")
    count: int | None = Field(None, ge=1, le=64)
    format: RegisterFormat = "uint16"
    table: RegisterTable = "holding"
    timeout_s: float = Field(0.2, gt=0, le=10)
    retry_s: float = Field(1.0, ge=0, le=60)

    def to_registers(self) -> PlcRegisters:
        count = self.count
        if count is None:
            if self.format == "ascii":
                msg = "format = 'ascii' needs count: the number of registers (2 characters each)"
                raise ValueError(msg)
            count = 2 if self.format == "uint32" else 1
        return PlcRegisters(
            host=self.host,
            port=self.port,
            device_id=self.device_id,
            register=self.first_register,
            count=count,
            format=self.format,
            table=self.table,
            timeout_s=self.timeout_s,
            retry_s=self.retry_s,
        )

    @model_validator(mode="after")
    def _consistent(self) -> PlcRegistersSection:
        self.to_registers()  # raises ValueError naming count and format
        return self


class PartCounterSection(PlcRegistersSection):
    """``[camera.part_counter]``: the PLC register counting parts at the trigger."""

    in_flight: int = Field(0, ge=0, le=100)

    def to_registers(self) -> PlcRegisters:
        if self.format == "ascii":
            msg = "a part counter is a number: format must be 'uint16' or 'uint32'"
            raise ValueError(msg)
        return super().to_registers()


class CounterSection(_Section):
    """``[traceability.counter]``: serials from a running number."""

    prefix: str = Field("", max_length=64)
    width: int = Field(6, ge=1, le=18)
    start: int = Field(1, ge=0)

    def to_format(self) -> CounterFormat:
        return CounterFormat(self.prefix, self.width, self.start)


class TraceabilitySection(_Section):
    """``[traceability]``: where each part's serial comes from."""

    reader: Literal["none", "qr", "modbus", "counter"] = "none"
    modbus: PlcRegistersSection | None = None
    counter: CounterSection = CounterSection()

    @model_validator(mode="after")
    def _modbus_needs_registers(self) -> TraceabilitySection:
        if self.reader == "modbus" and self.modbus is None:
            msg = "reader = 'modbus' needs a [traceability.modbus] table with host and register"
            raise ValueError(msg)
        return self


class SerialRelaySection(_Section):
    """``[actuator.serial_relay]``: a USB/serial relay board as the reject output."""

    port: str = Field(min_length=1)
    baudrate: int = Field(9600, gt=0)
    on: str = LCUS_ON
    off: str = LCUS_OFF
    pulse_ms: float = Field(100.0, gt=0, le=10000)
    pulse_on: tuple[Verdict, ...] = (Verdict.REJECT, Verdict.REVIEW)
    timeout_s: float = Field(0.5, gt=0, le=10)

    @model_validator(mode="after")
    def _commands_are_hex(self) -> SerialRelaySection:
        parse_hex(self.on)
        parse_hex(self.off)
        return self

    def to_settings(self) -> SerialRelaySettings:
        return SerialRelaySettings(**self.model_dump())
