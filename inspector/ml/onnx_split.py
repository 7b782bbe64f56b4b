"""The exported network in two graphs: the backbone's features, and the scoring after them.

An INT8 export quantises the first graph only and rebuilds the memory banks
from its outputs (:mod:`inspector.training.int8_export`); the second graph
(distances to the bank, smoothing, the image-level branch, normalisation,
image score) stays float32 and is exported with the rebuilt image-level bank
and normalisation as its constants. :func:`inspector.ml.onnx_quantize.join_graphs`
then joins the two into one network with the fp32 export's inputs and outputs,
so the runtime side sees no difference. Both halves are
:class:`~inspector.ml.onnx_export.ExportablePatchCore`'s own code, so they
compute what the fp32 export computes.
"""

from __future__ import annotations

import torch
from torch import nn

from inspector.ml.onnx_export import (
    BATCH_DIM,
    ROWS_DIM,
    ExportablePatchCore,
    output_names,
    to_onnx,
)
from inspector.ml.onnx_inferencer import BANK_INPUT, IMAGES_INPUT
from inspector.ml.onnx_quantize import DESCRIPTORS, FEATURES
from inspector.ml.patchcore import PatchCore


class _Features(nn.Module):
    def __init__(self, model: PatchCore) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features, descriptors = self.model.embed_all(images)
        return (features,) if descriptors is None else (features, descriptors)


class _Scoring(nn.Module):
    def __init__(self, model: PatchCore, input_size: int) -> None:
        super().__init__()
        self.wrapper = ExportablePatchCore(model, input_size)

    def forward(self, features: torch.Tensor, *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
        descriptors = rest[0] if len(rest) == 2 else None
        return self.wrapper.score_features(features, descriptors, rest[-1])


def _example(model: PatchCore, input_size: int) -> tuple[torch.Tensor, ...]:
    images = torch.randn(2, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        return _Features(model)(images)


def feature_graph(model: PatchCore, input_size: int, opset: int) -> bytes:
    """``images (N, 3, S, S)`` in; ``features (N, D, h, w)`` and, with an image-level
    branch, ``descriptors (N, 2 C)`` out."""
    images = torch.zeros(2, 3, input_size, input_size)
    outputs = [FEATURES] if model.global_stage is None else [FEATURES, DESCRIPTORS]
    dynamic = {"images": {0: BATCH_DIM}}
    return to_onnx(_Features(model).eval(), (images,), [IMAGES_INPUT], outputs, dynamic, opset)


def scoring_graph(model: PatchCore, input_size: int, opset: int) -> bytes:
    """The backbone's outputs and ``memory_bank`` in; ``scores`` and ``maps`` (and
    ``localisation_maps``: :func:`~inspector.ml.onnx_export.output_names`) out.

    ``model``'s image-level bank and normalisation become constants; the patch
    bank stays an input, as in the fp32 export.
    """
    example = _example(model, input_size)
    # A retrieval model's bank splits into the same rows per good image: so must the example.
    rows = 3 * model.global_bank.shape[0] if model.retrieval_k else 7
    bank = torch.zeros(rows, model.dim)
    names = [FEATURES, DESCRIPTORS][: len(example)] + [BANK_INPUT]
    batch = [{0: BATCH_DIM}] * len(example)
    dynamic = {"features": batch[0], "rest": (*batch[1:], {0: ROWS_DIM})}
    return to_onnx(
        _Scoring(model, input_size).eval(),
        (*example, bank),
        names,
        output_names(model),
        dynamic,
        opset,
    )
