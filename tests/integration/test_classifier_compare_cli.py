"""``inspector compare`` of two real classifier packages, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.cli import main
from inspector.resources_path import default_model_dir
from inspector.training.classifier_evaluate import evaluate_classifier
from tests.biased_classifier import save_biased_classifier
from tests.trained_tiny_classifier import in_thread, write_parts
from tests.unit.training.synthetic_classes import CLASSES


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Unseen drawn parts (another seed than the tiny classifier's training parts)."""
    return write_parts(tmp_path_factory.mktemp("parts"), per_class=4, seed=7)


@pytest.fixture(scope="module")
def all_good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier that calls every part good: it lets every defect escape."""
    folder = tmp_path_factory.mktemp("biased") / "all-good"
    return save_biased_classifier(folder, CLASSES, "good", 0.9)


def test_two_classifiers_are_compared_on_their_own_figures(
    trained_classifier: Path,
    all_good: Path,
    labelled: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "cmp"
    argv = ["compare", "--model", str(trained_classifier), "--baseline", str(all_good)]
    argv += ["--data", str(labelled), "--report", str(out), "--device", "cpu"]

    assert in_thread(lambda: main(argv)) == 0

    data = json.loads((out / "compare.json").read_text())
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{data['verdict']}: {data['new']['version']} vs ")
    assert data["task"] == "classify" and data["data"]["images"] == 12
    old = data["baseline"]["metrics"]
    assert (old["escape_rate"], old["false_reject_rate"]) == (1.0, 0.0)
    assert old["accuracy"] == pytest.approx(1 / 3)
    assert old["confusion"] == [[4, 0, 0], [4, 0, 0], [4, 0, 0]]
    assert "escapes 100.0 % -> " in printed[0]
    # The candidate's figures are those of evaluating it alone, through its inference path.
    alone = in_thread(lambda: evaluate_classifier(trained_classifier, labelled, device="cpu"))
    assert data["new"]["metrics"]["accuracy"] == pytest.approx(alone.metrics.accuracy)
    assert data["new"]["metrics"]["confusion"] == [list(row) for row in alone.metrics.confusion]
    assert data["data"]["fingerprint"] == alone.data_fingerprint is not None
    assert alone.data_fingerprint in (out / "compare.html").read_text()
    said = {d["path"]: d["baseline"]["class"] for d in data["disagreements"]}
    assert set(said.values()) == {"good"}
    assert "Per class" in (out / "compare.html").read_text()


def test_a_classifier_against_an_anomaly_model_is_refused(
    all_good: Path, labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compare", "--model", str(all_good), "--baseline", str(default_model_dir())]
    argv += ["--data", str(labelled), "--report", str(tmp_path / "cmp")]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "is a classifier package and --baseline" in err and "an anomaly model" in err
    assert not (tmp_path / "cmp").exists()


def test_a_classifier_is_promoted_and_rolled_back_as_the_station_classifier(
    trained_classifier: Path, all_good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "line.db")
    common = ["--station", "s1", "--user", "eng", "--db", db]
    promote = ["model", "promote", *common]
    assert main([*promote, "--model", str(all_good), "--reason", "first classifier"]) == 0
    assert "switches to it between two parts" in capsys.readouterr().out
    assert main(["model", "rollback", "--classifier", *common, "--reason", "x"]) == 1
    assert "nothing to roll back to" in capsys.readouterr().err
    assert main([*promote, "--model", str(trained_classifier), "--reason", "better"]) == 0
    assert main(["model", "rollback", "--classifier", *common, "--reason", "back"]) == 0
    capsys.readouterr()
    assert main(["model", "history", "--station", "s1", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2:4] for line in lines[:3]] == [
        ["promote", "classifier"],
        ["promote", "classifier"],
        ["rollback", "classifier"],
    ]
    assert lines[-1].startswith("classifier now: ") and str(all_good.resolve()) in lines[-1]
    # The anomaly model's own stack is untouched, and a classifier never shadows it.
    assert main(["model", "rollback", *common, "--reason", "x"]) == 1
    shadow = ["model", "shadow", "--model", str(all_good), *common, "--reason", "try"]
    assert main(shadow) != 0
    assert "[model] classifier" in capsys.readouterr().err
