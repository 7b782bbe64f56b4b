"""Decision zones in a station file's text, read and rewritten with tomlkit.

The zone drawer edits ``[[decision.zones]]`` of the engineer's file, not a
copy: everything else in the file (comments, order, blank lines) is kept, and
a zone that keeps its name keeps its comments. Boxes are fractions of the
image rounded to :data:`BOX_DECIMALS`, so a zone written and read back is the
same :class:`~inspector.decision.zones.Zone`, and a file diff stays short.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import replace

import tomlkit
from pydantic import ValidationError
from tomlkit.items import AoT, Table, Whitespace

from inspector.decision.zones import Zone
from inspector.pipeline.station_config import ConfigError, ZoneSection

#: 1/10,000 of the image: finer than a pixel of any camera the line uses.
BOX_DECIMALS = 4
_FIELDS = ("name", "box", "ignore", "threshold", "min_defect_area_px")


def box_from_corners(
    start: tuple[float, float], end: tuple[float, float], width: int, height: int
) -> tuple[float, float, float, float]:
    """A zone box from two corners dragged in image pixels (any order, clamped to the image).

    Args:
        start: ``(x, y)`` where the drag began, in pixels of the reference image.
        end: ``(x, y)`` where it ended.
        width: The reference image's width in pixels.
        height: Its height.

    Returns:
        ``(x, y, w, h)`` as fractions of the image, rounded to :data:`BOX_DECIMALS`.

    Raises:
        ValueError: the rectangle is empty once rounded (a click, not a drag).
    """
    if width <= 0 or height <= 0:
        msg = f"the reference image has no pixels ({width} x {height}): choose another image"
        raise ValueError(msg)
    xs = sorted(min(max(v / width, 0.0), 1.0) for v in (start[0], end[0]))
    ys = sorted(min(max(v / height, 0.0), 1.0) for v in (start[1], end[1]))
    x0, x1 = (round(v, BOX_DECIMALS) for v in xs)
    y0, y1 = (round(v, BOX_DECIMALS) for v in ys)
    if x1 <= x0 or y1 <= y0 or x0 >= 1 or y0 >= 1:
        msg = "a zone needs an area: drag a rectangle over the image, not a click"
        raise ValueError(msg)
    return (x0, y0, round(x1 - x0, BOX_DECIMALS), round(y1 - y0, BOX_DECIMALS))


def read_zones(text: str) -> tuple[Zone, ...]:
    """The zones of station-file text, checked as the line checks them.

    Only ``decision.zones`` is read, so zones can be drawn while another part
    of the file is still being fixed.

    Raises:
        ConfigError: the text is not TOML, or a zone is invalid (its index and key named).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"the station file is not valid TOML ({exc}): fix it in the text editor first"
        raise ConfigError(msg) from exc
    decision = data.get("decision", {})
    if not isinstance(decision, dict):
        msg = "decision must be a [decision] table: rewrite it as one to hold zones"
        raise ConfigError(msg)
    raw = decision.get("zones", [])
    if not isinstance(raw, list):
        msg = "decision.zones must be a list of [[decision.zones]] tables"
        raise ConfigError(msg)
    zones = []
    for index, item in enumerate(raw):
        try:
            zones.append(ZoneSection.model_validate(item).to_zone())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'zone'}: {e['msg']}" for e in exc.errors()
            )
            msg = f"decision.zones.{index} is invalid: {problems}"
            raise ConfigError(msg) from exc
    return tuple(zones)


def write_zones(text: str, zones: Sequence[Zone]) -> str:
    """``text`` with its ``[[decision.zones]]`` replaced by ``zones``, the rest untouched.

    Raises:
        ConfigError: the text is not TOML (fix it first) or two zones share a name
            (names tell zones apart in the file, the audit log and the records).
    """
    names = [zone.name for zone in zones]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        msg = f"zone names must differ; used more than once: {', '.join(twice)}: rename them"
        raise ConfigError(msg)
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        msg = f"the station file is not valid TOML ({exc}): fix it in the text editor first"
        raise ConfigError(msg) from exc
    if "decision" not in doc:
        doc["decision"] = tomlkit.table()
    decision = doc["decision"]
    if not isinstance(decision, Table):
        msg = "decision must be a [decision] table to hold zones: rewrite it as one"
        raise ConfigError(msg)
    previous = decision.get("zones")
    kept = (
        {str(table.get("name")): table for table in previous} if isinstance(previous, AoT) else {}
    )
    if "zones" in decision:
        del decision["zones"]
    if not zones:
        return tomlkit.dumps(doc)
    tables = tomlkit.aot()
    for zone in zones:
        table = kept.get(zone.name)
        tables.append(_zone_table(zone, table if table is not None else tomlkit.table()))
    tables[-1].add(tomlkit.nl())  # the array puts blank lines between tables, not after the last
    decision["zones"] = tables
    return tomlkit.dumps(doc)


def _zone_table(zone: Zone, table: Table) -> Table:
    """Write ``zone`` into ``table``, keeping unchanged keys (and their comments) as they are.

    Trailing blank lines are dropped: the array of tables spaces its tables itself.
    """
    values = {
        "name": zone.name,
        "box": list(zone.box),
        "ignore": zone.ignore if (zone.ignore or "ignore" in table) else None,
        "threshold": zone.threshold,
        "min_defect_area_px": zone.min_defect_area_px,
    }
    for key in _FIELDS:
        value = values[key]
        if value is None:
            if key in table:
                del table[key]
        elif table.get(key) != value:
            table[key] = value
    body = table.value.body
    while body and body[-1][0] is None and isinstance(body[-1][1], Whitespace):
        body.pop()
    return table


def zone_with(zone: Zone, field: str, text: str) -> Zone:
    """``zone`` with one field set from what the engineer typed in the zone table.

    An empty threshold or minimum area means "the station's"; box fields are
    fractions of the image.

    Raises:
        ValueError: the text is not a valid value for the field (the message says which).
    """
    text = text.strip()
    if field == "name":
        if not text:
            msg = "a zone needs a name (it is shown on images and stored in the rules)"
            raise ValueError(msg)
        return replace(zone, name=text)
    if field in ("threshold", "min_defect_area_px"):
        kind = float if field == "threshold" else int
        value = None if not text else _number(field, text, kind)
        return replace(zone, **{field: value})
    if field in ("x", "y", "w", "h"):
        box = list(zone.box)
        box["xywh".index(field)] = round(_number(field, text, float), BOX_DECIMALS)
        return replace(zone, box=tuple(box))
    msg = f"zones have no field {field!r}: use name, threshold, min_defect_area_px, x, y, w or h"
    raise ValueError(msg)


def _number(field: str, text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number of pixels" if kind is int else "a number"
        msg = f"{field} must be {what}, got {text!r}"
        raise ValueError(msg) from None
