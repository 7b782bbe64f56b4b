"""An anomaly model and a defect classifier scoring the same images, as one scorer.

The anomaly model says *where* a part looks wrong; the classifier, trained on
whole labelled images, says *what* is wrong with the part. The station,
``predict`` and anything else that takes a scorer get both in one
:class:`~inspector.core.inspection.ModelOutput` (score, map and the class
probabilities), so the live line and ``predict`` name defects identically and
the station's threads need not know there are two models.

Known limit: the classifier names the class of the whole image, so when one
part has several regions of different kinds (a crack and a blowhole), every
region gets the part's one class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from inspector.core.inspection import ModelOutput
from inspector.ml.lighting import LightingRange

if TYPE_CHECKING:
    from inspector.ml.classifier_inference import ClassifierInferencer


class AnomalyScorer(Protocol):
    """What the combined scorer needs from the anomaly side (either backend)."""

    @property
    def version(self) -> str: ...

    @property
    def device_label(self) -> str: ...

    @property
    def default_threshold(self) -> float: ...

    @property
    def lighting(self) -> LightingRange | None: ...

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]: ...


class CombinedScorer:
    """Runs an anomaly model and a classifier on each batch and merges their outputs.

    Not thread-safe, like the models it holds: one inference worker owns it.

    Args:
        anomaly: The anomaly model (torch or ONNX Runtime inferencer).
        classifier: The defect classifier; its probabilities are added to each output.
    """

    def __init__(self, anomaly: AnomalyScorer, classifier: ClassifierInferencer) -> None:
        self.anomaly = anomaly
        self.classifier = classifier

    @property
    def version(self) -> str:
        """Both models' versions, ``anomaly+classifier``, stored with every record."""
        return f"{self.anomaly.version}+{self.classifier.version}"

    @property
    def device_label(self) -> str:
        """Where the models run, named once when both share a device."""
        first, second = self.anomaly.device_label, self.classifier.device_name
        return first if first == second else f"{first} + {second}"

    @property
    def default_threshold(self) -> float:
        """The anomaly model's calibrated threshold (the classifier has none)."""
        return self.anomaly.default_threshold

    @property
    def lighting(self) -> LightingRange | None:
        """The anomaly model's taught lighting (the classifier keeps none)."""
        return self.anomaly.lighting

    @property
    def classes(self) -> tuple[str, ...]:
        """The classifier's classes, ``good`` included."""
        return self.classifier.classes

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """Anomaly score and map plus class probabilities for each image, in order.

        Raises:
            ValueError: no images, or one is not an RGB ``uint8`` array.
        """
        outputs = self.anomaly.predict(images)
        classes = self.classifier.predict(images)
        return [
            replace(output, class_probabilities=probabilities.probabilities)
            for output, probabilities in zip(outputs, classes, strict=True)
        ]


def open_combined_scorer(
    anomaly: AnomalyScorer, classifier_dir: str | Path, *, device: str = "auto", max_batch: int = 8
) -> CombinedScorer:
    """Load the classifier package in ``classifier_dir`` beside an anomaly model.

    The classifier runs on torch whatever the anomaly model's backend (there is
    no ONNX export of classifiers yet), so this imports torch.

    Raises:
        ModelPackageError: the folder is not a valid classifier package.
    """
    from inspector.ml.classifier_inference import ClassifierInferencer

    classifier = ClassifierInferencer(classifier_dir, device=device, max_batch=max_batch)
    return CombinedScorer(anomaly, classifier)
