"""``predict``: score image files with a model package and write one JSON line per image.

The output is a contract other tools rely on (documented in README), one
JSON object per line per image, in input order::

    {"path": str, "score": float, "verdict": "accept"|"reject"|"review",
     "defects": [{"class": str, "confidence": float, "bbox": [x, y, w, h], "area_px": int}],
     "latency_ms": float}

An image lit unlike the good parts the model learnt from
(:mod:`inspector.ml.lighting`) gets the rules' fail-safe verdict, no defects
and one more key, ``"lighting"`` (why), as the line would not judge it either.
An image that cannot be read gets ``{"path": str, "error": str}`` instead and
the run goes on; the summary counts it so the caller can fail the run. Images
are scored by :class:`~inspector.ml.inferencer.AnomalyInferencer` (or its
torch-free twin on ONNX Runtime, see :mod:`inspector.ml.backend`) and sorted
by :func:`inspector.decision.decide`, the live line's own path. With a
classifier package beside the model (``--classifier``), both run on each batch
as on a line (:class:`~inspector.ml.combined_scorer.CombinedScorer`) and
``defects[].class`` names the part's most probable defect class; without one
the output is exactly what it was (``"anomaly"``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from inspector.acquisition.image_files import list_images, read_image
from inspector.core.errors import SourceError
from inspector.core.inspection import Defect, ModelOutput
from inspector.core.verdict import Verdict
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.ml.backend import open_inferencer
from inspector.ml.combined_scorer import open_combined_scorer
from inspector.ml.lighting import scorer_lighting
from inspector.training.evaluate import without_masks

if TYPE_CHECKING:
    from inspector.ml.backend import Inferencer

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PredictSummary:
    """How a ``predict`` run went.

    Attributes:
        scored: Images scored and written.
        failed: Inputs that got an ``error`` line (unreadable or missing).
        seconds: Wall time, model loading excluded.
        threshold: Threshold the verdicts were made with.
        model_version: Version of the package used.
    """

    scored: int
    failed: int
    seconds: float
    threshold: float
    model_version: str

    @property
    def images_per_second(self) -> float:
        """Throughput over all inputs, decoding and writing included."""
        total = self.scored + self.failed
        return total / self.seconds if self.seconds > 0 else float("nan")


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given and the images under folders (recursively, sorted), in argument order.

    In folders, a ``.png`` beside a same-stem image is taken for its mask and
    skipped (the evaluation layout). A path that does not exist is kept, so
    that it gets its own error line rather than vanishing from the output.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(without_masks(list_images(path)) if path.is_dir() else [path])
    return files


def check_unique_stems(files: Sequence[Path]) -> None:
    """Refuse inputs whose maps would overwrite each other (maps are named by stem).

    Raises:
        ValueError: naming the first two files that share a stem.
    """
    seen: dict[str, Path] = {}
    for file in files:
        if file.stem in seen and seen[file.stem] != file:
            msg = (
                f"{seen[file.stem]} and {file} share the stem {file.stem!r}, so their maps "
                "would both be <stem>.npy: run them separately or without --maps"
            )
            raise ValueError(msg)
        seen[file.stem] = file


def defect_record(defect: Defect) -> dict[str, Any]:
    """One defect as the JSON contract spells it."""
    return {
        "class": defect.kind,
        "confidence": round(float(defect.confidence), 6),
        "bbox": [int(v) for v in defect.box],
        "area_px": int(defect.area_px),
    }


def prediction_record(
    path: Path,
    output: ModelOutput,
    verdict: Verdict,
    defects: Sequence[Defect],
    latency_ms: float,
    lighting: str | None = None,
) -> dict[str, Any]:
    """One scored image as the JSON contract spells it (keys in contract order;
    ``"lighting"`` last, only for an image lit unlike the model's good parts).

    A score that is not a finite number (JSON has no ``nan``) is written as
    ``null``; its verdict is then the rules' fail-safe one.
    """
    score = float(output.score)
    record = {
        "path": str(path),
        "score": score if math.isfinite(score) else None,
        "verdict": verdict.value,
        "defects": [defect_record(d) for d in defects],
        "latency_ms": round(latency_ms, 3),
    }
    if lighting:
        record["lighting"] = lighting
    return record


def predict_files(
    model: str | Path | Inferencer,
    paths: Iterable[str | Path],
    output: TextIO,
    *,
    maps_dir: str | Path | None = None,
    threshold: float | None = None,
    device: str = "auto",
    batch: int = 8,
    progress: Progress | None = None,
    backend: str = "auto",
    classifier: str | Path | None = None,
    rules: DecisionRules | None = None,
    check_lighting: bool = True,
) -> PredictSummary:
    """Score images and write one JSON line each to ``output``, flushing per batch.

    Args:
        model: Model package folder, or an inferencer already built.
        paths: Image files and folders (searched recursively).
        output: Text stream for the JSON lines.
        maps_dir: When set, each image's localisation map
            (``ModelOutput.map_for_localisation``) is saved there as ``<stem>.npy``
            (float32, the image's height and width, comparable across images of
            one model). For a model that evens its map this is the evened map,
            so thresholding it does not reproduce the ``bbox``es, which come
            from the plain map the score and threshold are on.
        threshold: Threshold for the verdicts; the package's default when ``None``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (ignored for a built inferencer).
        batch: Images per forward pass.
        progress: Called as ``progress(done, total)`` after each batch.
        backend: ``"auto"``, ``"torch"`` or ``"onnxruntime"`` (ignored for a
            built inferencer); see :func:`inspector.ml.backend.open_inferencer`.
        classifier: Classifier package folder run beside the model to name each
            defect's class (``None``: defects are ``"anomaly"``). A part over the
            threshold that the classifier calls ``good`` is ``"review"``.
        rules: The whole decision rules (a station file's); built from
            ``threshold`` when ``None``.
        check_lighting: Give images lit unlike the model's good parts the
            fail-safe verdict (unless the model's own is stricter), as a line does.

    Raises:
        ValueError: ``--maps`` would overwrite a map (two inputs share a stem), or
            ``threshold``/``batch`` is out of range.
        SourceError: a folder named in ``paths`` does not exist.
        ModelPackageError: the model or classifier package cannot be loaded.
    """
    files = expand_inputs(paths)
    maps_folder = Path(maps_dir) if maps_dir is not None else None
    if maps_folder is not None:
        check_unique_stems(files)
        maps_folder.mkdir(parents=True, exist_ok=True)
    inferencer = (
        open_inferencer(model, backend, device=device, max_batch=batch)
        if isinstance(model, str | Path)
        else model
    )
    if classifier is not None:
        inferencer = open_combined_scorer(inferencer, classifier, device=device, max_batch=batch)
    if rules is None:
        rules = DecisionRules(inferencer.default_threshold if threshold is None else threshold)
    started = time.perf_counter()
    scored = failed = 0
    for start in range(0, len(files), batch):
        lines, images, readable = [], [], []
        for file in files[start : start + batch]:
            try:
                images.append(read_image(file))
                readable.append(file)
                lines.append(None)
            except SourceError as exc:
                lines.append({"path": str(file), "error": str(exc)})
                failed += 1
        if images:
            began = time.perf_counter()
            outputs = inferencer.predict(images)
            per_image_ms = 1000.0 * (time.perf_counter() - began) / len(images)
            lighting = scorer_lighting(inferencer) if check_lighting else None
            faults = [None if lighting is None else lighting.fault(i) for i in images]
            records = iter(
                _record(file, out, rules, per_image_ms, maps_folder, fault)
                for file, out, fault in zip(readable, outputs, faults, strict=True)
            )
            lines = [line if line is not None else next(records) for line in lines]
            scored += len(images)
        output.writelines(json.dumps(line, allow_nan=False) + "\n" for line in lines)
        output.flush()
        if progress is not None:
            progress(min(start + batch, len(files)), len(files))
    return PredictSummary(
        scored=scored,
        failed=failed,
        seconds=time.perf_counter() - started,
        threshold=rules.threshold,
        model_version=inferencer.version,
    )


def _record(
    file: Path,
    output: ModelOutput,
    rules: DecisionRules,
    latency_ms: float,
    maps_folder: Path | None,
    lighting: str | None = None,
) -> dict[str, Any]:
    verdict, defects = decide(output, rules, lighting_fault=lighting)  # as the line decides
    if maps_folder is not None:
        np.save(maps_folder / f"{file.stem}.npy", output.map_for_localisation.astype(np.float32))
    return prediction_record(file, output, verdict, defects, latency_ms, lighting)
