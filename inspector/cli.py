"""The ``inspector`` command: the GUI, headless runs and model fitting."""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from inspector.cli_admin import add_prune_command, add_user_commands
from inspector.cli_config import add_config_commands
from inspector.cli_dataset import add_dataset_commands
from inspector.cli_explain import add_explain_commands
from inspector.cli_export import add_export_commands
from inspector.cli_model import add_model_commands
from inspector.cli_quality import add_quality_commands
from inspector.cli_report import add_report_command
from inspector.cli_robustness import add_robustness_commands
from inspector.cli_train import add_train_commands
from inspector.cli_worker import call_on_worker
from inspector.core.errors import InspectorError
from inspector.ml.package_fields import AS_CAPTURED, EXPOSURES, STANDARDISED
from inspector.pipeline.line import DEFAULT_MODEL_DIR, LineSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Libraries that narrate routine work at INFO: fontTools logs some 150 lines for
#: the fonts of every PDF report. Only their warnings reach the console.
QUIET_LOGGERS = ("fontTools", "matplotlib", "PIL")

#: Builds the station's reject-gate output (None: no gate).
ActuatorFactory = Callable[[], object]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(verbose=args.verbose)
    command = args.command or "gui"
    try:
        if command == "fit":
            return _fit(args)
        if command == "fit-demo":
            return _fit_demo(args)
        if command == "db" and args.db_command == "backup":
            return _db(args)
        if command == "user" and args.user_command == "add":
            return _user(args)
        if command == "audit":
            return _audit(args)
        if command == "learn-good":
            return _learn_good(args)
        handler = getattr(args, "handler", None)
        if handler is not None:  # report, predict, evaluate, export, dataset
            return handler(args)
        if command != "run":
            if getattr(args, "smoke_test", False):
                return _gui_smoke_test()
            return _gui(LineSettings(), None)
        settings, actuator_factory = _settings(args)
        if args.headless:
            return _run_headless(settings, actuator_factory)
        return _gui(settings, actuator_factory, station_file=args.config)
    except InspectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _configure_logging(*, verbose: bool) -> None:
    """Inspector's own messages at INFO (DEBUG with -v); libraries' chatter left out."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inspector",
        description="Industrial defect inspection. With no command, opens the window "
        "on the built-in demo line.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open the window (the default)")
    gui.add_argument(
        "--smoke-test",
        action="store_true",
        help="check an install: the demo line with a throwaway database; the window closes "
        "by itself after a few parts (exit 0) or a minute without them (exit 1)",
    )

    run = sub.add_parser("run", help="run a line (in the window, or --headless)")
    run.add_argument("--headless", action="store_true", help="no window: print a summary")
    run.add_argument(
        "--config",
        type=Path,
        help="station TOML file (see resources/station.toml); --frames, --db, --backend, "
        "--classifier, --no-lighting-check apply",
    )
    run.add_argument(
        "--source",
        default="demo",
        help="demo | an image folder | a video file | a camera index | an rtsp/http URL",
    )
    run.add_argument("--frames", type=int, help="stop after N parts")
    run.add_argument("--db", help="SQLite file or SQLAlchemy URL (default: user data folder)")
    run.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model package folder")
    run.add_argument("--threshold", type=float, help="override the model's threshold")
    run.add_argument(
        "--classifier", type=Path, help="classifier package run beside the model: names defects"
    )
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    run.add_argument(
        "--backend",
        choices=["auto", "torch", "onnxruntime"],
        help="model backend (default auto: what the package was made for)",
    )
    run.add_argument("--rate", type=float, help="parts/s of the demo line or a folder replay")
    run.add_argument("--defect-rate", type=float, help="share of defective demo parts (0..1)")
    run.add_argument("--seed", type=int, help="seed of the demo line")
    run.add_argument("--loop", action="store_true", help="replay a folder or video forever")
    run.add_argument("--station", default="station-1", help="station name stored with records")
    run.add_argument("--deadline-ms", type=float, help="fail-safe parts decided later than this")
    run.add_argument(
        "--no-lighting-check",
        dest="check_lighting",
        action="store_false",
        help="judge frames lit unlike the model's good parts instead of sending them fail-safe",
    )

    fit = sub.add_parser("fit", help="teach an anomaly model from good images only")
    fit.add_argument("--good", required=True, type=Path, help="folder of good images")
    fit.add_argument("--val-good", type=Path, help="held-out good images for the threshold")
    fit.add_argument("--out", required=True, type=Path, help="model package folder to write")
    _add_fit_options(fit)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    backup = db_sub.add_parser("backup", help="online copy of the database, safe while a line runs")
    backup.add_argument("path", type=Path, help="new file to write the copy to")
    backup.add_argument("--db", help="database to copy (default: the user data folder's)")
    add_prune_command(db_sub)

    user = sub.add_parser("user", help="users and roles")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["operator", "qa", "engineer", "admin"])
    add.add_argument("--by", default="admin", help="who is adding the user (audited)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--db", help="database (default: the user data folder's)")
    add_user_commands(user_sub)

    learn = sub.add_parser(
        "learn-good", help="'this is OK': teach the model stored false rejects, as a new version"
    )
    learn.add_argument("--model", required=True, type=Path, help="model package in use")
    learn.add_argument("--out", required=True, type=Path, help="folder for the new package")
    learn.add_argument("--inspection", required=True, type=int, nargs="+", help="record ids")
    learn.add_argument("--by", required=True, help="who says these parts are OK (audited)")
    learn.add_argument("--db", help="database (default: the user data folder's)")
    learn.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    for name, text in (("verify", "check the hash chain"), ("list", "print the newest entries")):
        audit_sub.add_parser(name, help=text).add_argument("--db", help="database")

    add_report_command(sub)
    add_quality_commands(sub)
    add_robustness_commands(sub)
    add_explain_commands(sub)
    add_export_commands(sub)
    add_dataset_commands(sub)
    add_train_commands(sub)
    add_model_commands(sub)
    add_config_commands(sub)

    demo = sub.add_parser("fit-demo", help="fit the demo line's model from rendered good parts")
    demo.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    demo.add_argument("--parts", type=int, default=240, help="good parts to render")
    _add_fit_options(demo)
    return parser


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--bank-size", type=int, default=4000, help="memory bank patches")
    parser.add_argument("--name", default=None, help="model name used in its version string")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing package")
    parser.add_argument(
        "--input-size", type=int, default=224, help="side of the square model input"
    )
    parser.add_argument("--sigma", type=float, default=4.0, help="map smoothing in input pixels")
    parser.add_argument(
        "--score-top-fraction",
        type=float,
        default=0.01,
        help="image score = mean of this share of the map's highest values (0 = max)",
    )
    parser.add_argument(
        "--backbone",
        default=None,
        choices=["lite0", "lite1", "lite2"],
        help="EfficientNet-Lite member: lite0 is fastest, lite1/lite2 see finer detail "
        "(default: lite2 for fit, which caught defects best on magnetic-tile; lite0 for fit-demo)",
    )
    parser.add_argument(
        "--target-false-reject",
        type=float,
        default=0.01,
        help="share of good parts the default threshold may reject (needs 2/share good "
        "scores, else the held-out maximum plus a margin is used)",
    )
    parser.add_argument(
        "--global-stage",
        type=_stage_or_none,
        default=4,
        help="backbone stage of the image-level branch, 'none' for a patch-only model",
    )
    parser.add_argument(
        "--global-grid",
        type=int,
        default=4,
        help="the image-level branch compares parts on a grid of N x N cells "
        "(1 = pooled over the whole image)",
    )
    parser.add_argument(
        "--retrieval",
        type=int,
        default=None,
        metavar="K",
        help="compare each part's patches with its K most similar good images only "
        "(default 10 with the image-level branch; 0 = one coreset bank of all images)",
    )
    parser.add_argument(
        "--gallery-fraction",
        type=float,
        default=0.25,
        help="with --retrieval: share of each good image's patches kept",
    )
    parser.add_argument(
        "--density-weight",
        type=float,
        default=None,
        help="with retrieval: share of the matched good patch's own spacing taken off "
        "each patch distance in the localisation map (predict --maps, pixel AUROC), so busy "
        "and plain areas compare alike "
        "(default 0.5 with retrieval, which located defects best on magnetic-tile; 0 = off). "
        "The score, defect regions, zones and the heat overlay stay on the plain map",
    )
    parser.add_argument(
        "--exposure",
        choices=EXPOSURES,
        default=None,
        help="standardised: each image's grey levels are standardised before the network "
        "sees it, so lighting differences between parts are not taken for defects, but a "
        "part that is only darker or brighter as a whole looks normal (default for fit, "
        "which caught more defects on magnetic-tile); as-captured: the camera's grey levels "
        "(default for fit-demo)",
    )
    parser.add_argument(
        "--synthetic-epochs",
        type=int,
        default=None,
        metavar="N",
        help="epochs of teaching a localisation head on synthetic defects painted on the "
        "good images (bands of other texture, stains, cracks, holes, ...): its map is added to "
        "the localisation map only, never to the score (default 20 for fit, about 3 minutes "
        "for 600 images on 2 CPU cores; 0 for fit-demo; 0 = no head)",
    )
    parser.add_argument(
        "--head-weight",
        type=float,
        default=1.0,
        help="the localisation head's share of the localisation map, in spreads of the "
        "distance map on good parts (default 1.0)",
    )


def _retrieval_k(args: argparse.Namespace) -> int:
    """``--retrieval`` as given, else the default for the chosen branches."""
    from inspector.ml.retrieval import DEFAULT_RETRIEVAL_K

    if args.retrieval is not None:
        return args.retrieval
    return DEFAULT_RETRIEVAL_K if args.global_stage is not None else 0


def _density_weight(args: argparse.Namespace, retrieval_k: int) -> float:
    """``--density-weight`` as given, else the default for retrieval (0 without it)."""
    from inspector.ml.retrieval import DEFAULT_DENSITY_WEIGHT

    if args.density_weight is not None:
        return args.density_weight
    return DEFAULT_DENSITY_WEIGHT if retrieval_k else 0.0


def _stage_or_none(text: str) -> int | None:
    if text.lower() == "none":
        return None
    if not text.isdigit() or not 0 <= int(text) <= 6:
        msg = f"expected a backbone stage 0..6 or 'none', got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _settings(args: argparse.Namespace) -> tuple[LineSettings, ActuatorFactory | None]:
    if args.frames is not None and args.frames < 1:
        msg = f"--frames must be at least 1, got {args.frames}"
        raise ValueError(msg)
    if args.config is not None:
        from inspector.pipeline.station_config import load_station_config

        config = load_station_config(args.config)
        settings = config.line_settings(max_parts=args.frames)
        if args.db is not None:
            settings = replace(settings, database=args.db)
        if args.backend is not None:
            settings = replace(settings, backend=args.backend)
        if args.classifier is not None:
            settings = replace(settings, classifier_dir=args.classifier)
        if not args.check_lighting:
            settings = replace(settings, check_lighting=False)
        return settings, config.build_actuator
    settings = LineSettings(
        source=args.source,
        model_dir=args.model,
        classifier_dir=args.classifier,
        database=args.db,
        station_name=args.station,
        threshold=args.threshold,
        rate_hz=args.rate,
        defect_rate=args.defect_rate,
        loop=args.loop,
        max_parts=args.frames,
        device=args.device,
        backend=args.backend or "auto",
        seed=args.seed,
        deadline_ms=args.deadline_ms,
        check_lighting=args.check_lighting,
    )
    return settings, None


def _run_headless(settings: LineSettings, actuator_factory: ActuatorFactory | None) -> int:
    from inspector.pipeline.line import build_line

    actuator = actuator_factory() if actuator_factory else None
    line = build_line(settings, actuator=actuator)
    station = line.station
    started = time.monotonic()
    station.start()
    try:
        while not station.wait(timeout=0.5):
            pass
    except KeyboardInterrupt:
        print("interrupted: finishing queued parts and records...", file=sys.stderr)
    station.stop()
    elapsed = time.monotonic() - started
    print(_summary(line, elapsed))
    failed = any(alarm.severity.value == "error" for alarm in station.alarms)
    return EXIT_FAILED if failed else EXIT_OK


def _summary(line, elapsed: float) -> str:  # noqa: ANN001 - pipeline.line.Line
    station = line.station
    snap = station.snapshot()
    rate = snap.inspected / elapsed if elapsed > 0 else 0.0  # parts: the counters count parts
    lines = [
        f"Inspected {_parts(snap.inspected, station.views)} from "
        f"{station.source_name or line.settings.source} "
        f"in {elapsed:.1f} s ({rate:.1f} parts/s) on {station.device_label}",
        f"  accept {snap.accepted}  reject {snap.rejected}  review {snap.review}  "
        f"not inspected {snap.not_inspected}  yield {_pct(snap.yield_pct)}",
        f"  latency p50 {snap.latency_p50_ms:.0f} ms  p99 {snap.latency_p99_ms:.0f} ms  "
        f"inference {snap.inference_p50_ms:.1f} ms/part  threshold {station.rules.threshold:.4g}",
    ]
    truth = snap.truth
    if truth.defective_total or truth.good_total:
        lines.append(
            f"  known truth: caught {truth.defective_caught}/{truth.defective_total} defective "
            f"({_pct(100 * truth.catch_rate)}), accepted {truth.good_accepted}/{truth.good_total} "
            f"good ({_pct(100 * truth.good_accept_rate)})"
        )
    if line.gate is not None:
        p50, p99 = line.gate.latency_ms()
        lines.append(
            f"  gate {line.gate.actuator.name}: {line.gate.delivered} verdicts delivered, "
            f"{line.gate.late} late; frame-to-gate latency p50 {p50:.0f} ms  p99 {p99:.0f} ms"
        )
    downtime = station.missed_parts.snapshot()
    if downtime.outages or downtime.has_counter:
        lines.append(f"  {downtime.describe()}")
    lines.append(f"  records: {line.engine.url.render_as_string(hide_password=True)}")
    lines.append(f"  images: {line.image_store.root}")
    lines.extend(f"  alarm: {alarm}" for alarm in station.alarms)
    return "\n".join(lines)


def _parts(parts: int, views: int) -> str:
    if views == 1:
        return f"{parts} parts"
    return f"{parts} parts ({parts * views} views from {views} cameras)"


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} %"


def _fit(args: argparse.Namespace) -> int:
    from inspector.ml.patchcore import FIT_BACKBONE
    from inspector.training.fit_anomaly import SYNTHETIC_EPOCHS

    args.backbone = args.backbone or FIT_BACKBONE
    args.exposure = args.exposure or STANDARDISED
    if args.synthetic_epochs is None:
        args.synthetic_epochs = SYNTHETIC_EPOCHS
    return _fit_and_report(args, args.good, args.name or args.out.name, val_good=args.val_good)


def _fit_demo(args: argparse.Namespace) -> int:
    from inspector.acquisition.demo_line import DemoLine
    from inspector.ml.efficientnet_lite import DEFAULT_VARIANT

    args.backbone = args.backbone or DEFAULT_VARIANT
    args.exposure = args.exposure or AS_CAPTURED

    with DemoLine(rate_hz=0, defect_rate=0.0, seed=args.seed, max_parts=args.parts) as line:
        images = [frame.image for frame in line]
    return _fit_and_report(args, images, args.name or "demo-line")


def _fit_and_report(args: argparse.Namespace, good: object, name: str, **extra: object) -> int:
    """Fit with the options ``_add_fit_options`` gave both fit commands, on a worker thread."""
    from inspector.training.fit_anomaly import fit_anomaly

    retrieval_k = _retrieval_k(args)
    result = call_on_worker(
        lambda: fit_anomaly(
            good,
            args.out,
            bank_size=args.bank_size,
            device=args.device,
            seed=args.seed,
            name=name,
            overwrite=args.overwrite,
            input_size=args.input_size,
            sigma=args.sigma,
            score_top_fraction=args.score_top_fraction,
            backbone=args.backbone,
            global_stage=args.global_stage,
            global_grid=args.global_grid,
            target_false_reject=args.target_false_reject,
            retrieval_k=retrieval_k,
            gallery_fraction=args.gallery_fraction,
            density_weight=_density_weight(args, retrieval_k),
            exposure=args.exposure,
            synthetic_epochs=args.synthetic_epochs or 0,
            head_weight=args.head_weight,
            progress=_print_progress,
            **extra,
        ),
        name="fit",
    )
    _print_fit(result)
    return EXIT_OK


def _db(args: argparse.Namespace) -> int:
    from inspector.storage.backup import backup_database
    from inspector.storage.engine import default_database_path, open_database

    engine = open_database(args.db or default_database_path())
    try:
        copy = backup_database(
            engine,
            args.path,
            progress=lambda done, total: _print_progress("backup pages", done, total),
        )
    finally:
        engine.dispose()
    print(f"backup written to {copy}")
    return EXIT_OK


def _user(args: argparse.Namespace) -> int:
    import getpass

    from inspector.storage.engine import default_database_path, open_database
    from inspector.storage.users import Role, add_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            print("error: the passwords differ", file=sys.stderr)
            return EXIT_USAGE
    engine = open_database(args.db or default_database_path())
    user = add_user(engine, args.name, Role(args.role), password, actor=args.by)
    print(f"user {user.name} added with role {user.role.value}")
    return EXIT_OK


def _learn_good(args: argparse.Namespace) -> int:
    from inspector.storage.engine import default_database_path, open_database
    from inspector.storage.image_store import ImageStore
    from inspector.training.learn_good import learn_good_parts

    database = Path(args.db) if args.db else default_database_path()
    engine = open_database(database)
    result = learn_good_parts(
        engine,
        ImageStore.beside(database),
        args.model,
        args.inspection,
        args.out,
        actor=args.by,
        device=args.device,
    )
    print(
        f"model {result.new_version} saved to {result.package_dir} "
        f"(from {result.old_version}, {result.added_patches} good patches added); "
        "switch the station to it to use it"
    )
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    from inspector.storage.audit import audit_entries, verify_audit
    from inspector.storage.engine import default_database_path, open_database

    engine = open_database(args.db or default_database_path())
    if args.audit_command == "list":
        for e in audit_entries(engine, limit=50):
            change = f"{e.old_value} -> {e.new_value}" if e.old_value else (e.new_value or "")
            reason = f" ({e.reason})" if e.reason else ""
            print(f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor}: {e.action} {e.subject} {change}{reason}")
        return EXIT_OK
    check = verify_audit(engine)
    if check.ok:
        print(f"audit log intact: {check.entries} entries, hash chain verified")
        return EXIT_OK
    print(
        f"audit log TAMPERED: entry {check.first_bad_id} does not match its hash chain",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _print_progress(stage: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\r{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)


def _print_fit(result) -> None:  # noqa: ANN001 - training.fit_anomaly.FitResult
    print(f"saved model {result.version} to {result.package_dir}")
    print(f"calibrated threshold: {result.threshold:.6g}")
    if result.lighting is not None:
        print(
            f"lighting the line accepts: mean grey {result.lighting.brightness}, grey spread "
            f"{result.lighting.contrast} (other frames go to the fail-safe bin with an alarm)"
        )


def _gui(
    settings: LineSettings,
    actuator_factory: ActuatorFactory | None,
    *,
    smoke_test: bool = False,
    station_file: Path | None = None,
) -> int:
    from inspector.ui.app import run_app

    return run_app(
        settings,
        actuator_factory=actuator_factory,
        smoke_test=smoke_test,
        station_file=station_file,
    )


def _gui_smoke_test() -> int:
    """The window on the demo line with a throwaway database: it checks an install, and
    demo parts must not land in the station's real records."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="inspector-smoke-", ignore_cleanup_errors=True) as tmp:
        return _gui(LineSettings(database=Path(tmp) / "smoke.db"), None, smoke_test=True)


if __name__ == "__main__":
    sys.exit(main())
