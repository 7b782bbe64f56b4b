"""Comparing a candidate model with the one in production, on the same labelled images.

Two anomaly models go through :func:`inspector.training.evaluate.evaluate_package`,
the evaluation (and so the live line's) own path; two classifiers through
:func:`inspector.training.classifier_evaluate.evaluate_classifier`, theirs.
There is no second way of scoring here, only two runs of the one way, whose
figures :mod:`inspector.reports.compare_report` (anomaly models) and
:mod:`inspector.reports.classifier_compare` (classifiers) set side by side.
An anomaly model and a classifier answer different questions, so they are
not compared with each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inspector.core.errors import SourceError
from inspector.ml.runtime_package import read_metadata
from inspector.training.classifier_evaluate import ClassifierRun, evaluate_classifier
from inspector.training.evaluate import EvaluationRun, Progress, evaluate_package

CLASSIFIER = "classifier"


@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Two evaluations of the same images: the candidate (``new``) and the ``baseline``."""

    new: EvaluationRun
    baseline: EvaluationRun


@dataclass(frozen=True, eq=False)
class ClassifierComparison:
    """Two classifiers' results on the same images: the candidate (``new``) and the ``baseline``."""

    new: ClassifierRun
    baseline: ClassifierRun


def _kinds(new: Path, baseline: Path) -> tuple[bool, bool]:
    """Whether each package is a classifier; a mix is refused, saying what each one is."""
    kinds = [read_metadata(path).get("kind") == CLASSIFIER for path in (new, baseline)]
    if kinds[0] != kinds[1]:
        what = ["a classifier package" if k else "an anomaly model" for k in kinds]
        msg = (
            f"--model {new} is {what[0]} and --baseline {baseline} is {what[1]}: they answer "
            "different questions (which class, how unusual); compare a classifier with a "
            "classifier (inspector train --task classify) or an anomaly model with an anomaly model"
        )
        raise ValueError(msg)
    return kinds[0], kinds[1]


def compare_packages(
    new: str | Path,
    baseline: str | Path,
    data_dir: str | Path,
    *,
    device: str = "auto",
    batch: int = 8,
    backend: str = "auto",
    progress: Progress | None = None,
) -> ModelComparison | ClassifierComparison:
    """Evaluate both packages on ``data_dir``: anomaly models each at its own calibrated
    threshold, classifiers by their most probable class.

    Raises:
        SourceError: the folder is missing or badly laid out, or the two runs
            did not see the same images (a file changed while they ran).
        ModelPackageError: a package cannot be loaded.
        ValueError: both paths name the same package; one is a classifier and
            the other not; classifiers on the ONNX Runtime backend, or on a
            folder with classes they do not know.
    """
    if Path(new).resolve() == Path(baseline).resolve():
        msg = f"--model and --baseline are the same package ({new}): compare two different models"
        raise ValueError(msg)
    classifiers, _ = _kinds(Path(new), Path(baseline))
    if classifiers and backend == "onnxruntime":
        msg = "classifier packages run on torch: compare them with --backend auto (or torch)"
        raise ValueError(msg)
    runs: list[EvaluationRun] | list[ClassifierRun] = (
        [
            evaluate_classifier(model, data_dir, device=device, batch=batch, progress=progress)
            for model in (new, baseline)
        ]
        if classifiers
        else [
            evaluate_package(
                model, data_dir, device=device, batch=batch, backend=backend, progress=progress
            )
            for model in (new, baseline)
        ]
    )
    seen = [[image.path for image in run.images] for run in runs]
    if seen[0] != seen[1] or runs[0].data_fingerprint != runs[1].data_fingerprint:
        msg = (
            f"the two models did not see the same images of {data_dir} ({len(seen[0])} and "
            f"{len(seen[1])} images, fingerprints {runs[0].data_fingerprint} and "
            f"{runs[1].data_fingerprint}): was the folder changed during the comparison? "
            "Run it again on a folder nobody writes to"
        )
        raise SourceError(msg)
    if classifiers:
        return ClassifierComparison(new=runs[0], baseline=runs[1])
    return ModelComparison(new=runs[0], baseline=runs[1])
