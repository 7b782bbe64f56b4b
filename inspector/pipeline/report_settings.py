"""The station file's ``[reports]`` table: the plant's time zone and its shifts.

Kept beside :mod:`inspector.pipeline.station_config` (which includes it as
``StationConfig.reports``) because it is about the working day, not the line:
reports group parts per shift and per day in this zone, whatever zone the
computer showing them is set to. The rules themselves (IANA names, shifts
sorted and covering the day) live in :mod:`inspector.core.shifts`, so the
GUI, the CLI and the file agree.

Example::

    [reports]
    timezone = "Europe/Berlin"
    shifts = [
        {name = "early", start = "06:00"},
        {name = "late",  start = "14:00"},
        {name = "night", start = "22:00", end = "06:00"},
    ]
"""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inspector.core.shifts import (
    ShiftCalendar,
    clock_time,
    local_zone,
    shift_calendar,
    zone_named,
)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShiftSection(_Table):
    """One shift: its name, the time of day it starts and, optionally, when it ends."""

    name: str = Field(min_length=1, max_length=32)
    start: time
    end: time | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        if value is None or not isinstance(value, str | time):
            return value  # None is allowed for end; other types get pydantic's own message
        return clock_time(value, "a shift's start or end")


class ReportsSection(_Table):
    """Time zone (IANA name; this computer's zone by default) and shifts (06/14/22 h by default)."""

    timezone: str | None = None
    shifts: tuple[ShiftSection, ...] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_named(value)
        return value

    @field_validator("shifts")
    @classmethod
    def _shifts_cover_the_day(
        cls, value: tuple[ShiftSection, ...] | None
    ) -> tuple[ShiftSection, ...] | None:
        if value is not None:
            shift_calendar([(s.name, s.start, s.end) for s in value])
        return value

    def calendar(self) -> ShiftCalendar:
        """The shift calendar reports cut time with."""
        tz = zone_named(self.timezone) if self.timezone is not None else local_zone()
        if self.shifts is None:
            return ShiftCalendar(tz=tz)
        return shift_calendar([(s.name, s.start, s.end) for s in self.shifts], tz)
