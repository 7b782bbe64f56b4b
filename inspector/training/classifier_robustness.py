"""A defect classifier in the robustness report: the same corruptions, plus FGSM and PGD.

:func:`inspector.training.robustness.run_robustness` scores anomaly models by
their image score and the rules' verdict. A classifier has no score of that
kind, so :class:`ClassifierScorer` gives it one: the *defect probability*
``1 - P(good)``, with :data:`CLASSIFIER_RULES` accepting a part when it is
below 0.5 (``good`` more likely than not, with no review band). AUROC,
false-reject and escape rates under corruption then mean for a classifier
what they mean for an anomaly model. Its adversarial section is the accuracy
under FGSM and PGD (:mod:`inspector.training.classifier_attack`), not the
anomaly models' smallest-escape search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inspector.acquisition.image_files import read_image
from inspector.core.errors import ModelPackageError
from inspector.core.inspection import ModelOutput
from inspector.decision.rules import DecisionRules
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.ml.runtime_package import read_metadata
from inspector.training.classifier_attack import (
    CLASSIFIER_EPSILONS,
    CLASSIFIER_STEPS,
    GOOD,
    attack_classifier,
)
from inspector.training.evaluate import LabelledImage
from inspector.training.robustness_results import ClassifierAttacks

CLASSIFIER_RULES = DecisionRules(threshold=0.5, review_margin=0.0, min_defect_area_px=0)
"""A part is accepted when its defect probability ``1 - P(good)`` is below 0.5."""
ADVERSARIAL_NOTE = (
    "the smallest-escape search on the anomaly score is for anomaly models; this classifier's "
    "accuracy under FGSM and PGD is in the classifier attacks section"
)


def is_classifier_package(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds a classifier package (``model.json`` kind ``classifier``).

    Raises:
        ModelPackageError: the folder or its ``model.json`` is missing or unreadable.
    """
    return read_metadata(Path(model_dir)).get("kind") == "classifier"


class ClassifierScorer:
    """A classifier seen through the anomaly inferencers' interface, for the corruption sweep.

    Args:
        classifier: The classifier; it must have a ``good`` class.

    Raises:
        ModelPackageError: the classifier has no ``good`` class.
    """

    def __init__(self, classifier: ClassifierInferencer) -> None:
        if GOOD not in classifier.classes:
            msg = (
                f"classifier {classifier.version} has no '{GOOD}' class (it has "
                f"{list(classifier.classes)}): robustness measures accepted and rejected parts, "
                "so train it with a 'good' folder"
            )
            raise ModelPackageError(msg)
        self.classifier = classifier
        self.package = classifier.package
        self.max_batch = classifier.max_batch
        self.rules = CLASSIFIER_RULES
        self._good = classifier.classes.index(GOOD)

    @property
    def version(self) -> str:
        """The classifier's version."""
        return self.classifier.version

    @property
    def device_label(self) -> str:
        """Where it runs, named for people."""
        return self.classifier.device_name

    @property
    def default_threshold(self) -> float:
        """The defect probability at and above which a part is not accepted."""
        return CLASSIFIER_RULES.threshold

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """One output per image: score ``1 - P(good)``, no map, the class probabilities."""
        rows = self.classifier.probabilities(images)
        return [
            ModelOutput(
                score=float(1.0 - row[self._good]),
                anomaly_map=np.zeros((1, 1), np.float32),
                class_probabilities=None,
            )
            for row in rows
        ]


def check_attack_classes(classes: Sequence[str], items: Sequence[LabelledImage]) -> None:
    """Refuse a labelled set with folders that are not the classifier's ``classes``.

    Checked from ``model.json`` before the weights are loaded or anything is scored.

    Raises:
        ValueError: naming the unknown folders and the classifier's classes.
    """
    unknown = sorted({i.defect_class for i in items} - set(classes))
    if unknown:
        msg = (
            f"folders {unknown} are not classes of the classifier ({list(classes)}): "
            "give robustness a folder laid out by its classes"
        )
        raise ValueError(msg)


def classifier_attacks(
    scorer: ClassifierScorer,
    sample: Sequence[LabelledImage],
    steps: int | None,
    progress: Callable[[str, int, int], None] | None,
) -> ClassifierAttacks:
    """FGSM and PGD accuracy of the classifier on ``sample`` (read again from disk)."""
    images = [read_image(item.path) for item in sample]
    report: Any = None if progress is None else lambda d, t: progress("adversarial", d, t)
    return attack_classifier(
        scorer.classifier,
        images,
        [item.defect_class for item in sample],
        [item.path for item in sample],
        epsilons=CLASSIFIER_EPSILONS,
        steps=CLASSIFIER_STEPS if steps is None else steps,
        progress=report,
    )


def open_classifier_scorer(
    model_dir: str | Path,
    backend: str,
    device: str,
    batch: int,
    items: Sequence[LabelledImage],
    adversarial_images: int,
) -> ClassifierScorer | None:
    """The classifier in ``model_dir`` ready for the sweep, or ``None`` for an anomaly model.

    Refuses, before any scoring, what would fail later: the ONNX backend, folders
    that are not the classifier's classes, too few attack images for one per class.

    Raises:
        ValueError: one of those, saying what to change.
        ModelPackageError: the package cannot be loaded or has no ``good`` class.
    """
    if not is_classifier_package(model_dir):
        return None
    if backend == "onnxruntime":
        msg = f"{model_dir} is a classifier package, which runs on torch: use --backend auto"
        raise ValueError(msg)
    check_attack_classes(read_metadata(Path(model_dir)).get("classes", []), items)
    scorer = ClassifierScorer(ClassifierInferencer(model_dir, device, max_batch=batch))
    classes = len({item.defect_class for item in items})
    if 0 < adversarial_images < classes:
        msg = (
            f"--adversarial-images {adversarial_images} cannot attack one image of each of the "
            f"{classes} classes: use at least {classes}, or 0 for no attacks"
        )
        raise ValueError(msg)
    return scorer
