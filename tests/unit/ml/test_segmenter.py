"""The segmenter model, its package, its inferencer (a station Scorer) and boxes from maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inspector.core.errors import ModelPackageError
from inspector.core.inspection import ModelOutput
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.ml.segmenter import DefectSegmenter
from inspector.ml.segmenter_boxes import boxes_from_maps, mask_boxes
from inspector.ml.segmenter_inference import SegmenterInferencer
from inspector.ml.segmenter_package import (
    SegmenterPackage,
    load_segmenter_package,
    save_segmenter_package,
)

SIZE = 64


def _package(outputs: tuple[str, ...] = ("defect",), bias: float = 0.0) -> SegmenterPackage:
    torch.manual_seed(0)
    model = DefectSegmenter(len(outputs))
    with torch.no_grad():
        model.decoder.predict.bias.fill_(bias)
    return SegmenterPackage(
        name="seg",
        task="segment" if outputs == ("defect",) else "detect",
        outputs=outputs,
        state_dict=model.state_dict(),
        backbone_sha256="0" * 64,
        input_size=SIZE,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        metrics={"miou": 0.5},
    )


def test_logits_come_at_the_input_size_one_map_per_output() -> None:
    model = DefectSegmenter(3).eval()
    with torch.inference_mode():
        logits = model(torch.zeros(2, 3, 96, 64))
    assert logits.shape == (2, 3, 96, 64)


def test_package_round_trip_keeps_weights_and_metadata(tmp_path: Path) -> None:
    package = _package(("blowhole", "crack"))
    saved = save_segmenter_package(package, tmp_path / "pkg", extra_files={"curves.png": b"png"})
    loaded = load_segmenter_package(tmp_path / "pkg")
    assert (loaded.task, loaded.outputs, loaded.version) == (
        "detect",
        ("blowhole", "crack"),
        saved.version,
    )
    assert loaded.version.startswith("seg-") and loaded.default_threshold == 0.5
    assert loaded.metrics == {"miou": 0.5} and set(loaded.files) == {"weights.pt", "curves.png"}
    for key, value in package.state_dict.items():
        assert torch.equal(loaded.state_dict[key], value), key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]  # no partial folder left


def test_a_changed_weights_file_or_a_foreign_package_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    save_segmenter_package(_package(), folder)
    weights = folder / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match="SHA-256"):
        load_segmenter_package(folder)

    other = tmp_path / "other"
    save_segmenter_package(_package(), other)
    meta = json.loads((other / "model.json").read_text())
    meta["kind"] = "classifier"
    (other / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="expected 'segmenter'"):
        load_segmenter_package(other)


def test_weights_for_another_number_of_maps_are_not_saved(tmp_path: Path) -> None:
    package = _package(("a", "b"))
    wrong = SegmenterPackage(**{**package.__dict__, "outputs": ("a", "b", "c")})
    with pytest.raises(ValueError, match="cannot save the segmenter"):
        save_segmenter_package(wrong, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_inferencer_is_a_scorer_whose_maps_decide_regions() -> None:
    # A decoder biased to +4 says "defect" everywhere: probability ~0.98 over the whole image.
    inferencer = SegmenterInferencer(_package(bias=4.0), device="cpu")
    image = np.full((50, 70, 3), 128, np.uint8)
    (maps,) = inferencer.probability_maps([image])
    assert maps.shape == (1, 50, 70) and maps.dtype == np.float32
    (output,) = inferencer.predict([image])
    assert isinstance(output, ModelOutput) and output.anomaly_map.shape == (50, 70)
    assert output.score == pytest.approx(float(maps.max())) and output.score > 0.9
    assert inferencer.default_threshold == 0.5 and inferencer.version == "unsaved"
    verdict, defects = decide(output, DecisionRules(threshold=inferencer.default_threshold))
    assert verdict.name == "REJECT" and defects[0].box == (0, 0, 70, 50)
    (quiet,) = SegmenterInferencer(_package(bias=-4.0), device="cpu").predict([image])
    assert decide(quiet, DecisionRules(threshold=0.5))[0].name == "ACCEPT"


def test_boxes_come_from_regions_with_the_class_of_their_map() -> None:
    maps = np.zeros((2, 40, 60), np.float32)
    maps[0, 5:15, 10:30] = 0.9  # a "blowhole" 20 x 10 at (10, 5)
    maps[1, 25:35, 40:45] = 0.7  # a "crack" 5 x 10 at (40, 25)
    maps[1, 5:15, 10:30] = 0.2  # weaker second opinion on the first region
    maps[0, 0, 0] = 0.95  # one stray pixel: noise, not a box
    boxes = boxes_from_maps(maps, ("blowhole", "crack"))
    assert [(b.bbox, b.label) for b in boxes] == [
        ((10, 5, 20, 10), "blowhole"),
        ((40, 25, 5, 10), "crack"),
    ]
    assert boxes[0].score == pytest.approx(0.9)
    # Boxes under 5 % of the 40 x 60 image (120 px): the 5 x 10 crack is left out.
    assert [b.label for b in boxes_from_maps(maps, ("blowhole", "crack"), min_fraction=0.05)] == [
        "blowhole"
    ]
    assert mask_boxes((maps.max(axis=0) >= 0.5).astype(np.uint8) * 255)[1:] == [
        (10, 5, 20, 10),
        (40, 25, 5, 10),
    ]
    with pytest.raises(ValueError, match="do not fit 3 output names"):
        boxes_from_maps(maps, ("a", "b", "c"))
