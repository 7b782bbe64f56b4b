"""A segmenter package runs where an anomaly model does: a line, ``predict``, ``evaluate``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import torch

from inspector.cli import main
from inspector.ml.backend import open_inferencer
from inspector.ml.segmenter import DefectSegmenter
from inspector.ml.segmenter_inference import SegmenterInferencer
from inspector.ml.segmenter_package import SegmenterPackage, save_segmenter_package


def _segmenter(folder: Path, bias: float) -> Path:
    """A segmenter whose maps are one flat probability, sigmoid(bias), everywhere."""
    torch.manual_seed(0)
    model = DefectSegmenter(1)
    with torch.no_grad():
        model.decoder.predict.weight.zero_()
        model.decoder.predict.bias.fill_(bias)
    package = SegmenterPackage(
        name="seg-line",
        task="segment",
        outputs=("defect",),
        state_dict=model.state_dict(),
        backbone_sha256="0" * 64,
        input_size=64,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        metrics={"miou": 0.5},
    )
    save_segmenter_package(package, folder)
    return folder


def _parts(folder: Path, count: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        cv2.imwrite(str(folder / f"part_{index}.png"), rng.integers(60, 200, (80, 96, 3), np.uint8))
    return folder


def test_open_inferencer_gives_the_segmenter_scorer(tmp_path: Path) -> None:
    scorer = open_inferencer(_segmenter(tmp_path / "seg", bias=-3.0), device="cpu")
    assert isinstance(scorer, SegmenterInferencer)
    (output,) = scorer.predict([np.full((80, 96, 3), 128, np.uint8)])
    assert output.anomaly_map.shape == (80, 96)
    assert abs(output.score - 1 / (1 + np.exp(3.0))) < 1e-3


def test_a_headless_line_and_predict_run_a_segmenter(tmp_path: Path, capsys) -> None:
    model = _segmenter(tmp_path / "seg", bias=3.0)  # every pixel 0.95 > 0.5: every part rejected
    parts = _parts(tmp_path / "parts", 3)
    db = tmp_path / "line.db"
    code = main(
        ["run", "--headless", "--source", str(parts), "--model", str(model), "--db", str(db)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT verdict, model_version FROM inspections").fetchall()
    assert len(rows) == 3
    assert {verdict for verdict, _ in rows} == {"reject"}
    assert {version for _, version in rows} == {
        json.loads((model / "model.json").read_text())["version"]
    }

    results = tmp_path / "results.jsonl"
    code = main(["predict", "--model", str(model), "--output", str(results), str(parts)])
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert code == 0 and len(lines) == 3
    assert all(line["verdict"] == "reject" and line["defects"] for line in lines)
