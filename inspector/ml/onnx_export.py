"""Export a PatchCore model package to a runtime package that ONNX Runtime runs without torch.

What is exported is the whole forward of :class:`~inspector.ml.patchcore.PatchCore`
(backbone features, nearest-bank distances, upsampling, smoothing, image
score; with an image-level branch also its distance and the branches' score
normalisation) as one graph, ``images (N, 3, S, S)`` and ``memory_bank (M, D)`` in,
``scores (N,)`` and ``maps (N, S, S)`` out (and ``localisation_maps (N, S, S)`` for
a model that evens its map or has a localisation head), opset :data:`OPSET`, with dynamic
batch and bank axes. The patch memory bank is a graph input, so it is stored
beside the graph as a plain array; the image-level branch's small descriptor
bank (one row per good image) and the normalisation are constants in the
graph, like the backbone weights. The threshold is not in the graph at all
(``decision`` owns it). See :mod:`inspector.ml.runtime_package` for the folder.

Exporter: torch 2.14's default, ``torch.onnx.export(..., dynamo=True)``
(``torch.export`` plus onnxscript), not the legacy TorchScript tracer
(``dynamo=False``). Both were tried on the demo-line model and both matched
torch to 5e-7 in relative score on ONNX Runtime 1.32, equally fast (0.65 and
0.69 s per batch of 8, within this shared machine's noise). The
dynamo one was chosen because (1) the tracer bakes every Python value it meets
into the graph silently (the TF-style "same" padding of
:class:`~inspector.ml.efficientnet_lite.SameConv2d` is computed from the input
shape, and the tracer warned about exactly that), while ``torch.export``
checks symbolically that the batch axis really is free and fails loudly if
not; (2) its graph is 90 nodes after onnxscript's optimiser against 449, with
the output shapes known; (3) the tracer is deprecated (a
``DeprecationWarning`` on every call in torch 2.14). Its costs: the
``onnxscript`` package at export time (not on the line PC, which needs only
``onnxruntime``) and about 20 s per export on 2 cores against 3 s.

The export is verified before anything is written: :class:`ExportablePatchCore`
against :class:`PatchCore` in torch, then the ONNX Runtime inferencer against
the torch inferencer on a few images, through both backends' public
``predict``; a relative score difference above :data:`SCORE_TOLERANCE` refuses
the export. What was measured is stored in ``model.json`` (``export_check``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inspector.core.errors import InspectorError, ModelPackageError
from inspector.ml.anomaly_result import PatchCoreOutput
from inspector.ml.inferencer import AnomalyInferencer, build_patchcore
from inspector.ml.onnx_inferencer import (
    BANK_INPUT,
    IMAGES_INPUT,
    LOCALISATION_MAPS,
    OUTPUTS,
    OnnxAnomalyInferencer,
)
from inspector.ml.package import ModelPackage, load_package
from inspector.ml.patchcore import PatchCore, check_input_size
from inspector.ml.retrieval import retrieved_match
from inspector.ml.runtime_package import (
    METADATA_FILE,
    RuntimePackage,
    load_runtime_package,
    save_runtime_package,
)

OPSET = 18
"""ONNX opset of exported graphs (ONNX Runtime 1.17 and later run it)."""
SCORE_TOLERANCE = 1e-3
"""Largest relative score difference, ONNX Runtime against torch, an export may have."""


class ExportablePatchCore(nn.Module):
    """PatchCore's forward in an export-friendly form: the bank is an input, no Python loop.

    :meth:`PatchCore.nearest_distance` loops over blocks of rows to bound
    memory, which ``torch.export`` cannot do over a bank whose size is an
    input; here all distances of a batch are one ``addmm`` (``|b|^2 - 2 a.b``)
    and one ``amin``, the same float32 arithmetic in one block (the runtime
    inferencer bounds the block by splitting batches instead). Features, the
    image-level distances and everything after the patch distances (maps,
    smoothing, image score: :meth:`PatchCore.from_cells`) are the wrapped
    model's own methods, and :func:`export_onnx` checks that both forms still
    agree (a change there refuses the export rather than exporting other scores).

    Args:
        model: A PatchCore. Its memory bank is not searched (the graph's
            ``memory_bank`` input is), but a model that evens its map takes the
            rows' spacing from it, so it must be the bank the graph will get.
        input_size: Side of the square input; fixed in the graph.
    """

    def __init__(self, model: PatchCore, input_size: int) -> None:
        super().__init__()
        self.model = model.eval()
        self.input_size = int(input_size)

    def forward(self, images: torch.Tensor, memory_bank: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Scores ``(N,)`` and smoothed maps ``(N, S, S)`` of normalised images ``(N, 3, S, S)``,
        then the localisation maps of a model that has them (evened, or with a
        localisation head: :func:`output_names`)."""
        features, descriptors = self.model.embed_all(images)
        return self.score_features(features, descriptors, memory_bank)

    def score_features(
        self,
        features: torch.Tensor,
        descriptors: torch.Tensor | None,
        memory_bank: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """Scores and maps (and localisation maps) from the backbone's outputs: everything
        after the backbone.

        Apart so that an INT8 export can put a quantised backbone in front of
        it (:mod:`inspector.ml.onnx_split`).
        """
        output = self.branch_outputs(features, descriptors, memory_bank)
        if output.localisation_maps is None:
            return output.scores, output.maps
        return output.scores, output.maps, output.localisation_maps

    def branch_outputs(
        self,
        features: torch.Tensor,
        descriptors: torch.Tensor | None,
        memory_bank: torch.Tensor,
        exclude: torch.Tensor | None = None,
    ) -> PatchCoreOutput:
        """:meth:`score_features` with each branch's score, for the INT8 refit's calibration.

        ``exclude`` (never exported) is :meth:`PatchCore.forward`'s: for a
        retrieval model, the good image of the banks each image is not compared
        with (-1 for none).
        """
        n, dim, h, w = features.shape
        model = self.model
        rows = features.permute(0, 2, 3, 1).reshape(-1, dim)
        spacing = global_scores = None
        if model.retrieval_k and descriptors is not None:
            image_distances = model.image_distances(descriptors, exclude)
            global_scores = image_distances.amin(dim=1)
            cells, spacing = retrieved_match(
                rows.view(n, h * w, dim),
                image_distances,
                memory_bank,
                model.retrieval_k,
                model.row_scale if model.evens_map else None,
            )
        else:
            bank_sq = (memory_bank * memory_bank).sum(dim=1)
            d2 = torch.addmm(bank_sq, rows, memory_bank.t(), alpha=-2.0)
            cells = d2.amin(dim=1) + (rows * rows).sum(dim=1)
            cells = cells.clamp_min(0.0).sqrt()
            if descriptors is not None:
                global_scores = model.global_distance(descriptors)
        size = (self.input_size, self.input_size)
        head = model.head_cells(features)
        return model.from_cells(cells.view(n, -1), spacing, global_scores, (h, w), size, head)


def output_names(model: PatchCore) -> tuple[str, ...]:
    """The graph's outputs for ``model``: ``localisation_maps`` only when it has a map of its
    own to locate with (:attr:`~inspector.ml.patchcore.PatchCore.locates_apart`)."""
    return (*OUTPUTS, LOCALISATION_MAPS) if model.locates_apart else OUTPUTS


def _check_dependencies() -> str:
    """The exporter's versions; a clear error when the ``onnx`` extra is missing."""
    try:
        import onnxruntime
        import onnxscript
    except ImportError as exc:
        msg = (
            f"exporting to ONNX needs the 'onnx' extra ({exc.name} is missing): "
            "pip install 'inspector[onnx]'"
        )
        raise InspectorError(msg) from exc
    return (
        f"torch.onnx.export(dynamo=True), torch {torch.__version__}, onnxscript "
        f"{onnxscript.__version__}; checked on onnxruntime {onnxruntime.__version__}"
    )


def check_images(input_size: int) -> list[np.ndarray]:
    """Images the export is verified on: texture at the input size, a gradient, an odd size.

    Fixed (seeded) so two exports of one package are checked alike; varied so
    both resizes (into and out of the network) and a wide range of scores are covered.
    """
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (input_size, input_size, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, input_size * input_size * 3).reshape(input_size, input_size, 3)
    odd = rng.integers(64, 192, (input_size + 37, input_size // 2 + 5, 3), dtype=np.uint8)
    return [noise, ramp.astype(np.uint8), odd]


def bank_as_stored(bank: torch.Tensor) -> np.ndarray:
    """The bank in float16 when that is exact (packages store it so), else float32."""
    half = bank.to(torch.float16)
    exact = bool(torch.isfinite(half).all()) and torch.equal(half.float(), bank.float())
    return (half if exact else bank.float()).numpy()


def _export_graph(model: PatchCore, package: ModelPackage, opset: int) -> bytes:
    wrapper = ExportablePatchCore(model, package.input_size).eval()
    generator = torch.Generator().manual_seed(0)
    size = package.input_size
    images = torch.randn(2, 3, size, size, generator=generator)
    bank = package.memory_bank.float().contiguous()
    reference = build_patchcore(package)
    with torch.inference_mode():
        expected, got = reference(images), wrapper(images, bank)
    wanted = [expected.scores, expected.maps]
    if expected.localisation_maps is not None:
        wanted.append(expected.localisation_maps)
    same = len(got) == len(wanted) and all(
        torch.allclose(want, have, rtol=1e-5, atol=1e-5)
        for want, have in zip(wanted, got, strict=False)
    )
    if not same:
        msg = "the export form of the model does not compute what the model does: report this"
        raise ModelPackageError(msg)
    dynamic = {"images": {0: BATCH_DIM}, "memory_bank": {0: ROWS_DIM}}
    names = [IMAGES_INPUT, BANK_INPUT]
    return to_onnx(wrapper, (images, bank), names, output_names(model), dynamic, opset)


BATCH_DIM = torch.export.Dim("batch", min=1, max=4096)
ROWS_DIM = torch.export.Dim("bank_rows", min=1)


def to_onnx(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    inputs: Sequence[str],
    outputs: Sequence[str],
    dynamic: dict[str, dict[int, torch.export.Dim]],
    opset: int,
) -> bytes:
    """``module`` as ONNX bytes, through the one exporter this project uses (see above)."""
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its progress
        program = torch.onnx.export(
            module,
            example,
            dynamo=True,
            input_names=list(inputs),
            output_names=list(outputs),
            opset_version=opset,
            dynamic_shapes=dynamic,
            optimize=True,
            verbose=False,
        )
    return program.model_proto.SerializeToString()


def branches_of(source: ModelPackage) -> dict[str, object]:
    """The image-level branch and normalisation as the source states them (both in the graph)."""
    if source.global_stage is None or source.global_bank is None or source.normalisation is None:
        return {}
    return {
        "global_branch": {
            "stage": source.global_stage,
            "bank_size": int(source.global_bank.shape[0]),
            "stored": "in network.onnx (constants)",
        },
        "score_normalisation": source.normalisation._asdict(),
        **retrieval_of(source),
    }


def retrieval_of(source: ModelPackage) -> dict[str, object]:
    """A retrieval model's ``k`` and gallery rows per good image (the graph compares each
    patch with ``k * rows_per_image`` rows, which sizes the runtime's batches)."""
    if not source.retrieval_k:
        return {}
    section: dict[str, object] = {
        "k": source.retrieval_k,
        "rows_per_image": source.gallery_rows_per_image(),
    }
    if source.density_weight:
        section["density_weight"] = source.density_weight
    return {"retrieval": section}


def _relative_difference(reference: Sequence[float], other: Sequence[float]) -> float:
    ref, oth = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    return float(np.max(np.abs(oth - ref) / np.maximum(np.abs(ref), 1e-12)))


def export_onnx(
    model_dir: str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    opset: int = OPSET,
) -> RuntimePackage:
    """Export the torch package in ``model_dir`` to a runtime package in ``out``.

    Args:
        model_dir: A PatchCore model package (``model.json`` + ``memory_bank.pt``).
        out: Folder for ``network.onnx``, ``memory_bank.npy`` and ``model.json``.
        overwrite: Replace a package already in ``out``.
        opset: ONNX opset to write.

    Returns:
        The runtime package as written and read back (hashes checked).

    Raises:
        ModelPackageError: the source package cannot be loaded, or ONNX Runtime
            does not reproduce the torch scores within :data:`SCORE_TOLERANCE`
            (then nothing is written).
        InspectorError: the ``onnx`` extra (onnxscript, onnxruntime) is missing.
        ValueError: ``out`` already holds a package and ``overwrite`` is false.
    """
    exporter = _check_dependencies()
    folder = Path(out)
    if (folder / METADATA_FILE).exists() and not overwrite:
        msg = f"{folder} already holds a model package: choose another folder or pass --overwrite"
        raise ValueError(msg)
    source = load_package(model_dir)
    check_input_size(source.input_size, source.layers)
    model = build_patchcore(source)
    package = RuntimePackage(
        name=source.name,
        version=f"{source.version}-onnx",
        source_version=source.version,
        backbone=source.backbone,
        backbone_sha256=source.backbone_sha256,
        layers=source.layers,
        feature_stride=model.stride,
        input_size=source.input_size,
        mean=source.mean,
        std=source.std,
        sigma=source.sigma,
        score_top_fraction=source.score_top_fraction,
        threshold=source.threshold,
        memory_bank=bank_as_stored(source.memory_bank),
        network=_export_graph(model, source, opset),
        opset=opset,
        exporter=exporter,
        training=source.training,
        metrics=source.metrics,
        branches=branches_of(source),
        source_files=source.files,
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        exposure=source.exposure,
        lighting=source.lighting,
    )
    images = check_images(source.input_size)
    expected = AnomalyInferencer(source, device="cpu").predict(images)
    got = OnnxAnomalyInferencer(package, device="cpu").predict(images)
    difference = _relative_difference([o.score for o in expected], [o.score for o in got])
    if not difference <= SCORE_TOLERANCE:
        msg = (
            f"ONNX Runtime scores differ from torch by up to {difference:.3g} (relative; the "
            f"limit is {SCORE_TOLERANCE:g}) on the check images: nothing was written; try "
            "another opset (--opset) or report this"
        )
        raise ModelPackageError(msg)
    check = {
        "images": len(images),
        "max_relative_score_difference": difference,
        "torch_scores": [o.score for o in expected],
        "onnxruntime_scores": [o.score for o in got],
    }
    save_runtime_package(replace(package, export_check=check), folder, overwrite=overwrite)
    return load_runtime_package(folder)
