"""The one inference path for defect classifiers: images in, class probabilities out.

``predict``, the pipeline and the validation at the end of training all call
:class:`ClassifierInferencer`, with :func:`inspector.ml.preprocess.preprocess`
in front (the anomaly models' preprocessing), so a probability means the same
thing wherever it is shown. It returns probabilities only; which probability
makes a reject is decided in ``inspector.decision``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from inspector.ml.classifier import DefectClassifier
from inspector.ml.classifier_package import ClassifierPackage, load_classifier_package
from inspector.ml.device import device_name, inference_context, select_device
from inspector.ml.preprocess import preprocess


@dataclass(frozen=True, eq=False)
class ClassProbabilities:
    """What a classifier says about one image.

    Attributes:
        probabilities: Class name to probability (they sum to 1), read-only,
            in the model's class order.
        top_class: The most probable class.
    """

    probabilities: Mapping[str, float]
    top_class: str

    @property
    def top_probability(self) -> float:
        """Probability of :attr:`top_class`."""
        return self.probabilities[self.top_class]


class ClassifierInferencer:
    """Classifies images with a classifier package on one device.

    Not thread-safe: one worker owns it (and the device).

    Args:
        package: A loaded package, or the directory of one.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; an
            unavailable GPU falls back to the CPU with a logged warning.
        max_batch: Most images per forward pass; bounds device memory.

    Raises:
        ModelPackageError: the directory is not a valid classifier package.
        ValueError: ``max_batch`` is below 1 or ``device`` is not valid.
    """

    def __init__(
        self, package: ClassifierPackage | str | Path, device: str = "auto", max_batch: int = 16
    ) -> None:
        if max_batch < 1:
            msg = f"max_batch must be at least 1, got {max_batch}"
            raise ValueError(msg)
        if not isinstance(package, ClassifierPackage):
            package = load_classifier_package(package)
        self.package = package
        self.device = select_device(device)
        self.max_batch = max_batch
        model = DefectClassifier(len(package.classes), package.dropout)
        model.load_state_dict(dict(package.state_dict), strict=True)
        model.eval()
        model.backbone.fuse_batchnorm()
        self._model = model.to(self.device, memory_format=torch.channels_last)

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in the model's output order."""
        return self.package.classes

    @property
    def version(self) -> str:
        """Version string of the package in use."""
        return self.package.version

    @property
    def device_name(self) -> str:
        """Where inference runs, named for people."""
        return device_name(self.device)

    @property
    def model(self) -> DefectClassifier:
        """The network (batch norms fused, in eval mode), for gradient-based tools.

        Grad-CAM (:mod:`inspector.ml.grad_cam`) and the adversarial attacks
        need gradients, which :meth:`probabilities` never computes; they take
        the very network that classifies, so what they explain or attack is
        what the line runs. Never train it: its batch norms are folded away.
        """
        return self._model

    def prepare(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """The network's input for RGB ``uint8`` images, on the inferencer's device.

        The only preprocessing of classifier inputs: :meth:`probabilities` and
        the gradient tools call it, so they all see the same pixels.

        Raises:
            ValueError: no images, or one is not an RGB ``uint8`` array.
        """
        batch = preprocess(images, self.package.input_size, self.package.mean, self.package.std)
        return batch.to(self.device, memory_format=torch.channels_last)

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N, classes)`` ``float32`` for RGB ``uint8`` images.

        Raises:
            ValueError: no images, or one is not an RGB ``uint8`` array.
        """
        if len(images) == 0:
            msg = "no images to classify: pass at least one"
            raise ValueError(msg)
        parts = []
        for start in range(0, len(images), self.max_batch):
            batch = self.prepare(images[start : start + self.max_batch])
            with inference_context(self.device):
                logits = self._model(batch)
            parts.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(parts).numpy()

    def predict(self, images: Sequence[np.ndarray]) -> list[ClassProbabilities]:
        """One :class:`ClassProbabilities` per image, in order.

        Raises:
            ValueError: no images, or one is not an RGB ``uint8`` array.
        """
        results = []
        for row in self.probabilities(images):
            by_class = dict(zip(self.classes, (float(p) for p in row), strict=True))
            top = self.classes[int(np.argmax(row))]
            results.append(ClassProbabilities(MappingProxyType(by_class), top))
        return results
