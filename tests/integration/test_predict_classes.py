"""``predict --classifier``: defects get the classifier's class; without it nothing changes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import cv2
import pytest

from inspector.acquisition.demo_line import DemoLine
from inspector.cli_quality import add_quality_commands, run_predict
from inspector.core.errors import ModelPackageError
from inspector.pipeline.line import DEFAULT_MODEL_DIR
from inspector.training.predict import predict_files
from tests.biased_classifier import save_biased_classifier
from tests.unit.pipeline.helpers import ContrastScorer, part

CLASSES = ("blowhole", "crack", "good")


@pytest.fixture(scope="module")
def crack_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_biased_classifier(tmp_path_factory.mktemp("cls") / "crack", CLASSES, "crack", 0.75)


def _parts(folder: Path) -> Path:
    folder.mkdir()
    for index in range(4):
        cv2.imwrite(str(folder / f"part-{index}.png"), part(defect=index % 2 == 0))
    return folder


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_predict_names_defects_with_the_classifier_and_keeps_the_rest(tmp_path, crack_classifier):
    folder = _parts(tmp_path / "parts")
    plain, named = io.StringIO(), io.StringIO()
    predict_files(ContrastScorer(), [folder], plain)
    summary = predict_files(ContrastScorer(), [folder], named, classifier=crack_classifier)

    before, after = _lines(plain.getvalue()), _lines(named.getvalue())
    assert [line["verdict"] for line in after] == ["reject", "accept", "reject", "accept"]
    assert [d["class"] for line in before for d in line["defects"]] == ["anomaly"] * 2
    assert [d["class"] for line in after for d in line["defects"]] == ["crack"] * 2
    assert [d["confidence"] for line in after for d in line["defects"]] == [0.75] * 2
    for old, new in zip(before, after, strict=True):
        assert list(new) == list(old)  # the contract's keys, in order
        assert (new["path"], new["score"], new["verdict"]) == (
            old["path"],
            old["score"],
            old["verdict"],
        )
        assert [d["bbox"] for d in new["defects"]] == [d["bbox"] for d in old["defects"]]
    assert summary.model_version.startswith("contrast-1+tiny-crack-")


def test_predict_cli_takes_a_classifier_beside_the_model(tmp_path, crack_classifier):
    folder = tmp_path / "parts"
    folder.mkdir()
    line = DemoLine(rate_hz=0, defect_rate=1.0, seed=3, kinds=("spot",))
    for index in range(3):
        image, _ = line.render()
        cv2.imwrite(str(folder / f"demo-{index}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    parser = argparse.ArgumentParser()
    add_quality_commands(parser.add_subparsers(dest="command"))
    runs = {}
    for name, extra in (("plain", []), ("named", ["--classifier", str(crack_classifier)])):
        output = tmp_path / f"{name}.jsonl"
        args = ["predict", "--model", str(DEFAULT_MODEL_DIR), "--output", str(output)]
        assert run_predict(parser.parse_args([*args, "--device", "cpu", *extra, str(folder)])) == 0
        runs[name] = _lines(output.read_text())
    plain_classes = [d["class"] for line in runs["plain"] for d in line["defects"]]
    named_classes = [d["class"] for line in runs["named"] for d in line["defects"]]
    assert plain_classes, "the demo model found no defect on rendered defective parts"
    assert set(plain_classes) == {"anomaly"}
    assert named_classes == ["crack"] * len(plain_classes)
    assert [x["score"] for x in runs["named"]] == [x["score"] for x in runs["plain"]]


def test_predict_refuses_an_anomaly_model_given_as_the_classifier(tmp_path):
    parts = _parts(tmp_path / "p")
    with pytest.raises(ModelPackageError, match="expected 'classifier'"):
        predict_files(ContrastScorer(), [parts], io.StringIO(), classifier=DEFAULT_MODEL_DIR)
