"""compare, promote, rollback, shadow: from the command line, on real models and a real database."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from inspector.cli import main
from inspector.core.errors import SourceError
from inspector.ml.backend import open_inferencer
from inspector.reports.evaluation_report import summarize
from inspector.storage.audit import audit_entries, verify_audit
from inspector.storage.engine import open_database
from inspector.storage.schema import InspectionRow, ShadowVerdictRow
from inspector.training.compare import compare_packages
from inspector.training.evaluate import evaluate_package
from tests.tiny_models import tiny_pair, write_labelled

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_pair(tmp_path_factory.getbasetemp() / "tiny-models")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_labelled(tmp_path_factory.mktemp("labelled"))


def test_compare_reports_both_models_side_by_side_with_a_verdict(
    models: tuple[Path, Path], labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    new, old = models
    out = tmp_path / "cmp"
    argv = ["compare", "--model", str(new), "--baseline", str(old), "--data", str(labelled)]
    assert main([*argv, "--report", str(out), "--device", "cpu"]) == 0
    data = json.loads((out / "compare.json").read_text())
    printed = capsys.readouterr().out.splitlines()[0]
    assert data["schema"] == "inspector-compare/1"
    assert data["verdict"] in ("better", "worse", "mixed", "same")
    assert printed.startswith(f"{data['verdict']}: {data['new']['version']} vs ")
    assert data["data"]["images"] == 12
    # The figures are the evaluation's own: the same as evaluating the model alone.
    run = evaluate_package(new, labelled, device="cpu")
    assert data["data"]["fingerprint"] == run.data_fingerprint is not None
    alone = summarize(run.images, run.rules.threshold)
    figures = data["new"]["metrics"]
    assert figures["image_auroc"] == pytest.approx(alone.image_auroc)
    assert figures["escape_rate"] == pytest.approx(alone.escape_rate)
    assert figures["false_reject_rate"] == pytest.approx(alone.false_reject_rate)
    assert set(figures["escape_by_class"]) == {"blob"}
    assert figures["latency_ms_mean"] > 0 and data["baseline"]["metrics"]["latency_ms_mean"] > 0
    for item in data["disagreements"]:
        assert (item["new"]["verdict"] == "accept") != (item["baseline"]["verdict"] == "accept")
    html = (out / "compare.html").read_text()
    assert data["new"]["version"] in html and data["baseline"]["version"] in html
    assert f"(fingerprint <code>{run.data_fingerprint}</code>)" in html
    assert len(list((out / "disagreements").glob("*.png"))) == 2 * min(
        8, len(data["disagreements"])
    )


def test_evaluate_judges_acceptance_criteria_and_says_so_in_its_exit_code(
    models: tuple[Path, Path], labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    new, _ = models
    run = evaluate_package(new, labelled, device="cpu")
    alone = summarize(run.images, run.rules.threshold)
    base = ["evaluate", "--model", str(new), "--data", str(labelled), "--device", "cpu"]

    loose = [*base, "--report", str(tmp_path / "loose"), "--max-false-rejects", "0.99"]
    assert main([*loose, "--max-escapes", "0.99"]) == 0
    said = capsys.readouterr().out
    assert "acceptance: PASS (false rejects at most 99 % and escapes at most 99 %)" in said
    data = json.loads((tmp_path / "loose" / "report.json").read_text())
    assert data["acceptance"]["passed"] is True
    assert data["acceptance"]["escape_rate"] == pytest.approx(alone.escape_rate)

    # The tiny model rejects half the good parts at its own threshold: a 10 % limit fails.
    assert alone.false_reject_rate > 0.1
    strict = [*base, "--report", str(tmp_path / "strict"), "--max-false-rejects", "0.1"]
    assert main(strict) == 3
    said = capsys.readouterr().out
    assert "acceptance: FAIL (false rejects at most 10 %)" in said
    assert "threshold to set for at most 10 % false rejects on this set: " in said
    data = json.loads((tmp_path / "strict" / "report.json").read_text())
    assert data["acceptance"]["passed"] is False
    to_set = data["acceptance"]["threshold_to_set"]
    assert to_set is not None
    # Evaluated again at that threshold, the line's own verdicts keep within the limit.
    again = evaluate_package(new, labelled, device="cpu", threshold=to_set)
    assert summarize(again.images, to_set).false_reject_rate <= 0.1
    page = (tmp_path / "strict" / "report.html").read_text()
    assert 'Acceptance criteria: <span class="fail">FAIL</span>' in page
    record = PdfReader(tmp_path / "strict" / "report.pdf")
    assert "Acceptance criteria: FAIL" in record.pages[0].extract_text()

    with pytest.raises(SystemExit) as refused:  # a percentage, not a share
        main([*base, "--max-escapes", "5"])
    assert refused.value.code == 2
    assert "give a share from 0 to below 1 (0.02 for 2 %)" in capsys.readouterr().err


def test_an_image_edited_while_the_models_are_compared_stops_the_comparison(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    """Same file names, other bytes: the second model would be judged on other images."""
    new, old = models
    folder = write_labelled(tmp_path / "set")
    victim = sorted(folder.glob("good/*"))[0]
    calls: list[tuple[int, int]] = []

    def edit_after_first_model(done: int, total: int) -> None:
        calls.append((done, total))
        if done == total and len([c for c in calls if c[0] == c[1]]) == 1:
            image = cv2.imread(str(victim))
            image[:8, :8] = 255 - image[:8, :8]  # still a readable image, another one
            cv2.imwrite(str(victim), image)

    with pytest.raises(SourceError, match="was the folder changed during the comparison"):
        compare_packages(new, old, folder, device="cpu", progress=edit_after_first_model)


def test_promote_rollback_and_history_are_recorded_and_audited(
    models: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    new, old = models
    db = str(tmp_path / "line.db")
    report = tmp_path / "compare.json"
    new_version = open_inferencer(new, "auto", device="cpu").version
    report.write_text(json.dumps({"verdict": "better", "new": {"version": new_version}}))
    common = ["--station", "press-1", "--db", db, "--user", "eng.ada"]
    assert main(["model", "promote", "--model", str(old), *common, "--reason", "first"]) == 0
    wrong = ["--metrics", str(report), "--reason", "wrong report"]
    assert main(["model", "promote", "--model", str(old), *common, *wrong]) == 2
    assert "is about model" in capsys.readouterr().err
    better = ["--metrics", str(report), "--reason", "fewer escapes"]
    assert main(["model", "promote", "--model", str(new), *common, *better]) == 0
    assert main(["model", "rollback", *common, "--reason", "lot 7 false rejects"]) == 0
    capsys.readouterr()
    assert main(["model", "history", "--station", "press-1", "--db", db]) == 0
    history = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in history[:3]] == ["promote", "promote", "rollback"]
    assert "[compare: better]" in history[1]
    assert history[-1].startswith("production now: ")
    assert new_version not in history[-1]

    engine = open_database(db)
    assert [e.action for e in audit_entries(engine)] == [
        "model.promote",
        "model.promote",
        "model.rollback",
    ]
    assert verify_audit(engine).ok
    engine.dispose()
    assert main(["model", "rollback", *common, "--reason", "again"]) == 1  # nothing before


def test_a_line_runs_the_promoted_model_and_its_shadow_and_reports_on_it(
    models: tuple[Path, Path], labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    new, old = models
    db = str(tmp_path / "line.db")
    who = ["--station", "s1", "--db", db, "--user", "eng.ada", "--reason", "trial"]
    assert main(["model", "promote", "--model", str(new), *who]) == 0
    assert main(["model", "shadow", "--model", str(old), *who]) == 0
    run = ["run", "--headless", "--source", str(labelled / "blob"), "--frames", "6", "--db", db]
    assert main([*run, "--station", "s1", "--model", str(old), "--device", "cpu"]) == 0
    summary = capsys.readouterr().out
    assert "runs its promoted model" in summary  # the configured one was overridden, and said so

    engine = open_database(db)
    with engine.connect() as connection:
        versions = connection.execute(select(InspectionRow.model_version).distinct()).scalars()
        assert list(versions) == [open_inferencer(new, "auto", device="cpu").version]
        shadowed = connection.execute(
            select(func.count()).select_from(ShadowVerdictRow.__table__)
        ).scalar()
    engine.dispose()
    assert shadowed == 6
    assert main(["model", "shadow-report", "--station", "s1", "--db", db]) == 0
    report = capsys.readouterr().out
    assert "6 parts seen" in report and "agreement" in report
