"""Assembling a station from plain settings: the same wiring for the GUI and headless runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from inspector.acquisition.factory import open_source
from inspector.acquisition.multi_camera import MultiCameraSource
from inspector.acquisition.serial_reader import make_serial_reader
from inspector.acquisition.source import FrameSource
from inspector.core.inspection import Inspection
from inspector.core.verdict import Verdict
from inspector.decision import DecisionRules
from inspector.decision.actuator import Actuator
from inspector.decision.zones import Zone
from inspector.ml.backend import Backend, open_inferencer
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.gate import GateWorker
from inspector.pipeline.station import Scorer, Station
from inspector.storage.engine import default_database_path, open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.writer import RecordWriter

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "demo-line"


@dataclass(frozen=True)
class LineSettings:
    """Everything needed to start a line, with the defaults an operator expects.

    Attributes:
        source: Source spec (``demo``, a folder, a video file, a camera index or URL).
        extra_sources: More cameras looking at the same part (triggered together);
            the part's verdict at the gate is the worst of its views.
        model_dir: Model package; the shipped demo-line model by default.
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
        serial_reader: ``qr`` reads each part's serial from a QR code in its image.
    """

    source: str = "demo"
    extra_sources: tuple[str, ...] = ()
    model_dir: Path = DEFAULT_MODEL_DIR
    database: str | Path | None = None
    station_name: str = "station-1"
    threshold: float | None = None
    review_margin: float = 0.05
    min_defect_area_px: int = 16
    fail_safe: Verdict = Verdict.REJECT
    zones: tuple[Zone, ...] = ()
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
    keep_good_every: int = 50
    gate_deadline_ms: float | None = None
    serial_reader: Literal["none", "qr"] = "none"

    @property
    def database_target(self) -> str | Path:
        """The database actually used."""
        return self.database if self.database is not None else default_database_path()


def load_scorer(model_dir: str | Path, device: str = "auto", backend: Backend = "auto") -> Scorer:
    """Load the anomaly model (imports torch, unless on ONNX Runtime, only when a line is built)."""
    return open_inferencer(model_dir, backend, device=device)


@dataclass
class Line:
    """A built station with the storage it writes to."""

    station: Station
    engine: Engine
    image_store: ImageStore
    settings: LineSettings
    gate: GateWorker | None = None


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

    Raises:
        StorageError: the database cannot be opened.
        ModelPackageError: the model package cannot be loaded.
    """
    engine = open_database(settings.database_target)
    db_file = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    store = ImageStore.beside(Path(db_file)) if db_file else ImageStore(Path.cwd() / "images")
    if scorer is None:
        scorer = load_scorer(settings.model_dir, settings.device, settings.backend)
    threshold = settings.threshold if settings.threshold is not None else scorer.default_threshold
    rules = DecisionRules(
        threshold=threshold,
        review_margin=settings.review_margin,
        min_defect_area_px=settings.min_defect_area_px,
        fail_safe=settings.fail_safe,
        zones=settings.zones,
    )

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
    station = Station(
        lambda: _open_sources(settings),
        scorer,
        rules,
        sink=writer,
        gate=gate,
        station_name=settings.station_name,
        queue_size=settings.queue_size,
        max_batch=settings.max_batch,
        deadline_ms=settings.deadline_ms,
        max_parts=settings.max_parts,
        listeners=listeners,
        on_alarm=on_alarm,
        serial_reader=None if settings.serial_reader == "none" else make_serial_reader("qr"),
    )
    return Line(station=station, engine=engine, image_store=store, settings=settings, gate=gate)
