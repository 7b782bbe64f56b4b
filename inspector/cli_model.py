"""The ``compare`` and ``model`` subcommands: promotion, not blind replacement.

``compare`` sets a candidate beside the production model on labelled images;
``model promote`` / ``rollback`` / ``shadow`` record who changed a station's
model, when, why and on which figures (and audit it); ``model shadow-report``
shows how a shadow model does on the live line. Kept apart from
:mod:`inspector.cli` like the other command groups; torch is imported inside
the handlers only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from inspector.cli_worker import call_on_worker

EXIT_OK, EXIT_FAILED = 0, 1
_BULKY_KEYS = ("images", "roc", "disagreements")


def add_model_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compare`` and ``model`` to the ``inspector`` parser's subcommands."""
    compare = subparsers.add_parser(
        "compare",
        help="compare a candidate model with the current one on labelled images",
        description="Evaluate both models on the same labelled folder (as 'evaluate', each at "
        "its own threshold) and write compare.json, compare.html and overlays of the images "
        "where they disagree. Two classifier packages are compared on their classes instead "
        "(accuracy, per-class precision/recall/F1, confusion matrices, escapes and false "
        "rejects where there is a 'good' class). Prints better / worse / mixed / same and why.",
    )
    compare.add_argument("--model", required=True, type=Path, help="candidate model package")
    compare.add_argument("--baseline", required=True, type=Path, help="model in production")
    compare.add_argument(
        "--data", required=True, type=Path, help="labelled folder <class>/<image>, 'good' = OK"
    )
    compare.add_argument("--report", type=Path, help="report folder (default: compare-NEW-vs-OLD)")
    compare.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    compare.add_argument("--batch", type=int, default=8, help="images per forward pass")
    compare.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"])
    compare.set_defaults(handler=run_compare)

    model = subparsers.add_parser("model", help="promote, roll back and shadow station models")
    sub = model.add_subparsers(dest="model_command", required=True)
    promote = sub.add_parser(
        "promote",
        help="make a model the station's production model (a classifier package: its classifier)",
    )
    promote.add_argument("--model", required=True, type=Path, help="model package folder")
    promote.add_argument("--metrics", type=Path, help="compare.json or report.json it is based on")
    rollback = sub.add_parser("rollback", help="go back to the previous production model")
    rollback.add_argument(
        "--classifier", action="store_true", help="roll back the station's classifier instead"
    )
    shadow = sub.add_parser("shadow", help="run a candidate beside production, driving nothing")
    shadow.add_argument("--model", required=True, type=Path, help="candidate model package")
    shadow_stop = sub.add_parser("shadow-stop", help="end the station's shadow run")
    for parser in (promote, rollback, shadow, shadow_stop):
        parser.add_argument("--user", required=True, help="who does it (audited)")
        parser.add_argument("--reason", required=True, help="why (audited)")
    history = sub.add_parser("history", help="the station's deployments, oldest first")
    report = sub.add_parser("shadow-report", help="how the shadow model does on the live line")
    report.add_argument("--model-version", help="shadow model (default: the current or last one)")
    report.add_argument("--since", type=datetime.fromisoformat, help="parts captured from (ISO)")
    for parser in (promote, rollback, shadow, shadow_stop, history, report):
        parser.add_argument("--station", required=True, help="station name, as in its records")
        parser.add_argument("--db", help="database (default: the user data folder's)")
        parser.set_defaults(handler=run_model)


def run_compare(args: argparse.Namespace) -> int:
    """``inspector compare``: prints the verdict line; 1 when some image could not be read."""
    from inspector.reports.classifier_compare import (
        compare_classifier_runs,
        write_classifier_compare_report,
    )
    from inspector.reports.compare_report import compare_runs, verdict_line, write_compare_report
    from inspector.training.compare import ClassifierComparison, compare_packages

    def progress(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\revaluate: {done}/{total}", end=end, file=sys.stderr, flush=True)

    result = call_on_worker(
        lambda: compare_packages(
            args.model,
            args.baseline,
            args.data,
            device=args.device,
            batch=args.batch,
            backend=args.backend,
            progress=progress,
        ),
        name="compare",
    )
    new, baseline = result.new, result.baseline
    out = args.report or Path(f"compare-{new.model_version}-vs-{baseline.model_version}")
    if isinstance(result, ClassifierComparison):
        summary = compare_classifier_runs(result.new, result.baseline)
        page = write_classifier_compare_report(result.new, result.baseline, summary, out)
        for note in summary.notes:
            print(f"note: {note}")
    else:
        summary = compare_runs(result.new, result.baseline)
        page = write_compare_report(result.new, result.baseline, summary, out)
    print(verdict_line(summary, new.model_version, baseline.model_version))
    print(f"{len(summary.disagreements)} image(s) where they disagree; report: {page}")
    if new.unreadable:
        print(f"error: {len(new.unreadable)} image(s) could not be read", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def run_model(args: argparse.Namespace) -> int:
    """``inspector model ...``: one deployment action, or the history, or the shadow report."""
    from inspector.storage import deployments
    from inspector.storage.engine import default_database_path, open_database

    engine = open_database(args.db or default_database_path())
    try:
        command = args.model_command
        if command == "history":
            return _history(engine, args.station)
        if command == "shadow-report":
            return _shadow_report(engine, args)
        _check_user(engine, args.user)
        station, user, reason = args.station, args.user, args.reason
        if command == "promote":
            metrics = _read_metrics(args.metrics) if args.metrics else None
            role = _role_of(args.model)
            version = _loadable_version(args.model, role)
            _check_metrics_version(metrics, version, args.metrics)
            done = deployments.promote(
                engine,
                station,
                args.model,
                version,
                actor=user,
                reason=reason,
                metrics=metrics,
                role=role,
            )
        elif command == "rollback":
            role = deployments.CLASSIFIER if args.classifier else deployments.PRODUCTION
            done = deployments.rollback(engine, station, actor=user, reason=reason, role=role)
        elif command == "shadow":
            if _role_of(args.model) != deployments.PRODUCTION:
                from inspector.reports.compare_json import NOT_A_PRODUCTION_MODEL

                msg = f"{args.model} {NOT_A_PRODUCTION_MODEL}"
                raise ValueError(msg)
            version = _loadable_version(args.model, deployments.PRODUCTION)
            done = deployments.start_shadow(
                engine, station, args.model, version, actor=user, reason=reason
            )
        else:
            done = deployments.stop_shadow(engine, station, actor=user, reason=reason)
    finally:
        engine.dispose()
    model = f"{done.model_version} ({done.model_path})" if done.model_path else "no shadow model"
    when = (
        "a running line of the station switches to it between two parts within seconds"
        if done.role in (deployments.PRODUCTION, deployments.CLASSIFIER)
        else "a running line applies it at its next start"
    )
    print(
        f"{done.action.value} recorded for station {done.station}: {model}, by {done.actor}; {when}"
    )
    return EXIT_OK


def _check_user(engine, name: str) -> None:  # noqa: ANN001 - sqlalchemy Engine
    """Once users are registered, only an active engineer (or admin) may change models."""
    from inspector.storage.schema import UserRow
    from inspector.storage.users import Role, get_user

    with engine.connect() as connection:
        registered = connection.execute(UserRow.__table__.select().limit(1)).first() is not None
    if not registered:
        return
    user = get_user(engine, name)
    if user is None or not user.active or not user.role.allows(Role.ENGINEER):
        msg = (
            f"{name!r} may not change station models: it takes an active user with the "
            "engineer or admin role (inspector user add NAME --role engineer)"
        )
        raise ValueError(msg)


def _role_of(model_dir: Path) -> str:
    """``classifier`` for a classifier package (run beside the anomaly model), else production."""
    from inspector.ml.runtime_package import read_metadata
    from inspector.storage.deployments import CLASSIFIER, PRODUCTION

    return CLASSIFIER if read_metadata(model_dir).get("kind") == "classifier" else PRODUCTION


def _loadable_version(model_dir: Path, role: str) -> str:
    """The package's version; it must load (hashes checked), or it is not deployed."""
    from inspector.storage.deployments import CLASSIFIER

    if role == CLASSIFIER:
        from inspector.ml.classifier_inference import ClassifierInferencer

        return call_on_worker(lambda: ClassifierInferencer(model_dir, device="cpu").version)
    from inspector.ml.backend import open_inferencer

    return call_on_worker(lambda: open_inferencer(model_dir, "auto", device="cpu").version)


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"cannot read metrics report {path}: {exc}; give a compare.json or report.json"
        raise ValueError(msg) from exc
    if not isinstance(data, dict) or not ("metrics" in data or "verdict" in data):
        msg = f"{path} is not a compare.json or report.json (no 'verdict' or 'metrics')"
        raise ValueError(msg)
    return {key: value for key, value in data.items() if key not in _BULKY_KEYS}


def _check_metrics_version(metrics: dict[str, Any] | None, version: str, path: Path) -> None:
    if metrics is None:
        return
    side = metrics.get("new") or metrics.get("model") or {}
    reported = side.get("version")
    if reported != version:
        msg = (
            f"{path} is about model {reported}, not {version}: promote with the report "
            "of the model you promote"
        )
        raise ValueError(msg)


def _history(engine, station: str) -> int:  # noqa: ANN001 - sqlalchemy Engine
    from inspector.storage.deployments import CLASSIFIER, deployment_history, in_force

    rows = deployment_history(engine, station)
    if not rows:
        print(f"station {station} has no deployments on record; it runs its configured model")
        return EXIT_OK
    for d in rows:
        verdict = (
            f" [compare: {d.metrics['verdict']}]" if d.metrics and "verdict" in d.metrics else ""
        )
        print(
            f"{d.at:%Y-%m-%d %H:%M:%S} {d.action.value:<12} {d.role:<10} "
            f"{d.model_version or '-'} by {d.actor}: {d.reason or ''}{verdict}"
        )
    classifier = in_force(rows, CLASSIFIER)
    if classifier is not None:
        print(f"classifier now: {classifier.model_version} ({classifier.model_path})")
    current = in_force(rows)
    if current is not None:
        print(f"production now: {current.model_version} ({current.model_path})")
    return EXIT_OK


def _shadow_report(engine, args: argparse.Namespace) -> int:  # noqa: ANN001 - Engine
    from inspector.storage.deployments import current_shadow
    from inspector.storage.shadow import latest_shadow_version, shadow_comparison

    version = args.model_version
    if version is None:
        running = current_shadow(engine, args.station)
        version = running.model_version if running else latest_shadow_version(engine, args.station)
    if version is None:
        print(f"station {args.station} has no shadow verdicts yet: start one with 'model shadow'")
        return EXIT_FAILED
    print(format_shadow_report(shadow_comparison(engine, args.station, version, since=args.since)))
    return EXIT_OK


def format_shadow_report(c) -> str:  # noqa: ANN001 - storage.shadow.ShadowComparison
    """The live comparison as a few lines for the terminal."""
    agreement = "n/a" if math.isnan(c.agreement_rate) else f"{100 * c.agreement_rate:.1f} %"
    lines = [
        f"shadow {c.model_version} on station {c.station}: {c.parts} parts seen, "
        f"{c.parts - c.not_shadowed} shadowed, {c.not_shadowed} not shadowed"
        + (
            f", {c.production_not_inspected} fail-safe in production"
            if c.production_not_inspected
            else ""
        ),
        f"  agreement {agreement} of {c.compared} parts; disagreements: {c.stricter} the shadow "
        f"would reject (production accepted), {c.looser} it would accept (production rejected)",
    ]
    if c.reviewed:
        lines.append(
            f"  on {c.reviewed} reviewed parts ({c.reviewed_defective} defective, "
            f"{c.reviewed_good} good): escapes production {c.production_escapes} vs shadow "
            f"{c.shadow_escapes}; false rejects production {c.production_false_rejects} vs "
            f"shadow {c.shadow_false_rejects}"
        )
    else:
        lines.append("  no reviewed parts yet: review some to see escapes and false rejects")
    return "\n".join(lines)
