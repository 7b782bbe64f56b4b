"""The localisation head: taught at fitting, stored in the package, added to located maps only."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inspector.core.errors import ModelPackageError
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.localisation_head import LocalisationHead, head_from_state
from inspector.ml.package import HEAD_FILE, load_package, save_package
from inspector.reports import metrics
from inspector.training.fit_anomaly import FitResult, fit_anomaly
from inspector.training.teach_head import teach_head
from tests.unit.ml.synthetic_parts import SIZE, textured_part, with_blob


@pytest.fixture(scope="module")
def with_head(tmp_path_factory: pytest.TempPathFactory, good_images: list) -> FitResult:
    """A small retrieval model with a head taught for 3 epochs (a few seconds)."""
    return fit_anomaly(
        good_images,
        tmp_path_factory.mktemp("head") / "model",
        input_size=SIZE,
        device="cpu",
        global_stage=4,
        global_grid=2,
        retrieval_k=5,
        density_weight=0.5,
        synthetic_epochs=3,
        name="with-head",
    )


def test_the_head_is_saved_hashed_and_described(with_head: FitResult) -> None:
    folder = with_head.package_dir
    meta = json.loads((folder / "model.json").read_text())
    assert meta["localisation_head"]["file"] == HEAD_FILE
    assert HEAD_FILE in meta["files"]
    taught = meta["training"]["localisation_head"]
    assert taught["epochs"] == 3 and taught["images"] > 0 and "band" in taught["painted_kinds"]
    package = load_package(folder)
    assert package.localisation_head is not None
    assert float(package.localisation_head["scale"]) > 0


def test_the_head_changes_located_maps_only_never_scores_or_judged_maps(
    with_head: FitResult, tmp_path: Path
) -> None:
    package = load_package(with_head.package_dir)
    without = save_package(_replace_head(package, None), tmp_path / "no-head", overwrite=False)
    images = [with_blob(textured_part(100), (60, 60), 9), textured_part(101)]
    headed = AnomalyInferencer(package, device="cpu").predict(images)
    plain = AnomalyInferencer(without, device="cpu").predict(images)
    for a, b in zip(headed, plain, strict=True):
        assert a.score == pytest.approx(b.score, rel=1e-6)
        np.testing.assert_allclose(a.anomaly_map, b.anomaly_map, rtol=1e-5, atol=1e-5)
        assert np.abs(a.localisation_map - b.localisation_map).max() > 1e-3


def test_a_head_with_zero_scale_leaves_the_located_map_as_it_was(
    with_head: FitResult, tmp_path: Path
) -> None:
    package = load_package(with_head.package_dir)
    muted = {k: v.clone() for k, v in package.localisation_head.items()}
    muted["scale"] = torch.zeros(())
    images = [textured_part(102)]
    a = AnomalyInferencer(_replace_head(package, muted), device="cpu").predict(images)[0]
    b = AnomalyInferencer(_replace_head(package, None), device="cpu").predict(images)[0]
    np.testing.assert_allclose(a.localisation_map, b.localisation_map, rtol=1e-5, atol=1e-5)


def test_a_taught_head_marks_painted_defects_rather_than_the_good_part_around_them(
    with_head: FitResult,
) -> None:
    from inspector.training.synthetic_defects import paint_defect
    from inspector.training.teach_head import at_input_size

    package = load_package(with_head.package_dir)
    inferencer = AnomalyInferencer(_replace_head(package, None), device="cpu")
    train = at_input_size([textured_part(seed) for seed in range(40)], SIZE)
    head = teach_head(inferencer, train, train[:4], epochs=6, seed=1).state
    model = head_from_state(head, inferencer.model.dim)
    rng = np.random.default_rng(7)
    painted = [paint_defect(rng, textured_part(200 + i), train) for i in range(12)]
    with torch.no_grad():
        features = inferencer.model.embed(inferencer.prepare([p for p, _ in painted]))
        logits = torch.nn.functional.interpolate(model(features), size=(SIZE, SIZE))
    masks = [m for _, m in painted]
    maps = [logit[0].numpy() for logit in logits]
    assert metrics.pixel_auroc(maps, masks) > 0.75


def test_teaching_refuses_what_cannot_work(fitted: FitResult) -> None:
    inferencer = AnomalyInferencer(fitted.package_dir, device="cpu")
    images = [textured_part(1)]
    with pytest.raises(ValueError, match="at least 1 epoch"):
        teach_head(inferencer, images, images, epochs=0)
    with pytest.raises(ValueError, match="weight must be positive"):
        teach_head(inferencer, images, images, epochs=1, weight=0.0)
    with pytest.raises(ValueError, match="at least 2 training images"):
        teach_head(inferencer, images, images, epochs=1)


def test_a_head_file_that_is_not_plain_tensors_is_refused(
    with_head: FitResult, tmp_path: Path
) -> None:
    folder = _copy(with_head.package_dir, tmp_path / "copy")
    buffer = io.BytesIO()
    torch.save({"layers.0.weight": Path("/etc/passwd")}, buffer)  # a class weights_only refuses
    _rewrite(folder, buffer.getvalue())
    with pytest.raises(ModelPackageError, match="not a plain tensor file"):
        load_package(folder)
    buffer = io.BytesIO()
    torch.save({"layers.0.weight": [1, 2, 3]}, buffer)  # loads, but is not a tensor
    _rewrite(folder, buffer.getvalue())
    with pytest.raises(ModelPackageError, match="named tensors"):
        load_package(folder)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"scale": torch.tensor(float("nan"))}, "inf or nan"),
        ({"scale": torch.tensor(-1.0)}, "negative"),
        ({"layers.3.weight": torch.zeros(96, 96, 3, 3, dtype=torch.int64)}, "not floating point"),
        ({"layers.0.weight": torch.zeros(4096, 168, 1, 1)}, "first layer has shape"),
    ],
    ids=["nan-scale", "negative-scale", "integer-weights", "other-width"],
)
def test_head_tensors_that_cannot_be_a_taught_head_are_refused(
    with_head: FitResult, tmp_path: Path, change: dict, problem: str
) -> None:
    folder = _copy(with_head.package_dir, tmp_path / "copy")
    state = torch.load(folder / HEAD_FILE, weights_only=True)
    buffer = io.BytesIO()
    torch.save({**state, **change}, buffer)
    _rewrite(folder, buffer.getvalue())
    with pytest.raises(ModelPackageError, match=problem):
        load_package(folder)


def test_a_model_put_in_training_mode_keeps_its_head_as_taught(with_head: FitResult) -> None:
    inferencer = AnomalyInferencer(with_head.package_dir, device="cpu")
    images = [with_blob(textured_part(120), (50, 70), 8), textured_part(121)]
    before = inferencer.predict(images)
    inferencer.model.train()
    assert not inferencer.model.localisation_head.training
    after = inferencer.predict(images)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a.localisation_map, b.localisation_map)


def test_the_footing_gives_the_head_weight_times_the_distance_maps_spread_on_good_parts(
    fitted: FitResult,
) -> None:
    from inspector.training.teach_head import at_input_size

    inferencer = AnomalyInferencer(fitted.package_dir, device="cpu")
    train = at_input_size([textured_part(seed) for seed in range(30)], SIZE)
    holdout = [textured_part(500 + i) for i in range(4)]
    taught = teach_head(inferencer, train, holdout, epochs=2, weight=0.7, seed=3)
    head = head_from_state(taught.state, inferencer.model.dim)
    model = inferencer.model
    with torch.no_grad():
        batch = inferencer.prepare(holdout)
        base = model(batch).maps
        model.localisation_head = head
        added = model.head_map(head(model.embed(batch)), (SIZE, SIZE))
    assert float(added.std()) == pytest.approx(0.7 * float(base.std()), rel=0.02)
    assert abs(float(added.mean())) < 0.02 * float(base.std())


def test_a_model_without_retrieval_locates_with_its_plain_map_plus_the_head(
    tmp_path: Path, good_images: list
) -> None:
    """A coreset model has no evened map: the head alone makes the localisation map, the
    ONNX graph gains that output, and both backends agree."""
    from inspector.ml.onnx_export import export_onnx
    from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer

    fitted = fit_anomaly(
        good_images,
        tmp_path / "model",
        input_size=SIZE,
        bank_size=300,
        device="cpu",
        synthetic_epochs=2,
        name="coreset-head",
    )
    torch_model = AnomalyInferencer(fitted.package_dir, device="cpu")
    assert torch_model.model.locates_apart and not torch_model.model.evens_map
    images = [with_blob(textured_part(130 + i), (30 + 30 * i, 64), 8) for i in range(3)]
    expected = torch_model.predict(images)
    with torch.no_grad():
        batch = torch_model.prepare(images)
        head = torch_model.model.head_map(
            torch_model.model.head_cells(torch_model.model.embed(batch)), (SIZE, SIZE)
        )
    for output, head_map in zip(expected, head, strict=True):
        assert output.localisation_map is not None
        np.testing.assert_allclose(
            output.localisation_map, output.anomaly_map + head_map.numpy(), atol=1e-4
        )
    got = OnnxAnomalyInferencer(export_onnx(fitted.package_dir, tmp_path / "onnx")).predict(images)
    for e, g in zip(expected, got, strict=True):
        assert g.localisation_map is not None
        atol = 1e-3 * float(e.localisation_map.std())
        np.testing.assert_allclose(g.localisation_map, e.localisation_map, atol=atol)


def test_a_head_for_other_features_is_refused(with_head: FitResult, tmp_path: Path) -> None:
    folder = _copy(with_head.package_dir, tmp_path / "copy")
    other = LocalisationHead(dim=7).state_dict()
    buffer = io.BytesIO()
    torch.save(other, buffer)
    _rewrite(folder, buffer.getvalue())
    with pytest.raises(ModelPackageError, match="first layer has shape"):
        load_package(folder)


def test_a_changed_head_file_fails_its_hash(with_head: FitResult, tmp_path: Path) -> None:
    folder = _copy(with_head.package_dir, tmp_path / "copy")
    data = bytearray((folder / HEAD_FILE).read_bytes())
    data[-10] ^= 0xFF
    (folder / HEAD_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match=HEAD_FILE):
        load_package(folder)


def test_fit_refuses_negative_epochs_and_a_weight_that_is_not_positive(
    tmp_path: Path, good_images: list
) -> None:
    with pytest.raises(ValueError, match="synthetic_epochs"):
        fit_anomaly(good_images, tmp_path / "m", synthetic_epochs=-1)
    with pytest.raises(ValueError, match="head_weight"):
        fit_anomaly(good_images, tmp_path / "m", synthetic_epochs=1, head_weight=0.0)


def _replace_head(package, head):  # noqa: ANN001, ANN202
    from dataclasses import replace

    return replace(package, localisation_head=head, version="unsaved", path=None, files={})


def _copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def _rewrite(folder: Path, head_bytes: bytes) -> None:
    """Replace the head file and its hash in model.json, as a deliberate edit would."""
    from inspector.ml.package_fields import sha256

    (folder / HEAD_FILE).write_bytes(head_bytes)
    meta = json.loads((folder / "model.json").read_text())
    meta["files"][HEAD_FILE] = sha256(head_bytes)
    (folder / "model.json").write_text(json.dumps(meta))


def test_a_model_with_a_head_exports_to_onnx_with_the_same_located_maps(
    with_head: FitResult, tmp_path: Path
) -> None:
    from inspector.ml.onnx_export import export_onnx
    from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer

    package = export_onnx(with_head.package_dir, tmp_path / "onnx")
    images = [with_blob(textured_part(300 + i), (40 + 20 * i, 64), 8) for i in range(3)]
    expected = AnomalyInferencer(with_head.package_dir, device="cpu").predict(images)
    got = OnnxAnomalyInferencer(package).predict(images)
    for e, g in zip(expected, got, strict=True):
        assert g.score == pytest.approx(e.score, rel=1e-3)
        assert g.localisation_map is not None
        spread = float(e.localisation_map.std())
        np.testing.assert_allclose(g.localisation_map, e.localisation_map, atol=1e-3 * spread)


def test_a_line_skips_the_localisation_maps_and_scores_the_same(with_head: FitResult) -> None:
    from inspector.pipeline.line import load_scorer

    images = [with_blob(textured_part(140), (60, 40), 9), textured_part(141)]
    located = AnomalyInferencer(with_head.package_dir, device="cpu").predict(images)
    line_scorer = load_scorer(with_head.package_dir, device="cpu")
    assert line_scorer.locate is False
    judged = line_scorer.predict(images)
    for a, b in zip(located, judged, strict=True):
        assert b.localisation_map is None and a.localisation_map is not None
        assert b.score == pytest.approx(a.score, rel=1e-6)
        np.testing.assert_allclose(b.anomaly_map, a.anomaly_map, rtol=1e-5, atol=1e-5)
