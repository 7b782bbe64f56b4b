"""Comparing a candidate model with the one in production, on the same labelled images.

Both models go through :func:`inspector.training.evaluate.evaluate_package`,
the evaluation (and so the live line's) own path: there is no second way of
scoring here, only two runs of the one way, whose figures
:mod:`inspector.reports.compare_report` sets side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inspector.core.errors import SourceError
from inspector.training.evaluate import EvaluationRun, Progress, evaluate_package


@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Two evaluations of the same images: the candidate (``new``) and the ``baseline``."""

    new: EvaluationRun
    baseline: EvaluationRun


def compare_packages(
    new: str | Path,
    baseline: str | Path,
    data_dir: str | Path,
    *,
    device: str = "auto",
    batch: int = 8,
    backend: str = "auto",
    progress: Progress | None = None,
) -> ModelComparison:
    """Evaluate both packages on ``data_dir``, each at its own calibrated threshold.

    Raises:
        SourceError: the folder is missing or badly laid out, or the two runs
            did not see the same images (a file changed while they ran).
        ModelPackageError: a package cannot be loaded.
        ValueError: both paths name the same package.
    """
    if Path(new).resolve() == Path(baseline).resolve():
        msg = f"--model and --baseline are the same package ({new}): compare two different models"
        raise ValueError(msg)
    runs = [
        evaluate_package(
            model, data_dir, device=device, batch=batch, backend=backend, progress=progress
        )
        for model in (new, baseline)
    ]
    seen = [[image.path for image in run.images] for run in runs]
    if seen[0] != seen[1]:
        msg = (
            f"the two models did not see the same images of {data_dir} "
            f"({len(seen[0])} and {len(seen[1])}): was the folder changed during the comparison? "
            "Run it again on a folder nobody writes to"
        )
        raise SourceError(msg)
    return ModelComparison(new=runs[0], baseline=runs[1])
