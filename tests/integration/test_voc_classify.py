"""A VOC set never seen before, as a user gets it: import, then train a classifier on it.

The set is NEU-DET-like (grey 200x200 images, classes only of defects, quirks
of real annotation files) and made of real magnetic-tile defects
(:func:`tests.voc_from_masks.write_neu_like_voc`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from inspector.cli import main
from tests.trained_tiny_classifier import in_thread
from tests.voc_from_masks import write_neu_like_voc

TINY = ["--head-epochs", "10", "--batch-size", "4", "--device", "cpu"]
"""Short, but at the default input size, which follows the images (200 px here)."""


def test_a_voc_set_without_good_parts_imports_and_trains_to_reported_metrics(
    magnetic_tile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = []
    for name in ("blowhole", "good", "uneven"):
        files = sorted((magnetic_tile / "train" / name).glob("*.jpg"))
        images += random.Random(name).sample(files, 5)
    voc = write_neu_like_voc(images, tmp_path / "NEU-like", second_class_every=6)
    dataset, model = tmp_path / "dataset", tmp_path / "model"

    assert main(["dataset", "import", "--format", "voc", str(voc), "--out", str(dataset)]) == 0
    imported = capsys.readouterr().out
    assert "15 usable image(s) in 3 class(es), 0 excluded, 0 error(s)" in imported
    assert "mixed_classes" in imported and "no_good_class" in imported

    argv = ["train", "--data", str(dataset), "--task", "classify", "--out", str(model), *TINY]
    assert in_thread(lambda: main(argv)) == 0
    trained = capsys.readouterr().out
    assert "no 'good' class: every class is a defect" in trained

    package = json.loads((model / "model.json").read_text())
    assert package["input_size"] == 224  # 200 px images: enlarged to the backbone's size only
    metrics = package["metrics"]
    assert metrics["classes"] == ["blowhole", "plain", "uneven"]
    assert metrics["count"] == 3 and len(metrics["confusion"]) == 3
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["good_vs_defect_accuracy"] is None and metrics["defect_class_accuracy"] is None
    assert set(metrics["per_class"]) == {"blowhole", "plain", "uneven"}
