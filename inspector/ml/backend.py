"""Choosing the inference backend for a model folder: torch, or ONNX Runtime without torch.

``predict``, ``evaluate`` and the line (:func:`inspector.pipeline.line.build_line`)
all open their model through :func:`open_inferencer`, so ``--backend`` and the
station file's ``[model] backend`` mean the same everywhere. ``"auto"`` goes
by the package itself: a runtime package's ``model.json`` says
``"backend": "onnxruntime"``, a torch package says nothing. Each backend is
imported only when chosen, so an ONNX Runtime line never imports torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

from inspector.core.errors import ModelPackageError
from inspector.ml.runtime_package import BACKEND as ONNXRUNTIME
from inspector.ml.runtime_package import read_metadata

if TYPE_CHECKING:
    from inspector.ml.inferencer import AnomalyInferencer
    from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer
    from inspector.ml.segmenter_inference import SegmenterInferencer

Backend: TypeAlias = Literal["auto", "torch", "onnxruntime"]
BACKENDS: tuple[str, ...] = ("auto", "torch", ONNXRUNTIME)
TORCH = "torch"
SEGMENTER = "segmenter"
"""``kind`` of a segmenter package (``inspector train --task segment|detect``)."""
Inferencer: TypeAlias = "AnomalyInferencer | OnnxAnomalyInferencer | SegmenterInferencer"


def package_backend(model_dir: str | Path) -> str:
    """The backend a model folder was made for: ``"torch"`` or ``"onnxruntime"``.

    Raises:
        ModelPackageError: the folder or its ``model.json`` is missing or
            unreadable, or it names a backend this Inspector does not have.
    """
    folder = Path(model_dir)
    backend = read_metadata(folder).get("backend", TORCH)
    if backend not in (TORCH, ONNXRUNTIME):
        msg = (
            f"{folder / 'model.json'} names backend {backend!r}; this Inspector runs "
            f"{TORCH!r} and {ONNXRUNTIME!r} packages: use the Inspector version that made it"
        )
        raise ModelPackageError(msg)
    return backend


def open_inferencer(
    model_dir: str | Path,
    backend: Backend | str = "auto",
    *,
    device: str = "auto",
    max_batch: int = 8,
    threads: int | None = None,
    locate: bool = True,
) -> Inferencer:
    """Load the model in ``model_dir`` on the requested backend.

    Args:
        model_dir: A torch anomaly model or segmenter package, or an exported runtime package.
        backend: ``"auto"`` (what the package was made for), ``"torch"`` or
            ``"onnxruntime"``; a package of the other kind is refused, saying
            what to do, never converted behind the user's back.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        max_batch: Most images per network call.
        threads: ONNX Runtime intra-op threads (``None``: its default); the
            torch backend uses torch's own thread setting.
        locate: Whether a torch anomaly model computes its localisation maps
            (``ModelOutput.localisation_map``); a line passes ``False``, since it
            judges the plain map only. An ONNX graph computes them either way.

    Raises:
        ValueError: ``backend`` is not one of :data:`BACKENDS`.
        ModelPackageError: the package cannot be loaded, is for the other backend, or
            needs torch where it is not installed.
    """
    if backend not in BACKENDS:
        msg = f"backend {backend!r} is not known: use one of {', '.join(BACKENDS)}"
        raise ValueError(msg)
    folder = Path(model_dir)
    made_for = package_backend(folder)
    if backend == TORCH and made_for == ONNXRUNTIME:
        msg = (
            f"{folder} is an exported ONNX Runtime package: run it with --backend onnxruntime "
            "(or auto), or point --model at the torch package it was exported from"
        )
        raise ModelPackageError(msg)
    if backend == ONNXRUNTIME and made_for == TORCH:
        msg = (
            f"{folder} is a torch model package: export it first with 'inspector export "
            f"--model {folder} --format onnx --out FOLDER' and use FOLDER, or use --backend torch"
        )
        raise ModelPackageError(msg)
    if made_for == ONNXRUNTIME:
        from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer

        return OnnxAnomalyInferencer(folder, threads, device=device, max_batch=max_batch)
    if importlib.util.find_spec("torch") is None:  # the line-side bundle ships without torch
        msg = (
            f"{folder} is a torch model package and PyTorch is not installed here (a line-side "
            f"install): export it on an engineering install with 'inspector export --model "
            f"{folder} --format onnx --out FOLDER' and use FOLDER"
        )
        raise ModelPackageError(msg)
    if read_metadata(folder).get("kind") == SEGMENTER:
        # A segmenter is a station scorer too (score = highest defect probability,
        # map = probability map), so a line, predict and evaluate run it the same way.
        from inspector.ml.segmenter_inference import SegmenterInferencer

        return SegmenterInferencer(folder, device=device, max_batch=max_batch)
    from inspector.ml.inferencer import AnomalyInferencer

    return AnomalyInferencer(folder, device=device, max_batch=max_batch, locate=locate)
