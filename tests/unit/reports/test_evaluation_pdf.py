"""report.pdf on sets the page must also survive: many classes, odd names, one kind of part."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pypdf import PdfReader

from inspector.core.verdict import Verdict
from inspector.decision.rules import DecisionRules
from inspector.reports.evaluation_pdf import write_evaluation_pdf
from inspector.reports.evaluation_report import summarize, write_evaluation_report
from inspector.training.evaluate import EvaluatedImage, EvaluationRun


def _run(tmp_path: Path, classes: list[str], goods: int = 10) -> EvaluationRun:
    """A finished evaluation of real image files: goods score low, defective parts high."""
    rng = np.random.default_rng(0)
    images = []
    for n, name in enumerate(["good"] * goods + [c for c in classes for _ in range(2)]):
        folder = tmp_path / "set" / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part_${n}_$.png"  # two dollars: maths to matplotlib unless told
        cv2.imwrite(str(path), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        score = float(rng.uniform(0, 1) if name == "good" else rng.uniform(0.8, 3))
        verdict = Verdict.ACCEPT if score < 1.0 else Verdict.REJECT
        images.append(
            EvaluatedImage(
                path,
                name,
                score,
                verdict,
                (),
                4.0,
                (48, 64),
                np.full((12, 16), score, np.float32),
                None,
            )  # fmt: skip
        )
    return EvaluationRun(
        "model-$test$", tmp_path / "model", {"memory_bank.pt": "ab" * 32}, {"kind": "patchcore"},
        DecisionRules(1.0), "CPU", tmp_path / "set", tuple(images), (), 1.0,
    )  # fmt: skip


def _text(pdf: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


def test_a_long_class_table_continues_on_the_next_page_and_names_are_taken_literally(
    tmp_path: Path,
) -> None:
    classes = [f"rolled-in_scale_{k:02d}" for k in range(45)]
    run = _run(tmp_path, classes)
    out = tmp_path / "report"
    write_evaluation_report(run, summarize(run.images, 1.0), out)
    text = _text(out / "report.pdf")
    for name in classes:  # every row on some page, none cut off at the bottom
        assert name in text
    assert "part_$" in text and "model-$test$" in text
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no partial file


def test_a_set_of_one_kind_says_why_there_is_no_roc_curve_and_drops_an_old_one(
    tmp_path: Path,
) -> None:
    out = tmp_path / "report"
    out.mkdir()
    cv2.imwrite(str(out / "roc.png"), np.zeros((10, 10, 3), np.uint8))  # an earlier run's
    run = _run(tmp_path, [], goods=6)
    write_evaluation_report(run, summarize(run.images, 1.0), out)
    assert not (out / "roc.png").exists()
    assert "n/a: the set needs good and defective parts" in _text(out / "report.pdf")


def test_an_example_whose_picture_is_missing_is_left_out_not_a_crash(tmp_path: Path) -> None:
    run = _run(tmp_path, ["dent"])
    out = tmp_path / "report"
    write_evaluation_report(run, summarize(run.images, 1.0), out)
    data = __import__("json").loads((out / "report.json").read_text())
    gone = {"catches": [("examples/never_written.png", run.images[-1])]}
    write_evaluation_pdf(out, data, summarize(run.images, 1.0), gone)
    assert "Catches (1 shown)" in _text(out / "report.pdf")
