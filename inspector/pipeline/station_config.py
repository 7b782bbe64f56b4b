"""One validated TOML file per station: source, model, rules, gate, storage.

A wrong value is refused with the key, the value and what was expected, so an
engineer can fix the file without reading code; the line never starts on an
invalid configuration.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inspector.core.errors import InspectorError
from inspector.core.verdict import Verdict
from inspector.decision.actuator import Actuator, LogActuator
from inspector.decision.class_rules import ClassRule
from inspector.decision.zones import Zone
from inspector.pipeline.line import DEFAULT_MODEL_DIR, LineSettings
from inspector.pipeline.plc_config import (
    PartCounterSection,
    SerialRelaySection,
    TraceabilitySection,
)
from inspector.pipeline.report_settings import ReportsSection
from inspector.storage.login_session import DEFAULT_IDLE_MINUTES
from inspector.storage.retention import RetentionPolicy


class ConfigError(InspectorError):
    """A station configuration file is missing, unreadable or invalid."""


def _as_tuple(source: str | tuple[str, ...]) -> tuple[str, ...]:
    return (source,) if isinstance(source, str) else source


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationSection(_Section):
    name: str = Field("station-1", min_length=1, max_length=64)


class CameraSection(_Section):
    source: str | tuple[str, ...] = "demo"
    loop: bool = False
    rate_hz: float | None = Field(None, ge=0)
    defect_rate: float | None = Field(None, ge=0, le=1)
    seed: int | None = None
    line_rate_hz: float | None = Field(None, gt=0)
    part_counter: PartCounterSection | None = None

    @model_validator(mode="after")
    def _sources_named(self) -> CameraSection:
        specs = _as_tuple(self.source)
        if not specs or not all(spec.strip() for spec in specs):
            msg = "source must name a camera, or a list of cameras for several views"
            raise ValueError(msg)
        return self


class ModelSection(_Section):
    path: Path = DEFAULT_MODEL_DIR
    device: Literal["auto", "cpu", "cuda"] = "auto"
    backend: Literal["auto", "torch", "onnxruntime"] = "auto"
    classifier: Path | None = None
    shadow: Path | None = None


class ZoneSection(_Section):
    name: str = Field(min_length=1)
    box: tuple[float, float, float, float]
    ignore: bool = False
    threshold: float | None = Field(None, gt=0)
    min_defect_area_px: int | None = Field(None, ge=0)

    def to_zone(self) -> Zone:
        return Zone(self.name, self.box, self.ignore, self.threshold, self.min_defect_area_px)

    @model_validator(mode="after")
    def _box_inside_image(self) -> ZoneSection:
        self.to_zone()  # raises ValueError with the zone's name
        return self


class ClassSection(_Section):
    name: str = Field(min_length=1)
    threshold: float | None = Field(None, gt=0)
    min_defect_area_px: int | None = Field(None, ge=0)
    min_confidence: float | None = Field(None, ge=0, le=1)

    def to_rule(self) -> ClassRule:
        return ClassRule(self.name, self.threshold, self.min_defect_area_px, self.min_confidence)

    @model_validator(mode="after")
    def _a_defect_class(self) -> ClassSection:
        self.to_rule()  # raises ValueError with the class's name
        return self


class DecisionSection(_Section):
    threshold: float | None = Field(None, gt=0)
    review_margin: float = Field(0.05, ge=0, lt=1)
    min_defect_area_px: int = Field(16, ge=0)
    fail_safe: Verdict = Verdict.REJECT
    deadline_ms: float | None = Field(None, gt=0)
    lighting_check: bool = True
    zones: tuple[ZoneSection, ...] = ()
    classes: tuple[ClassSection, ...] = ()
    on_classifier_good: Verdict = Verdict.REVIEW

    @model_validator(mode="after")
    def _one_rule_per_class(self) -> DecisionSection:
        names = [rule.name for rule in self.classes]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            msg = f"classes: {', '.join(twice)} named more than once; keep one table per class"
            raise ValueError(msg)
        return self


class ModbusSection(_Section):
    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)
    device_id: int = Field(1, ge=0, le=247)
    verdict_register: int = Field(0, ge=0, le=65534)
    reject_coil: int | None = Field(None, ge=0, le=65535)
    timeout_s: float = Field(1.0, gt=0, le=30)


class ActuatorSection(_Section):
    kind: Literal["none", "log", "modbus", "serial_relay"] = "none"
    gate_deadline_ms: float | None = Field(None, gt=0)
    modbus: ModbusSection | None = None
    serial_relay: SerialRelaySection | None = None

    @model_validator(mode="after")
    def _modbus_needs_addresses(self) -> ActuatorSection:
        if self.kind == "modbus" and self.modbus is None:
            msg = "kind = 'modbus' needs an [actuator.modbus] table with at least host"
            raise ValueError(msg)
        if self.kind == "serial_relay" and self.serial_relay is None:
            msg = "kind = 'serial_relay' needs an [actuator.serial_relay] table with at least port"
            raise ValueError(msg)
        return self


class StorageSection(_Section):
    database: str | None = None
    images: Path | None = None
    keep_good_every: int = Field(50, ge=0)
    # 0 keeps images forever / sets no quota (TOML has no null).
    keep_good_days: float = Field(30, ge=0)
    keep_reject_days: float = Field(365, ge=0)
    image_quota_gb: float = Field(0, ge=0)

    @model_validator(mode="after")
    def _evidence_kept_longer(self) -> StorageSection:
        self.retention_policy()  # raises ValueError saying which day counts clash
        return self

    def retention_policy(self) -> RetentionPolicy:
        """The retention policy these values describe."""
        return RetentionPolicy.from_settings(
            self.keep_good_days or None, self.keep_reject_days or None, self.image_quota_gb or None
        )


class AccessSection(_Section):
    idle_lock_minutes: float = Field(DEFAULT_IDLE_MINUTES, gt=0, le=24 * 60)


class StationConfig(_Section):
    """The whole file; every table is optional and has the defaults of the demo line."""

    station: StationSection = StationSection()
    camera: CameraSection = CameraSection()
    model: ModelSection = ModelSection()
    decision: DecisionSection = DecisionSection()
    actuator: ActuatorSection = ActuatorSection()
    storage: StorageSection = StorageSection()
    access: AccessSection = AccessSection()
    traceability: TraceabilitySection = TraceabilitySection()
    reports: ReportsSection = ReportsSection()

    @model_validator(mode="after")
    def _class_rules_need_a_classifier(self) -> StationConfig:
        if self.decision.classes and self.model.classifier is None:
            names = ", ".join(rule.name for rule in self.decision.classes)
            msg = (
                f"decision.classes has rules for {names} but there is no classifier to name "
                "classes: set [model] classifier to a classifier package folder"
            )
            raise ValueError(msg)
        return self

    def line_settings(self, *, max_parts: int | None = None) -> LineSettings:
        """The settings a line is built from."""
        first, *extra = _as_tuple(self.camera.source)
        counter = self.camera.part_counter
        return LineSettings(
            source=first,
            extra_sources=tuple(extra),
            model_dir=self.model.path,
            database=self.storage.database,
            station_name=self.station.name,
            threshold=self.decision.threshold,
            review_margin=self.decision.review_margin,
            min_defect_area_px=self.decision.min_defect_area_px,
            fail_safe=self.decision.fail_safe,
            rate_hz=self.camera.rate_hz,
            defect_rate=self.camera.defect_rate,
            loop=self.camera.loop,
            max_parts=max_parts,
            device=self.model.device,
            backend=self.model.backend,
            seed=self.camera.seed,
            deadline_ms=self.decision.deadline_ms,
            check_lighting=self.decision.lighting_check,
            zones=tuple(zone.to_zone() for zone in self.decision.zones),
            classifier_dir=self.model.classifier,
            shadow_model_dir=self.model.shadow,
            class_rules=tuple(rule.to_rule() for rule in self.decision.classes),
            on_classifier_good=self.decision.on_classifier_good,
            keep_good_every=self.storage.keep_good_every,
            images=self.storage.images,
            retention=self.storage.retention_policy(),
            idle_lock_minutes=self.access.idle_lock_minutes,
            gate_deadline_ms=self.actuator.gate_deadline_ms,
            serial_reader=self.traceability.reader,
            serial_registers=(
                self.traceability.modbus.to_registers() if self.traceability.modbus else None
            ),
            serial_counter=self.traceability.counter.to_format(),
            part_counter=counter.to_registers() if counter else None,
            part_counter_in_flight=counter.in_flight if counter else 0,
            line_rate_hz=self.camera.line_rate_hz,
            shift_calendar=self.reports.calendar(),
        )

    def build_actuator(self) -> Actuator | None:
        """The configured gate output, or None when the station has none."""
        if self.actuator.kind == "log":
            return LogActuator()
        if self.actuator.kind == "modbus" and self.actuator.modbus is not None:
            from inspector.decision.modbus_actuator import ModbusActuator, ModbusAddresses

            return ModbusActuator(ModbusAddresses(**self.actuator.modbus.model_dump()))
        if self.actuator.kind == "serial_relay" and self.actuator.serial_relay is not None:
            from inspector.decision.serial_relay import SerialRelayActuator

            return SerialRelayActuator(self.actuator.serial_relay.to_settings())
        return None


def load_station_config(path: str | Path) -> StationConfig:
    """Read and validate a station file; relative paths in it are relative to the file.

    Raises:
        ConfigError: the file is missing, is not TOML, or has invalid values (all
            of them listed, each with its key, value and what was expected).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read station configuration {file}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    return parse_station_config(text, file)


def parse_station_config(text: str, path: str | Path) -> StationConfig:
    """Validate station TOML text as the file ``path`` would be, without reading or writing it.

    The GUI's editor checks the engineer's unsaved text with exactly the rules
    (and messages) the line applies on start; relative paths resolve against
    ``path``'s folder, and messages name ``path``.

    Raises:
        ConfigError: the text is not TOML, or has invalid values (all of them
            listed, each with its key, value and what was expected).
    """
    file = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{file} is not valid TOML: {exc}"
        raise ConfigError(msg) from exc
    try:
        config = StationConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(f"  {_describe(error)}" for error in exc.errors())
        msg = f"{file} has invalid settings:\n{problems}"
        raise ConfigError(msg) from exc
    return _resolve_paths(config, file.parent)


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (misspelt?)"
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    return f"{key}{shown}: {error['msg']}"


def _resolve_source(spec: str, base: Path) -> str:
    path = base / spec
    if spec != "demo" and "://" not in spec and not spec.startswith("genicam:") and path.exists():
        return str(path.resolve())
    return spec


def _resolve_paths(config: StationConfig, base: Path) -> StationConfig:
    model = config.model
    if not model.path.is_absolute() and model.path != DEFAULT_MODEL_DIR:
        model = model.model_copy(update={"path": (base / model.path).resolve()})
    if model.classifier is not None and not model.classifier.is_absolute():
        model = model.model_copy(update={"classifier": (base / model.classifier).resolve()})
    if model.shadow is not None and not model.shadow.is_absolute():
        model = model.model_copy(update={"shadow": (base / model.shadow).resolve()})
    camera = config.camera
    resolved = tuple(_resolve_source(spec, base) for spec in _as_tuple(camera.source))
    source = resolved[0] if isinstance(camera.source, str) else resolved
    camera = camera.model_copy(update={"source": source})
    storage = config.storage
    if storage.images is not None and not storage.images.expanduser().is_absolute():
        storage = storage.model_copy(update={"images": (base / storage.images).resolve()})
    return config.model_copy(update={"model": model, "camera": camera, "storage": storage})
