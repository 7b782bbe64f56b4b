"""Retrieval: each part's patches against its nearest good images only (ml/retrieval.py)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from inspector.core.errors import ModelPackageError
from inspector.decision import DecisionRules, decide
from inspector.decision.zones import Zone
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.onnx_export import ExportablePatchCore, export_onnx
from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer
from inspector.ml.package import METADATA_FILE, load_package, save_package
from inspector.ml.preprocess import preprocess
from inspector.ml.retrieval import (
    DEFAULT_DENSITY_WEIGHT,
    gallery_rows,
    retrieved_distance,
    retrieved_match,
    row_scales,
    rows_per_image,
)
from inspector.ml.runtime_package import save_runtime_package
from inspector.training.fit_anomaly import FitResult, fit_anomaly
from inspector.training.learn_good import extend_with_good
from tests.unit.ml.synthetic_parts import SIZE, textured_part, with_blob


def _fit_retrieval(out: Path, density_weight: float = 0.0) -> FitResult:
    """A small retrieval fit on synthetic parts (a few seconds on 2 CPU cores)."""
    goods = [textured_part(seed) for seed in range(24)]
    return fit_anomaly(
        goods,
        out,
        input_size=SIZE,
        device="cpu",
        name="ret",
        global_stage=5,
        retrieval_k=3,
        density_weight=density_weight,
    )


@pytest.fixture(scope="module")
def fitted_retrieval(tmp_path_factory: pytest.TempPathFactory) -> FitResult:
    return _fit_retrieval(tmp_path_factory.mktemp("fit-retrieval") / "model")


def test_a_patch_is_compared_with_its_nearest_images_only() -> None:
    # Two good "images" of two rows each: image 0 holds 0 and 10, image 1 holds 100 and 110.
    bank = torch.tensor([[0.0], [10.0], [100.0], [110.0]])
    rows = torch.tensor([[[101.0], [9.0]]])  # one image, two patches
    near_image_0 = torch.tensor([[0.5, 7.0]])
    near_image_1 = torch.tensor([[7.0, 0.5]])
    torch.testing.assert_close(
        retrieved_distance(rows, near_image_0, bank, 1), torch.tensor([[91.0, 1.0]])
    )
    torch.testing.assert_close(
        retrieved_distance(rows, near_image_1, bank, 1), torch.tensor([[1.0, 91.0]])
    )
    # k = 2 (or more than there are images) searches both: the plain nearest distance.
    torch.testing.assert_close(
        retrieved_distance(rows, near_image_0, bank, 5), torch.tensor([[1.0, 1.0]])
    )


def test_gallery_keeps_the_same_rows_per_image_in_image_order() -> None:
    features = torch.randn(3, 20, 4, generator=torch.Generator().manual_seed(0))
    features[1] = 7.0  # an image whose patches are all alike: chosen rows repeat
    rows = gallery_rows(features, 5)
    assert rows.shape == (15, 4)
    for image in (0, 2):
        kept = rows[image * 5 : (image + 1) * 5]
        assert all(any(torch.equal(row, patch) for patch in features[image]) for row in kept)
    assert torch.equal(rows[5:10], torch.full((5, 4), 7.0))
    assert rows_per_image(784) == 196
    with pytest.raises(ValueError, match="rows per image"):
        gallery_rows(features, 21)
    with pytest.raises(ValueError, match="gallery fraction"):
        rows_per_image(784, 0.0)


def test_fitted_package_is_a_gallery_of_every_good_image(fitted_retrieval: FitResult) -> None:
    package = load_package(fitted_retrieval.package_dir)
    meta = json.loads((fitted_retrieval.package_dir / METADATA_FILE).read_text())
    images = fitted_retrieval.n_train + fitted_retrieval.n_holdout
    assert package.retrieval_k == 3
    assert package.global_bank is not None and package.global_bank.shape[0] == images
    per_image = package.gallery_rows_per_image()
    assert package.memory_bank.shape[0] == images * per_image
    assert meta["retrieval"] == {"k": 3, "rows_per_image": per_image}


def test_retrieval_model_catches_and_locates_a_blob(
    fitted_retrieval: FitResult,
) -> None:
    inferencer = AnomalyInferencer(fitted_retrieval.package_dir, device="cpu")
    good, bad = textured_part(99), with_blob(textured_part(99), (SIZE // 2, SIZE // 2), 8)
    outputs = inferencer.predict([good, bad])
    assert outputs[1].score > outputs[0].score
    assert outputs[1].score > fitted_retrieval.threshold
    y, x = np.unravel_index(np.argmax(outputs[1].anomaly_map), outputs[1].anomaly_map.shape)
    assert abs(int(y) - SIZE // 2) < SIZE // 4 and abs(int(x) - SIZE // 2) < SIZE // 4


def test_a_gallery_that_does_not_split_per_image_is_refused(
    fitted_retrieval: FitResult, tmp_path: Path
) -> None:
    package = load_package(fitted_retrieval.package_dir)
    broken = replace(package, memory_bank=package.memory_bank[:-1])
    with pytest.raises(ValueError, match="rows per good image"):
        save_package(broken, tmp_path / "broken")
    copy = tmp_path / "copy"
    save_package(package, copy)
    meta = json.loads((copy / METADATA_FILE).read_text())
    meta["retrieval"]["rows_per_image"] += 1
    (copy / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="rows per good image"):
        load_package(copy)


def test_retrieval_needs_the_image_level_branch(tmp_path: Path) -> None:
    goods = [textured_part(seed) for seed in range(6)]
    with pytest.raises(ValueError, match="global_stage"):
        fit_anomaly(goods, tmp_path / "m", input_size=SIZE, device="cpu", retrieval_k=3)


def test_learning_a_good_part_adds_one_gallery_image(fitted_retrieval: FitResult) -> None:
    package = load_package(fitted_retrieval.package_dir)
    per_image = package.gallery_rows_per_image()
    part = with_blob(textured_part(123), (40, 40), 8)
    before = AnomalyInferencer(package, device="cpu").predict([part])[0].score
    extended, added = extend_with_good(package, [part])
    assert added == per_image
    assert extended.gallery_rows_per_image() == per_image
    assert extended.global_bank.shape[0] == package.global_bank.shape[0] + 1
    after = AnomalyInferencer(extended, device="cpu").predict([part])[0].score
    assert after < before
    # The part's lighting joins the taught range (it held it already: one image more).
    grown, taught = extended.lighting, package.lighting
    assert grown.images == taught.images + 1 and grown.fault(part) is None
    assert grown.brightness.low <= taught.brightness.low <= taught.brightness.high
    assert grown.brightness.high >= taught.brightness.high


def test_an_excluded_bank_image_is_not_its_own_neighbour(fitted_retrieval: FitResult) -> None:
    # Every good image the fit saw is in the banks (held-out ones too), so each is at
    # distance ~0 from itself; excluded, it must be scored against the others only.
    # (Scores are normalised: a distance of 0 is the lowest score the branch gives.)
    inferencer = AnomalyInferencer(fitted_retrieval.package_dir, device="cpu")
    goods = [textured_part(seed) for seed in range(24)]
    seen = inferencer.branch_scores(goods)
    batch = inferencer.model.global_distances(torch.stack([d for _, _, d in seen]))
    itself = batch.argmin(dim=1).tolist()
    assert sorted(itself) == list(range(24))
    unseen = inferencer.branch_scores(goods, exclude=itself)
    assert all(u[1] > s[1] + 0.1 for u, s in zip(unseen, seen, strict=True))
    assert all(u[0] >= s[0] for u, s in zip(unseen, seen, strict=True))
    kept = inferencer.branch_scores(goods, exclude=[-1] * 24)
    assert [k[:2] for k in kept] == [s[:2] for s in seen]


def test_an_exported_retrieval_graph_scores_several_parts_per_call(
    fitted_retrieval: FitResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The graph compares each patch with k images' gallery rows, not the whole bank, so
    # the runtime's batch bound counts those rows; batched scores equal one-at-a-time ones.
    package = load_package(fitted_retrieval.package_dir)
    runtime = export_onnx(fitted_retrieval.package_dir, tmp_path / "onnx")
    per_image = package.gallery_rows_per_image()
    assert runtime.branches["retrieval"] == {"k": 3, "rows_per_image": per_image}
    cells = (SIZE // runtime.feature_stride) ** 2
    bound = cells * 3 * per_image * 4
    monkeypatch.setattr("inspector.ml.onnx_inferencer.MAX_DISTANCE_ELEMENTS", bound)
    batched = OnnxAnomalyInferencer(tmp_path / "onnx", threads=2, max_batch=8)
    assert batched.max_batch == 4  # the whole bank would have allowed only 1
    damaged = {**runtime.branches, "retrieval": {"k": True, "rows_per_image": per_image}}
    whole_bank = OnnxAnomalyInferencer(replace(runtime, branches=damaged), max_batch=8)
    assert whole_bank.max_batch == 1  # a section it cannot trust bounds as the whole bank
    alone = OnnxAnomalyInferencer(tmp_path / "onnx", threads=2, max_batch=1)
    parts = [textured_part(seed) for seed in range(40, 45)]
    for a, b in zip(batched.predict(parts), alone.predict(parts), strict=True):
        assert a.score == pytest.approx(b.score, rel=1e-5)


def test_row_spacing_is_the_distance_to_the_neighbouring_images_rows() -> None:
    # Three good "images" of two 1-D rows: 0 = {0, 10}, 1 = {1, 30}, 2 = {100, 104}.
    bank = torch.tensor([[0.0], [10.0], [1.0], [30.0], [100.0], [104.0]])
    between = torch.tensor([[0.0, 1.0, 8.0], [1.0, 0.0, 9.0], [8.0, 9.0, 0.0]])
    # k = 1: images 0 and 1 are each other's neighbour, image 2's is image 0.
    spacing = row_scales(bank, between, 1)
    torch.testing.assert_close(spacing, torch.tensor([1.0, 9.0, 1.0, 20.0, 90.0, 94.0]))
    # Never an image's own rows, even with k covering every other image.
    torch.testing.assert_close(
        row_scales(bank, between, 5), torch.tensor([1.0, 9.0, 1.0, 20.0, 70.0, 74.0])
    )
    assert row_scales(bank[:2], torch.zeros(1, 1), 3).tolist() == [0.0, 0.0]
    # One image per block when memory is tight: the same spacings.
    torch.testing.assert_close(row_scales(bank, between, 1, max_elements=1), spacing)


def test_a_match_reports_the_spacing_of_the_row_it_matched() -> None:
    bank = torch.tensor([[0.0], [10.0], [100.0], [110.0]])
    spacing = torch.tensor([1.0, 2.0, 3.0, 4.0])
    rows = torch.tensor([[[101.0], [9.0]]])
    distance, matched = retrieved_match(rows, torch.tensor([[0.5, 7.0]]), bank, 2, spacing)
    torch.testing.assert_close(distance, torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(matched, torch.tensor([[3.0, 2.0]]))
    assert retrieved_match(rows, torch.tensor([[0.5, 7.0]]), bank, 2)[1] is None


def test_the_matched_row_is_the_nearest_of_all_retrieved_rows() -> None:
    # Found image first, then row: the same row a search over all k * R rows finds.
    generator = torch.Generator().manual_seed(3)
    bank = torch.randn(6 * 5, 4, generator=generator)  # 6 images, 5 rows each
    rows = torch.randn(2, 7, 4, generator=generator)
    image_distances = torch.rand(2, 6, generator=generator)
    spacing = torch.arange(30, dtype=torch.float32)  # a row's spacing names the row
    distance, matched = retrieved_match(rows, image_distances, bank, 3, spacing)
    nearest = image_distances.topk(3, dim=1, largest=False).indices
    for n in range(2):
        candidates = torch.cat([torch.arange(5) + 5 * int(i) for i in nearest[n]])
        d = torch.cdist(rows[n], bank[candidates])
        torch.testing.assert_close(distance[n], d.amin(dim=1), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(matched[n], candidates[d.argmin(dim=1)].float())


@pytest.fixture(scope="module")
def evened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same fit with the map evened by gallery-row spacing."""
    out = tmp_path_factory.mktemp("fit-evened") / "model"
    return _fit_retrieval(out, DEFAULT_DENSITY_WEIGHT).package_dir


def test_evening_changes_the_map_shown_and_nothing_that_is_judged(
    fitted_retrieval: FitResult, evened: Path
) -> None:
    package = load_package(evened)
    assert package.density_weight == DEFAULT_DENSITY_WEIGHT
    meta = json.loads((evened / METADATA_FILE).read_text())
    assert meta["retrieval"]["density_weight"] == DEFAULT_DENSITY_WEIGHT
    parts = [textured_part(77), with_blob(textured_part(78), (SIZE // 2, SIZE // 2), 8)]
    plain = AnomalyInferencer(fitted_retrieval.package_dir, device="cpu").predict(parts)
    even = AnomalyInferencer(package, device="cpu").predict(parts)
    # A zone stricter than the station over the whole part, so the map itself is judged.
    strict = Zone("whole part", (0.0, 0.0, 1.0, 1.0), threshold=0.8 * even[1].score)
    for p, e in zip(plain, even, strict=True):
        assert p.localisation_map is None and p.map_for_localisation is p.anomaly_map
        assert e.score == pytest.approx(p.score, rel=1e-5)  # the image score keeps the plain map
        np.testing.assert_allclose(e.anomaly_map, p.anomaly_map, rtol=1e-5, atol=1e-5)
        assert e.localisation_map is not None and e.map_for_localisation is e.localisation_map
        assert not np.allclose(e.localisation_map, p.anomaly_map, atol=1e-3)
        for rules in (DecisionRules(p.score * 0.9), DecisionRules(1e9, zones=(strict,))):
            (verdict_p, defects_p), (verdict_e, defects_e) = decide(p, rules), decide(e, rules)
            assert verdict_e is verdict_p
            assert [d.box for d in defects_e] == [d.box for d in defects_p]
    y, x = np.unravel_index(np.argmax(even[1].localisation_map), even[1].localisation_map.shape)
    assert abs(int(y) - SIZE // 2) < SIZE // 4 and abs(int(x) - SIZE // 2) < SIZE // 4
    # Learning a good part re-measures the spacing over the grown gallery.
    model = AnomalyInferencer(package, device="cpu").model
    grown, _ = extend_with_good(package, [textured_part(123)])
    regrown = AnomalyInferencer(grown, device="cpu").model
    assert regrown.row_scale.shape[0] == model.row_scale.shape[0] + package.gallery_rows_per_image()


def test_an_evened_map_exports_to_onnx_unchanged(evened: Path, tmp_path: Path) -> None:
    runtime = export_onnx(evened, tmp_path / "onnx")
    assert runtime.branches["retrieval"]["density_weight"] == DEFAULT_DENSITY_WEIGHT
    graph = onnx.load_from_string(runtime.network)
    assert [o.name for o in graph.graph.output] == ["scores", "maps", "localisation_maps"]
    parts = [textured_part(seed) for seed in (50, 51)]
    parts.append(with_blob(textured_part(52), (20, 30), 8))
    torch_out = AnomalyInferencer(evened, device="cpu").predict(parts)
    onnx_out = OnnxAnomalyInferencer(tmp_path / "onnx", threads=2).predict(parts)
    for a, b in zip(torch_out, onnx_out, strict=True):
        assert b.score == pytest.approx(a.score, rel=1e-4)
        np.testing.assert_allclose(b.anomaly_map, a.anomaly_map, rtol=1e-3, atol=1e-3)
        assert a.localisation_map is not None and b.localisation_map is not None
        np.testing.assert_allclose(b.localisation_map, a.localisation_map, rtol=1e-3, atol=1e-3)


def test_an_evened_graph_without_localisation_maps_still_runs_and_says_so(
    evened: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The interface of a graph exported before the evened map was a separate output
    # (two outputs): this one's "maps" are plain, but the inferencer cannot tell.
    runtime = export_onnx(evened, tmp_path / "onnx")
    graph = onnx.load_from_string(runtime.network)
    del graph.graph.output[2]
    older = replace(runtime, network=graph.SerializeToString())
    save_runtime_package(older, tmp_path / "older")
    with caplog.at_level(logging.WARNING, logger="inspector.ml.onnx_inferencer"):
        inferencer = OnnxAnomalyInferencer(tmp_path / "older", threads=1)
    assert "export the model again" in caplog.text
    [output] = inferencer.predict([textured_part(60)])
    assert output.localisation_map is None and np.isfinite(output.score)


def test_a_density_weight_out_of_range_is_refused(evened: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="density weight"):
        fit_anomaly(
            [textured_part(s) for s in range(8)],
            tmp_path / "m",
            input_size=SIZE,
            device="cpu",
            density_weight=0.5,  # without retrieval
        )
    copy = tmp_path / "copy"
    save_package(load_package(evened), copy)
    meta = json.loads((copy / METADATA_FILE).read_text())
    meta["retrieval"]["density_weight"] = 3
    (copy / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="density_weight 3 is not in"):
        load_package(copy)


def test_the_export_form_excludes_an_image_as_the_model_does(fitted_retrieval: FitResult) -> None:
    # Scoring a bank image against the others: both branches must skip it, in the model
    # and in the export form the INT8 refit scores with.
    inferencer = AnomalyInferencer(fitted_retrieval.package_dir, device="cpu")
    model = inferencer.model
    package = inferencer.package
    images = preprocess([textured_part(s) for s in (0, 1)], SIZE, package.mean, package.std)
    itself = torch.tensor([0, 1])
    with torch.inference_mode():
        expected = model(images, itself)
        features, descriptors = model.embed_all(images)
        output = ExportablePatchCore(model, SIZE).branch_outputs(
            features, descriptors, model.memory_bank, exclude=itself
        )
        scores, maps = output.scores, output.maps
    torch.testing.assert_close(scores, expected.scores, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(maps, expected.maps, rtol=1e-5, atol=1e-5)
