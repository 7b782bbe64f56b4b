"""Assembling a station from plain settings: the same wiring for the GUI and headless runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from inspector.acquisition.factory import open_source
from inspector.acquisition.multi_camera import MultiCameraSource
from inspector.acquisition.plc_registers import PlcRegisters
from inspector.acquisition.serial_counter import CounterFormat
from inspector.acquisition.source import FrameSource
from inspector.core.errors import ModelPackageError
from inspector.core.inspection import Inspection
from inspector.core.shifts import ShiftCalendar
from inspector.core.verdict import Verdict
from inspector.decision import DecisionRules
from inspector.decision.actuator import Actuator
from inspector.decision.class_rules import ClassRule, check_class_names
from inspector.decision.zones import Zone
from inspector.ml.backend import Backend, open_inferencer
from inspector.ml.combined_scorer import CombinedScorer, open_combined_scorer
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.deployed_models import apply_deployments
from inspector.pipeline.deployment_watcher import DeploymentWatcher
from inspector.pipeline.gate import GateWorker
from inspector.pipeline.line_io import build_missed_parts, build_serial_reader
from inspector.pipeline.shadow import ShadowRunner, shadow_rules
from inspector.pipeline.station import Scorer, Station
from inspector.pipeline.storage_sink import StorageSink
from inspector.resources_path import default_model_dir
from inspector.storage.engine import default_database_path, open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.login_session import DEFAULT_IDLE_MINUTES
from inspector.storage.retention import RetentionPolicy
from inspector.storage.retention_worker import RetentionWorker
from inspector.storage.writer import RecordWriter

#: The shipped demo model (the exported ONNX Runtime package inside a bundle).
DEFAULT_MODEL_DIR = default_model_dir()


@dataclass(frozen=True)
class LineSettings:
    """Everything needed to start a line, with the defaults an operator expects.

    Attributes:
        source: Source spec (``demo``, a folder, a video file, a camera index or URL).
        extra_sources: More cameras looking at the same part (triggered together);
            the part's verdict at the gate is the worst of its views.
        model_dir: Model package; the shipped demo-line model by default. A
            production model promoted to the station (``inspector model promote``,
            recorded in its database) takes its place.
        shadow_model_dir: A candidate model scoring every part beside production,
            driving nothing (shadow mode); a recorded shadow run takes its place.
        deployment_poll_s: How often a running line reads its station's production
            deployment, to switch model between two parts when one is promoted or
            rolled back (None: only at start).
        classifier_dir: Defect classifier package run beside the anomaly model
            (None: defects are named ``anomaly``); it names each defect's class.
        class_rules: Per-class threshold, minimum area and minimum confidence;
            they need ``classifier_dir`` and must name its classes.
        on_classifier_good: Verdict for a part over the threshold that the
            classifier calls ``good`` (REVIEW unless set otherwise).
        database: SQLite file or SQLAlchemy URL; the user's data folder by default.
        threshold: Override of the model's calibrated threshold.
        rate_hz: Parts per second for the demo line / folder replay (None: source default).
        defect_rate: Share of defective parts on the demo line.
        loop: Replay folders and videos in a loop.
        max_parts: Stop after this many parts.
        device: ``auto``, ``cpu`` or ``cuda``.
        backend: ``auto`` (what the model package was made for), ``torch`` or
            ``onnxruntime`` (an exported package; torch is then never imported).
        seed: Seed of the demo line (None: different parts every run).
        gate_deadline_ms: Verdicts reaching the reject gate later than this after
            acquisition are counted late and raise an alarm.
        serial_reader: ``qr`` reads each part's serial from a QR code in its image,
            ``modbus`` from ``serial_registers`` in the PLC as the part is
            acquired, ``counter`` numbers parts (``serial_counter``), continuing
            after the station's last stored number.
        part_counter: The PLC register counting parts at the trigger: parts
            counted but not acquired (camera down) are recorded fail-safe.
        part_counter_in_flight: Parts between the trigger and the camera's frame.
        line_rate_hz: The line's parts/s, for estimating parts missed during a
            camera outage without a part counter (None: ``rate_hz``, else measured).
        shift_calendar: The plant's time zone and shifts for the Reports tab
            (station file ``[reports]``); None: this computer's zone, 06/14/22 h.
        images: Image root shared by several stations (paths are stored relative
            to it); by default beside the SQLite file, or ``./images`` on PostgreSQL.
        retention: How long images are kept and the image folder's quota,
            applied by a low-priority thread while the line runs.
        idle_lock_minutes: The window logs a user out after this long without input.
        check_lighting: Frames lit unlike the model's good parts go to the fail-safe
            bin with an alarm (station file ``[decision] lighting_check``).
    """

    source: str = "demo"
    extra_sources: tuple[str, ...] = ()
    model_dir: Path = DEFAULT_MODEL_DIR
    shadow_model_dir: Path | None = None
    deployment_poll_s: float | None = 5.0
    database: str | Path | None = None
    station_name: str = "station-1"
    threshold: float | None = None
    review_margin: float = 0.05
    min_defect_area_px: int = 16
    fail_safe: Verdict = Verdict.REJECT
    zones: tuple[Zone, ...] = ()
    classifier_dir: Path | None = None
    class_rules: tuple[ClassRule, ...] = ()
    on_classifier_good: Verdict = Verdict.REVIEW
    rate_hz: float | None = None
    defect_rate: float | None = None
    loop: bool = False
    max_parts: int | None = None
    device: str = "auto"
    backend: Backend = "auto"
    seed: int | None = None
    queue_size: int = 32
    max_batch: int = 8
    deadline_ms: float | None = None
    check_lighting: bool = True
    keep_good_every: int = 50
    gate_deadline_ms: float | None = None
    serial_reader: Literal["none", "qr", "modbus", "counter"] = "none"
    serial_registers: PlcRegisters | None = None
    serial_counter: CounterFormat = CounterFormat()
    part_counter: PlcRegisters | None = None
    part_counter_in_flight: int = 0
    line_rate_hz: float | None = None
    shift_calendar: ShiftCalendar | None = None
    images: Path | None = None
    retention: RetentionPolicy = RetentionPolicy()
    idle_lock_minutes: float = DEFAULT_IDLE_MINUTES

    @property
    def database_target(self) -> str | Path:
        """The database actually used."""
        return self.database if self.database is not None else default_database_path()


def load_scorer(model_dir: str | Path, device: str = "auto", backend: Backend = "auto") -> Scorer:
    """Load the anomaly model (imports torch, unless on ONNX Runtime, only when a line is built).

    Without localisation maps: a line judges and draws the plain map only (the
    localisation head and the evened map cost about 15 % of predict's throughput).
    """
    return open_inferencer(model_dir, backend, device=device, locate=False)


@dataclass
class Line:
    """A built station with the storage it writes to."""

    station: Station
    engine: Engine
    image_store: ImageStore
    settings: LineSettings
    gate: GateWorker | None = None
    retention: RetentionWorker | None = None


def _open_sources(settings: LineSettings) -> FrameSource:
    specs = (settings.source, *settings.extra_sources)
    sources = [
        open_source(
            spec,
            loop=settings.loop,
            rate_hz=settings.rate_hz,
            defect_rate=settings.defect_rate,
            seed=None if settings.seed is None else settings.seed + index,
        )
        for index, spec in enumerate(specs)
    ]
    return sources[0] if len(sources) == 1 else MultiCameraSource(sources)


def build_line(
    settings: LineSettings,
    *,
    scorer: Scorer | None = None,
    listeners: Sequence[Callable[[Inspection], None]] = (),
    on_alarm: Callable[[Alarm], None] | None = None,
    actuator: Actuator | None = None,
) -> Line:
    """Open the database, load the model and wire a ready-to-start station.

    A ``scorer`` passed in without a classifier gets the one ``settings``
    names, so a line always runs the classifier its settings ask for.

    Raises:
        StorageError: the database cannot be opened.
        ModelPackageError: the model or classifier package cannot be loaded, or
            class rules name classes the classifier does not have (or there is
            no classifier).
    """
    engine = open_database(settings.database_target)
    deployed = apply_deployments(settings, engine)
    if deployed.settings.model_dir != settings.model_dir:
        scorer = None  # the station runs the model promoted to it, not the one passed in
    settings = deployed.settings
    if scorer is None:
        scorer = load_scorer(settings.model_dir, settings.device, settings.backend)
    scorer = with_classifier(scorer, settings)
    store = ImageStore.for_database(engine, settings.images)
    rules = line_rules(settings, scorer.default_threshold)

    # The writer and the gate report through the station's alarms; the closures
    # see ``station`` once it exists, before either output is started.
    def storage_trouble(message: str) -> None:
        station.raise_alarm(Severity.WARNING, "storage", message)

    def gate_alarm(alarm: Alarm) -> None:
        station.raise_alarm(alarm.severity, alarm.source, alarm.message)

    gate = None
    if actuator is not None:
        gate = GateWorker(actuator, deadline_ms=settings.gate_deadline_ms, on_alarm=gate_alarm)

    writer = RecordWriter(
        engine,
        store,
        station=settings.station_name,
        keep_good_every=settings.keep_good_every,
        on_error=storage_trouble,
    )
    shadow = None
    if settings.shadow_model_dir is not None:
        candidate = load_scorer(settings.shadow_model_dir, settings.device, settings.backend)
        shadow = ShadowRunner(
            candidate,
            shadow_rules(rules, candidate),
            writer.submit_shadow,
            max_batch=settings.max_batch,
            on_alarm=gate_alarm,
            check_lighting=settings.check_lighting,
        )
    services = []
    if settings.deployment_poll_s is not None:
        line_settings = settings

        def load(model_dir: Path | None, classifier_dir: Path | None) -> Scorer:
            chosen = replace(
                line_settings,
                model_dir=model_dir or line_settings.model_dir,
                classifier_dir=classifier_dir or line_settings.classifier_dir,
            )
            loaded = load_scorer(chosen.model_dir, chosen.device, chosen.backend)
            return with_classifier(loaded, chosen)

        def swap(new: Scorer) -> None:
            keep = line_settings.threshold is not None  # a fixed threshold stays fixed
            rules = None if keep else replace(station.rules, threshold=new.default_threshold)
            station.swap_scorer(new, rules=rules)

        services.append(
            DeploymentWatcher(
                engine,
                settings.station_name,
                deployed.production_id,
                load=load,
                swap=swap,
                poll_s=settings.deployment_poll_s,
                on_alarm=gate_alarm,
                applied_classifier_id=deployed.classifier_id,
            )
        )
    retention = None
    if settings.retention.does_anything:
        retention = RetentionWorker(engine, store, settings.retention, on_report=storage_trouble)
    station = Station(
        lambda: _open_sources(settings),
        scorer,
        rules,
        sink=StorageSink(writer, retention),
        gate=gate,
        station_name=settings.station_name,
        queue_size=settings.queue_size,
        max_batch=settings.max_batch,
        deadline_ms=settings.deadline_ms,
        max_parts=settings.max_parts,
        listeners=listeners,
        on_alarm=on_alarm,
        serial_reader=build_serial_reader(settings, engine),
        missed_parts=build_missed_parts(settings),
        shadow=shadow,
        services=services,
        check_lighting=settings.check_lighting,
    )
    for note in deployed.notes:
        station.raise_alarm(Severity.WARNING, "model", note)
    return Line(
        station=station,
        engine=engine,
        image_store=store,
        settings=settings,
        gate=gate,
        retention=retention,
    )


def line_rules(settings: LineSettings, default_threshold: float) -> DecisionRules:
    """The decision rules of a line: the settings' threshold or the model's, zones, classes.

    One function for the station and ``inspector predict --config``, so a
    station file's rules judge images the same way in both.
    """
    threshold = settings.threshold if settings.threshold is not None else default_threshold
    return DecisionRules(
        threshold=threshold,
        review_margin=settings.review_margin,
        min_defect_area_px=settings.min_defect_area_px,
        fail_safe=settings.fail_safe,
        zones=settings.zones,
        classes=settings.class_rules,
        on_classifier_good=settings.on_classifier_good,
    )


def with_classifier(scorer: Scorer, settings: LineSettings) -> Scorer:
    """The scorer with the settings' classifier beside it, class rules checked against it."""
    if settings.classifier_dir is not None and not isinstance(scorer, CombinedScorer):
        scorer = open_combined_scorer(
            scorer, settings.classifier_dir, device=settings.device, max_batch=settings.max_batch
        )
    if settings.class_rules:
        if not isinstance(scorer, CombinedScorer):
            names = ", ".join(rule.name for rule in settings.class_rules)
            msg = (
                f"class rules ({names}) need a defect classifier: set [model] classifier "
                "to a classifier package, or remove the [[decision.classes]] tables"
            )
            raise ModelPackageError(msg)
        package = scorer.classifier.package
        where = f"{package.version} ({package.path})" if package.path else package.version
        check_class_names(settings.class_rules, scorer.classes, where)
    return scorer
