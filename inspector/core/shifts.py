"""The plant's working day: its time zone and named shifts, shared by configuration and reports.

Reports cut time at shift starts and local midnights *in the plant's zone*,
so "the early shift of 25 October" means the same hours on every computer
that shows it, whatever that computer's own zone. The zone must be an IANA
name (``Europe/Berlin``), not a fixed UTC offset: an offset would put every
shift boundary one hour off for half the year.

Here only plain values and their rules: the station file
(:mod:`inspector.pipeline.station_config`) builds a :class:`ShiftCalendar`
with :func:`shift_calendar`, and the reports
(:func:`inspector.reports.quality.time_buckets`) cut time with it. Zone
lookups read the system's time zone database (or the ``tzdata`` package).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_LOCALTIME = Path("/etc/localtime")


@dataclass(frozen=True)
class ShiftCalendar:
    """When shifts start, in the plant's local time, and what they are called.

    A shift runs until the next start; the last one runs past midnight into
    the next day and belongs to the day it started. Days start at local midnight.

    Attributes:
        starts: Start times of day, ascending (default 06:00, 14:00, 22:00).
        tz: The plant's time zone, e.g. ``ZoneInfo("Europe/Berlin")``.
        names: One name per start (``early``, ``late``, ``night``); without
            names shifts are numbered ``shift 1``, ``shift 2``, ...
    """

    starts: tuple[time, ...] = (time(6), time(14), time(22))
    tz: tzinfo = UTC
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse calendars that would make empty or overlapping shifts, or unclear names."""
        if not self.starts or list(self.starts) != sorted(set(self.starts)):
            msg = f"shift starts must be distinct and ascending, got {self.starts}"
            raise ValueError(msg)
        if any(t.tzinfo is not None for t in self.starts):
            msg = "shift starts are wall-clock times; give the time zone as ShiftCalendar.tz"
            raise ValueError(msg)
        if self.names and len(self.names) != len(self.starts):
            msg = f"give one name per shift start: {len(self.starts)} starts, names {self.names}"
            raise ValueError(msg)
        if len(set(self.names)) != len(self.names) or not all(n.strip() for n in self.names):
            msg = f"shift names must be distinct and not empty, got {self.names}"
            raise ValueError(msg)

    def name(self, index: int) -> str:
        """The name of the ``index``-th shift of the day (0-based)."""
        return self.names[index] if self.names else f"shift {index + 1}"

    def shift_of(self, instant: datetime) -> tuple[date, int]:
        """The shift an instant falls in: the day it started and its index (0-based)."""
        local = instant.astimezone(self.tz)
        wall = local.time().replace(tzinfo=None)
        earlier = [i for i, t in enumerate(self.starts) if t <= wall]
        if earlier:
            return local.date(), earlier[-1]
        return local.date() - timedelta(days=1), len(self.starts) - 1

    def shift_label(self, instant: datetime) -> str:
        """``<day the shift started> <shift name>``, e.g. ``2026-10-24 night``."""
        day, index = self.shift_of(instant)
        return f"{day:%Y-%m-%d} {self.name(index)}"


def clock_time(text: str | time, what: str) -> time:
    """``"06:00"`` (or a TOML local time) as a wall-clock time; ``what`` names it in errors."""
    if isinstance(text, time):
        if text.tzinfo is not None or text.second or text.microsecond:
            msg = f"{what} must be a local time of day in whole minutes, got {text}"
            raise ValueError(msg)
        return text
    found = _CLOCK.fullmatch(str(text).strip())
    if found is None:
        msg = f"{what} must be a time of day as HH:MM (00:00 to 23:59), got {text!r}"
        raise ValueError(msg)
    return time(int(found[1]), int(found[2]))


def shift_calendar(
    shifts: Sequence[tuple[str, time, time | None]], tz: tzinfo = UTC
) -> ShiftCalendar:
    """A calendar from ``(name, start, end or None)`` entries, as a station file lists them.

    The entries must be sorted by start, with distinct names and starts, and
    cover the day: a shift that gives its ``end`` must end where the next one
    starts (the last one where the first starts, next morning), so no part is
    made in a gap between shifts or counted twice in an overlap.

    Raises:
        ValueError: the list is empty, unsorted, repeats a name or start, or
            leaves a gap or an overlap; the message names the shifts involved.
    """
    if not shifts:
        msg = 'list at least one shift, e.g. shifts = [{name = "day", start = "06:00"}]'
        raise ValueError(msg)
    names = [name for name, _, _ in shifts]
    starts = [start for _, start, _ in shifts]
    for (name_a, start_a, _), (name_b, start_b, _) in zip(shifts, shifts[1:], strict=False):
        if start_b <= start_a:
            msg = (
                f"shifts must be listed in the order they start, each at its own time: "
                f"{name_b!r} ({start_b:%H:%M}) comes after {name_a!r} ({start_a:%H:%M})"
            )
            raise ValueError(msg)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        msg = f"shift names must be distinct; {', '.join(map(repr, repeated))} is used twice"
        raise ValueError(msg)
    for i, (name, start, end) in enumerate(shifts):
        following_name, following_start, _ = shifts[(i + 1) % len(shifts)]
        if end is not None and end != following_start:
            short = _minutes_after(end, start) < _minutes_after(following_start, start)
            gap = "a gap" if short else "an overlap"
            msg = (
                f"shifts must cover the day: {name!r} ends at {end:%H:%M} but "
                f"{following_name!r} starts at {following_start:%H:%M} ({gap}); end it at "
                f"{following_start:%H:%M} or add a shift in between"
            )
            raise ValueError(msg)
    return ShiftCalendar(starts=tuple(starts), tz=tz, names=tuple(names))


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Berlin``), with an error that says what to write.

    Raises:
        ValueError: not an IANA name known to this computer.
    """
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = (
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or "
            "'America/Chicago' (`timedatectl list-timezones` lists them)"
        )
        raise ValueError(msg) from None


def local_zone() -> tzinfo:
    """This computer's own time zone, with its daylight-saving rules.

    Read from ``TZ``, else ``/etc/localtime``; where neither names a zone
    (Windows without ``TZ``) the current UTC offset is the best that is known,
    so a station file there should name its zone.
    """
    key = os.environ.get("TZ", "").lstrip(":")
    if key:
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a POSIX rule string such as "CET-1CEST": the C library's zone below
    if _LOCALTIME.exists():
        target = _LOCALTIME.resolve().as_posix()
        if "/zoneinfo/" in target:
            try:
                return ZoneInfo(target.split("/zoneinfo/", 1)[1])
            except (ZoneInfoNotFoundError, ValueError):
                pass  # not a known key: read the file's rules instead
        with open(_LOCALTIME, "rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    return datetime.now().astimezone().tzinfo or UTC


def _minutes_after(later: time, earlier: time) -> int:
    """Minutes from ``earlier`` forward to ``later`` on a 24-hour clock (0 to 1439)."""
    minutes = (later.hour * 60 + later.minute) - (earlier.hour * 60 + earlier.minute)
    return minutes % (24 * 60)
