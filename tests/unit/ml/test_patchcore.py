"""PatchCore torch model: features, nearest-neighbour distances, smoothing, scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inspector.ml.anomaly_map import gaussian_kernel
from inspector.ml.efficientnet_lite import INPUT_MEAN, INPUT_STD
from inspector.ml.inferencer import build_backbone
from inspector.ml.patchcore import PatchCore, check_input_size, feature_dim
from inspector.ml.preprocess import preprocess
from tests.unit.ml.synthetic_parts import textured_part, with_blob


@pytest.fixture(scope="module")
def model() -> PatchCore:
    return PatchCore(build_backbone()[0]).eval()


def _batch(images: list[np.ndarray], size: int = 128) -> torch.Tensor:
    return preprocess(images, size, INPUT_MEAN, INPUT_STD)


def test_embedding_concatenates_stride_8_and_16_stages_at_stride_8(model: PatchCore) -> None:
    with torch.inference_mode():
        features = model.embed(_batch([textured_part(0)] * 2, 224))
    assert features.shape == (2, 40 + 112, 28, 28)
    assert model.dim == feature_dim((2, 4)) == 152
    assert model.stride == 8


def test_an_image_in_its_own_bank_scores_zero_and_others_do_not(model: PatchCore) -> None:
    part, other = _batch([textured_part(1)]), _batch([textured_part(2)])
    with torch.inference_mode():
        bank = model.patch_features(part)
        scored = PatchCore(model.backbone, bank).eval()
        own, fresh = scored(part), scored(other)
    assert own.maps.shape == (1, 128, 128)
    # Not exactly 0: float32 |a|^2 - 2ab + |b|^2 leaves ~1e-3 relative noise after the sqrt.
    assert float(own.scores[0]) < 0.01 * float(fresh.scores[0])
    assert float(fresh.scores[0]) > 1.0


def test_defect_raises_the_map_where_it_is(model: PatchCore) -> None:
    goods = _batch([textured_part(seed) for seed in range(10)])
    defect = with_blob(textured_part(50), centre=(90, 30), radius=9)
    with torch.inference_mode():
        scored = PatchCore(model.backbone, model.patch_features(goods)).eval()
        out = scored(_batch([textured_part(51), defect]))
    good_score, defect_score = out.scores.tolist()
    assert defect_score > 1.3 * good_score
    y, x = np.unravel_index(int(out.maps[1].argmax()), (128, 128))
    assert abs(x - 90) <= 12 and abs(y - 30) <= 12
    assert torch.allclose(out.scores, out.maps.flatten(1).amax(dim=1))


@pytest.mark.parametrize("block", [1 << 24, 50])  # one block, and many tiny ones
def test_nearest_distance_equals_brute_force(model: PatchCore, block: int) -> None:
    gen = torch.Generator().manual_seed(0)
    bank = torch.randn(300, 152, generator=gen)
    queries = torch.randn(130, 152, generator=gen)
    scored = PatchCore(model.backbone, bank, max_distance_elements=block * 300)
    expected = torch.cdist(queries.double(), bank.double()).min(dim=1).values.float()
    torch.testing.assert_close(scored.nearest_distance(queries), expected, atol=1e-3, rtol=1e-4)


def test_the_model_smooths_with_its_own_sigma(model: PatchCore) -> None:
    torch.testing.assert_close(model.kernel, gaussian_kernel(model.sigma))


def test_scoring_without_a_bank_says_to_fit(model: PatchCore) -> None:
    with pytest.raises(RuntimeError, match="fit it"), torch.inference_mode():
        model(_batch([textured_part(0)]))


def test_a_bank_of_the_wrong_width_is_refused(model: PatchCore) -> None:
    with pytest.raises(ValueError, match=r"expected \(M, 152\)"):
        PatchCore(model.backbone, torch.zeros(10, 64))


def test_backbone_stays_in_eval_mode(model: PatchCore) -> None:
    model.train()
    assert not model.backbone.training
    assert not any(p.requires_grad for p in model.parameters())
    model.eval()


@pytest.mark.parametrize("size", [16, 100, 0])
def test_unusable_input_sizes_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="multiple of 8 of at least 32"):
        check_input_size(size, (2, 4))


def test_mixed_precision_keeps_distances_and_maps_float32(model: PatchCore) -> None:
    # CPU bfloat16 autocast stands in for CUDA float16: same code path, coarser type.
    goods = _batch([textured_part(seed) for seed in range(4)])
    query = _batch([with_blob(textured_part(60), centre=(64, 64), radius=9)])
    with torch.inference_mode():
        scored = PatchCore(model.backbone, model.patch_features(goods)).eval()
        full = scored(query)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = scored(query)
    assert mixed.maps.dtype == mixed.scores.dtype == torch.float32
    assert float(mixed.scores[0]) == pytest.approx(float(full.scores[0]), rel=0.1)
