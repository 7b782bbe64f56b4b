"""Escapes at 1 % / 2 % false rejects on a model's own good images, each against the others.

Run: ``.venv/bin/python benchmarks/leave_one_out.py --model MODEL_DIR
--good ../shared/datasets/magnetic-tile/train/good
--defective ../shared/datasets/magnetic-tile/train``
(about 1 minute on 2 CPU cores for magnetic-tile ``train/``).

Why: a labelled validation folder is small (magnetic-tile ``val/``: 136 good,
59 defective tiles), so one or two odd good tiles move its operating points a
lot. The good images a model was fitted on are many more; scored each against
all the others (``exclude`` in :meth:`~inspector.ml.patchcore.PatchCore.forward`,
as fitting calibrates), with the defective images of the same collection, they
give a second, larger yardstick that needs no new data. For a model with an
image-level branch and retrieval (what ``inspector fit`` makes), whose banks
hold one entry per good image; the figures per branch show which one catches
what.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from inspector.acquisition.image_files import list_images, read_image
from inspector.ml.inferencer import AnomalyInferencer
from inspector.reports import metrics
from inspector.training.evaluate import without_masks

BATCH = 8
SAME_IMAGE = 0.5
"""Largest image-level distance at which a bank entry is taken for the very image
(a batch's arithmetic moves it by a few hundredths; other images lie tens away)."""

RATES = (0.01, 0.02)


def bank_index(inferencer: AnomalyInferencer, descriptors: torch.Tensor) -> list[int]:
    """Each image's own entry in the model's image-level bank.

    Raises:
        ValueError: an image is not in the bank (the model was fitted on other images).
    """
    distances = inferencer.model.global_distances(descriptors)
    nearest, index = distances.min(dim=1)
    if bool((nearest > SAME_IMAGE).any()):
        msg = "an image of --good is not in the model's banks: give the folder it was fitted on"
        raise ValueError(msg)
    return index.tolist()


def branch_scores_of(
    inferencer: AnomalyInferencer, files: Sequence[Path], *, against_others: bool
) -> list[tuple[float, float]]:
    """(patch, image-level) scores of ``files``; with ``against_others``, each image is
    scored with its own bank entry left out (good images the model was fitted on)."""
    scores = []
    for start in range(0, len(files), BATCH):
        images = [read_image(f) for f in files[start : start + BATCH]]
        scored = inferencer.branch_scores(images)
        if against_others:
            itself = bank_index(inferencer, torch.stack([d for _, _, d in scored]))
            scored = inferencer.branch_scores(images, exclude=itself)
        scores += [(p, g) for p, g, _ in scored]
    return scores


def figures(good: np.ndarray, defective: np.ndarray) -> dict[str, object]:
    """AUROC and the escapes at :data:`RATES` false rejects, with their counts."""
    scores = np.concatenate([good, defective])
    labels = np.r_[np.zeros(len(good), bool), np.ones(len(defective), bool)]
    result: dict[str, object] = {"image_auroc": metrics.auroc(scores, labels)}
    for rate in RATES:
        escape, threshold = metrics.escape_at_false_reject_rate(scores, labels, rate)
        result[f"escapes at {rate:.0%} false rejects"] = {
            "rate": escape,
            "escaped": round(escape * len(defective)),
            "of": len(defective),
            "threshold": threshold,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="model package folder")
    parser.add_argument("--good", required=True, type=Path, help="the good images it was fitted on")
    parser.add_argument(
        "--defective", required=True, type=Path, help="<class>/<image> folder; 'good' is skipped"
    )
    args = parser.parse_args()

    inferencer = AnomalyInferencer(args.model, device="cpu", max_batch=BATCH)
    if not inferencer.package.retrieval_k:
        parser.error("the model has no retrieval banks: fit it with inspector fit's defaults")
    good_files = without_masks(list_images(args.good))
    defective_files = [
        f for f in without_masks(list_images(args.defective)) if f.parent.name != "good"
    ]
    good = np.array(branch_scores_of(inferencer, good_files, against_others=True))
    defective = np.array(branch_scores_of(inferencer, defective_files, against_others=False))
    report = {
        "model": inferencer.version,
        "good": len(good),
        "defective": len(defective),
        "score": figures(good.max(axis=1), defective.max(axis=1)),
        "image-level branch": figures(good[:, 1], defective[:, 1]),
        "patch branch": figures(good[:, 0], defective[:, 0]),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
