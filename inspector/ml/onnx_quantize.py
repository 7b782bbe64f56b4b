"""INT8 static quantisation of the backbone's graph, calibrated on good parts.

Only the feature graph (images in, patch features and image descriptors
out; :mod:`inspector.ml.onnx_split`) is quantised: weights per output
channel, activation ranges from the calibration images. The patch distances
to the memory bank, the smoothing and the image score stay float32 in the
scoring graph: distances between nearly equal features are differences of
large numbers, so 8-bit arithmetic there would erase exactly the small
deviations a defect makes. :func:`join_graphs` puts the two back together.

Quantised features are not the fp32 features: the memory banks must be
rebuilt from them (:mod:`inspector.training.int8_export`), and whether the
result is good enough is measured on labelled images there, not assumed here.

Like the rest of the runtime side this imports no torch, only ONNX Runtime's
quantisation tools and ``onnx`` (the ``onnx`` extra).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.errors import InspectorError
from inspector.ml.onnx_inferencer import IMAGES_INPUT
from inspector.ml.pixels import AS_CAPTURED, check_image, normalise_batch

FEATURES, DESCRIPTORS = "features", "descriptors"
"""Outputs of the feature graph, inputs of the scoring graph."""
MIN_CALIBRATION_IMAGES = 8
"""Fewer good images than this give activation ranges too noisy to trust."""
BATCH = 4
FLOAT_FIRST_CONVS = 2
"""Convolutions left float32 from the images on: the stem and the first block's
depthwise one, which see the grey levels nearly raw. Quantising them re-rounds the
resized image and its first edges; on magnetic-tile (Lite0 retrieval model, fp32
image AUROC 0.998) every convolution in INT8 gave 0.984, the stem float 0.996,
these two float 0.998-0.999, for about 3 % of the backbone's multiply-adds."""


@dataclass(frozen=True)
class Int8Recipe:
    """How the feature graph is quantised; recorded in ``model.json``.

    The defaults won on magnetic-tile (README, "INT8"): QDQ, which ONNX
    Runtime fuses into integer kernels, signed 8-bit weights per channel with
    unsigned activations (the AVX-512 VNNI and AVX2 integer kernels' fast pair),
    activation ranges at the 99.999th percentile (image AUROC 0.939 against
    min-max's 0.922 on Lite0, fp32 0.964: a rare extreme value no longer
    coarsens every step of its tensor), and the first two convolutions left
    float32 (:data:`FLOAT_FIRST_CONVS`).

    Attributes:
        format: ``"QDQ"`` (quantise/dequantise pairs) or ``"QOperator"`` (QLinear ops).
        operators: ONNX op types to quantise.
        weights: ``"int8"`` or ``"uint8"``.
        per_channel: One weight scale per output channel.
        reduce_range: 7-bit weights, for CPUs whose u8s8 kernels can saturate.
        skip_depthwise: Leave depthwise convolutions float32.
        float_features: Leave float32 the convolutions whose outputs reach the
            features without another convolution in between (their 8-bit
            outputs would round the very values the bank compares).
        calibration: Activation ranges by ``"MinMax"``, ``"Percentile"`` or ``"Entropy"``.
        float_first_convs: Leave float32 this many convolutions from the images on
            (in the graph's order, which is topological).
    """

    format: str = "QDQ"
    operators: tuple[str, ...] = ("Conv",)
    weights: str = "int8"
    per_channel: bool = True
    reduce_range: bool = False
    skip_depthwise: bool = False
    float_features: bool = False
    calibration: str = "Percentile"
    float_first_convs: int = FLOAT_FIRST_CONVS

    def __post_init__(self) -> None:
        if self.float_first_convs < 0:
            msg = f"float_first_convs must be 0 or more, got {self.float_first_convs}"
            raise ValueError(msg)

    def as_dict(self) -> dict[str, Any]:
        """The recipe for ``model.json``."""
        return {**asdict(self), "operators": list(self.operators), "activations": "uint8"}


def _tools():  # noqa: ANN202 - the module, imported where it is needed
    try:
        from onnxruntime import quantization
    except ImportError as exc:
        msg = (
            f"INT8 quantisation needs the 'onnx' extra ({exc.name} is missing): "
            "pip install 'inspector[onnx]'"
        )
        raise InspectorError(msg) from exc
    return quantization


def check_calibration(images: Sequence[np.ndarray]) -> None:
    """Refuse too few or malformed calibration images, with what to do.

    Raises:
        ValueError: fewer than :data:`MIN_CALIBRATION_IMAGES` images, or one is
            not an RGB ``uint8`` array.
    """
    if len(images) < MIN_CALIBRATION_IMAGES:
        msg = (
            f"INT8 calibration needs at least {MIN_CALIBRATION_IMAGES} good-part images, got "
            f"{len(images)}: point --calibration at a folder of good parts"
        )
        raise ValueError(msg)
    for index, image in enumerate(images):
        check_image(image, index)


def _depthwise(graph: Any) -> list[str]:  # noqa: ANN401 - an onnx GraphProto
    """Convolutions with one input channel per group (depthwise)."""
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    found = []
    for node in graph.node:
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        weight = shapes.get(node.input[1]) if node.op_type == "Conv" else None
        if weight is not None and group > 1 and weight[1] == 1:
            found.append(node.name)
    return found


def _writing_features(graph: Any) -> list[str]:  # noqa: ANN401 - an onnx GraphProto
    """Convolutions reached from the graph's outputs without passing another convolution."""
    producers = {out: node for node in graph.node for out in node.output}
    found, seen = [], set()
    pending = [out.name for out in graph.output]
    while pending:
        node = producers.get(pending.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type == "Conv":
            found.append(node.name)
        else:
            pending.extend(node.input)
    return found


def quantize_features(
    graph: bytes,
    batches: Iterable[np.ndarray],
    recipe: Int8Recipe = Int8Recipe(),  # noqa: B008 - frozen, so sharing the default is safe
) -> bytes:
    """The INT8 version of a feature graph, activation ranges taken on ``batches``.

    Args:
        graph: A feature graph (``images`` in) as ONNX bytes.
        batches: Normalised good-part image batches ``(N, 3, S, S)`` float32.
        recipe: How to quantise.

    Raises:
        InspectorError: ONNX Runtime's quantisation tools are missing.
    """
    import onnx

    tools = _tools()
    # One image per call: the histogram calibrators stack each tensor's values over calls
    # and fail on a last, shorter batch.
    feed = (batch[i : i + 1] for batch in batches for i in range(len(batch)))

    class _Reader(tools.CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(feed, None)
            return None if batch is None else {IMAGES_INPUT: batch}

    with (
        tempfile.TemporaryDirectory(prefix="inspector-int8-") as tmp,
        contextlib.redirect_stdout(io.StringIO()),  # the calibrators print their progress
    ):
        fp32, prepared, int8 = (Path(tmp) / name for name in ("fp32", "prepared", "int8"))
        fp32.write_bytes(graph)
        tools.shape_inference.quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared)).graph
        excluded = _depthwise(model) if recipe.skip_depthwise else []
        excluded += _writing_features(model) if recipe.float_features else []
        convs = [node.name for node in model.node if node.op_type == "Conv"]
        excluded += convs[: recipe.float_first_convs]
        tools.quantize_static(
            str(prepared),
            str(int8),
            _Reader(),
            quant_format=getattr(tools.QuantFormat, recipe.format),
            op_types_to_quantize=list(recipe.operators),
            nodes_to_exclude=excluded,
            per_channel=recipe.per_channel,
            reduce_range=recipe.reduce_range,
            activation_type=tools.QuantType.QUInt8,
            weight_type=tools.QuantType.QInt8
            if recipe.weights == "int8"
            else tools.QuantType.QUInt8,
            calibrate_method=getattr(tools.CalibrationMethod, recipe.calibration),
        )
        return int8.read_bytes()


def join_graphs(features: bytes, scoring: bytes) -> bytes:
    """One network from a feature graph and the scoring graph that reads its outputs.

    The result has the fp32 export's interface (``images`` and ``memory_bank``
    in, ``scores`` and ``maps`` out, and ``localisation_maps`` when the scoring graph has
    it), so :class:`~inspector.ml.onnx_inferencer.
    OnnxAnomalyInferencer` runs it unchanged.
    """
    import onnx
    from onnx import compose

    first, second = onnx.load_from_string(features), onnx.load_from_string(scoring)
    links = [(out.name, out.name) for out in first.graph.output]
    # Both graphs come from one exporter, so internal names repeat: keep them apart.
    first = compose.add_prefix(first, "features/", rename_inputs=False, rename_outputs=False)
    second = compose.add_prefix(second, "scoring/", rename_inputs=False, rename_outputs=False)
    merged = compose.merge_models(first, second, io_map=links)
    onnx.checker.check_model(merged)
    return merged.SerializeToString()


class FeatureRunner:
    """Runs a feature graph on camera images, through the inferencer's own pixel code.

    Args:
        graph: A (quantised or fp32) feature graph as ONNX bytes.
        input_size: Side of the square the images are resized to.
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation standard deviation.
        threads: ONNX Runtime intra-op threads (``None``: its choice).
        exposure: The package's exposure setting (:data:`inspector.ml.pixels.EXPOSURES`).
    """

    def __init__(
        self,
        graph: bytes,
        input_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        threads: int | None = None,
        exposure: str = AS_CAPTURED,
    ) -> None:
        from inspector.ml.onnx_inferencer import session_for

        self.session = session_for(graph, threads)
        self.input_size, self.mean, self.std = input_size, tuple(mean), tuple(std)
        self.exposure = exposure

    def batches(self, images: Sequence[np.ndarray]) -> Iterable[np.ndarray]:
        """Normalised batches of ``images``, :data:`BATCH` at a time."""
        for start in range(0, len(images), BATCH):
            chunk = images[start : start + BATCH]
            yield normalise_batch(
                chunk, self.input_size, self.mean, self.std, exposure=self.exposure
            )

    def __call__(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Patch features ``(N, D, h, w)`` and descriptors ``(N, 2 C)`` (``None`` without
        an image-level branch)."""
        parts: list[list[np.ndarray]] = []
        for batch in self.batches(images):
            parts.append(self.session.run(None, {IMAGES_INPUT: batch}))
        joined = [np.concatenate(column) for column in zip(*parts, strict=True)]
        return joined[0], (joined[1] if len(joined) > 1 else None)


Features = Callable[[Sequence[np.ndarray]], tuple[np.ndarray, np.ndarray | None]]
"""What :class:`FeatureRunner` is to the refit: images in, features and descriptors out."""
