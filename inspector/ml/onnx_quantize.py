"""INT8 static quantisation of an exported network, calibrated on good parts.

Only the backbone's convolutions are quantised (``QDQ`` format, weights per
output channel, activation ranges from the calibration images); the patch
distances to the memory bank, the smoothing and the image score stay in
float32. Distances between nearly equal features are differences of large
numbers, so 8-bit arithmetic there would erase exactly the small deviations a
defect makes. Whether the result is good enough is not decided here: the
export compares it with the fp32 network on labelled images and refuses it
when quality falls too far (:mod:`inspector.training.int8_export`).

Like the rest of the runtime side this imports no torch, only ONNX Runtime's
quantisation tools (the ``onnx`` extra).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from inspector.core.errors import InspectorError
from inspector.ml.onnx_inferencer import BANK_INPUT, IMAGES_INPUT
from inspector.ml.pixels import check_image, normalise_batch
from inspector.ml.runtime_package import RuntimePackage

QUANTIZED_OPS = ("Conv",)
"""Operator types turned into INT8; everything after the backbone stays float32."""
MIN_CALIBRATION_IMAGES = 8
"""Fewer good images than this give activation ranges too noisy to trust."""
CALIBRATION_BATCH = 2


def _quantization_tools():  # noqa: ANN202 - the module, imported where it is needed
    try:
        from onnxruntime import quantization
    except ImportError as exc:
        msg = (
            f"INT8 quantisation needs the 'onnx' extra ({exc.name} is missing): "
            "pip install 'inspector[onnx]'"
        )
        raise InspectorError(msg) from exc
    return quantization


def _calibration_batches(
    package: RuntimePackage, images: Sequence[np.ndarray]
) -> Iterator[dict[str, np.ndarray]]:
    """Network inputs for the calibration images, through the inferencer's own pixel code."""
    bank = np.ascontiguousarray(package.memory_bank, dtype=np.float32)
    for start in range(0, len(images), CALIBRATION_BATCH):
        chunk = images[start : start + CALIBRATION_BATCH]
        batch = normalise_batch(chunk, package.input_size, package.mean, package.std)
        yield {IMAGES_INPUT: batch, BANK_INPUT: bank}


def _after_the_bank(network: bytes) -> list[str]:
    """Names of the nodes that compute on distances to the bank (directly or downstream).

    The map smoothing is a convolution too; quantising it would clip every
    map to the range seen on good parts, which hides exactly the high values
    that mean "defect".
    """
    import onnx

    graph = onnx.load_from_string(network).graph
    tainted = {BANK_INPUT}
    downstream = []
    for node in graph.node:  # ONNX graphs are stored in topological order
        if tainted.intersection(node.input):
            tainted.update(node.output)
            downstream.append(node.name)
    return downstream


def quantize_package(
    package: RuntimePackage, calibration: Sequence[np.ndarray], *, per_channel: bool = True
) -> RuntimePackage:
    """An INT8 copy of the fp32 runtime ``package``, calibrated on good-part ``calibration`` images.

    Args:
        package: An fp32 runtime package (from ``inspector export``).
        calibration: RGB ``uint8`` images of good parts, as the camera sees them.
        per_channel: One weight scale per output channel (more accurate).

    Returns:
        The same package with the quantised network, version ``<version>-int8``
        and its ``quantization`` settings; not yet saved or quality-checked.

    Raises:
        ValueError: fewer than :data:`MIN_CALIBRATION_IMAGES` images, or one is
            not an RGB ``uint8`` array.
        InspectorError: the package is quantised already, or the tools are missing.
    """
    if package.quantization:
        msg = f"{package.version} is quantised already: quantise its fp32 export instead"
        raise InspectorError(msg)
    if len(calibration) < MIN_CALIBRATION_IMAGES:
        msg = (
            f"INT8 calibration needs at least {MIN_CALIBRATION_IMAGES} good-part images, got "
            f"{len(calibration)}: point --calibration at a folder of good parts"
        )
        raise ValueError(msg)
    for index, image in enumerate(calibration):
        check_image(image, index)
    tools = _quantization_tools()
    batches = _calibration_batches(package, calibration)

    class _Reader(tools.CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(batches, None)

    with tempfile.TemporaryDirectory(prefix="inspector-int8-") as tmp:
        fp32, prepared, int8 = (Path(tmp) / name for name in ("fp32", "prepared", "int8"))
        fp32.write_bytes(package.network)
        tools.shape_inference.quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        tools.quantize_static(
            str(prepared),
            str(int8),
            _Reader(),
            quant_format=tools.QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            nodes_to_exclude=_after_the_bank(package.network),
            per_channel=per_channel,
            activation_type=tools.QuantType.QUInt8,
            weight_type=tools.QuantType.QInt8,
            calibrate_method=tools.CalibrationMethod.MinMax,
        )
        network = int8.read_bytes()
    settings = {
        "kind": "int8-static",
        "format": "QDQ",
        "operators": list(QUANTIZED_OPS),
        "weights": "int8, per channel" if per_channel else "int8, per tensor",
        "activations": "uint8, min-max ranges",
        "calibration_images": len(calibration),
        "fp32_version": package.version,
    }
    return replace(
        package,
        version=f"{package.version}-int8",
        network=network,
        quantization=settings,
        path=None,
        files={},
    )
