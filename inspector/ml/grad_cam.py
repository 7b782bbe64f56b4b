"""Grad-CAM: where in the image a defect classifier saw the evidence for a class.

An operator who sees "crack 0.93" wants to know *where*: Grad-CAM (Selvaraju
et al. 2017) weighs each channel of the last convolutional stage (the
classifier's 1280-channel head, at 1/32 of the input) by the mean gradient of
the class's logit with respect to it, sums them and keeps the positive part.
Our head is global average pooling and one linear layer, so this is exactly
the class-activation map ``relu(W_c . A)`` of Zhou et al. (2016): the map says
which cells of the image pushed the class's score up, and nothing else.

The image goes through :meth:`ClassifierInferencer.prepare`, the classifier's
one preprocessing step, and the network is the inferencer's own, so the map
explains the very probabilities the line shows. The backbone runs without
gradients; only the head, where the gradient is taken, records them, so an
explanation costs one ordinary forward pass.

The map is resized from the feature grid to the image's own size (the
preprocessing resizes the whole image, it never crops, so the grid covers the
image) and divided by its maximum there, so it lies in [0, 1]; a class with no
positive evidence anywhere gets an all-zero map and ``peak`` 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import cv2
import numpy as np
import torch

from inspector.ml.classifier import BACKBONE_GROUPS
from inspector.ml.classifier_inference import ClassifierInferencer, ClassProbabilities


@dataclass(frozen=True, eq=False)
class ClassActivation:
    """The Grad-CAM of one image for one class.

    Attributes:
        heat: ``float32`` ``(H, W)`` map at the image's own size, in [0, 1];
            1 where the evidence for :attr:`target_class` is strongest.
        target_class: The class explained.
        prediction: What the classifier says about the image.
        peak: The largest value of the map before scaling to [0, 1] (logit
            units per cell); 0 means the class has no positive evidence.
    """

    heat: np.ndarray
    target_class: str
    prediction: ClassProbabilities
    peak: float


def class_activation_maps(
    inferencer: ClassifierInferencer, images: Sequence[np.ndarray], target_class: str | None = None
) -> list[ClassActivation]:
    """Grad-CAM of each image, for ``target_class`` or, when ``None``, its predicted class.

    Args:
        inferencer: The classifier to explain (its network and preprocessing).
        images: RGB ``uint8`` images of any sizes.
        target_class: A class of the model; ``None`` explains each image's top class.

    Raises:
        ValueError: no images, an image is not RGB ``uint8``, or ``target_class``
            is not one of the model's classes.
    """
    if len(images) == 0:
        msg = "no images to explain: pass at least one"
        raise ValueError(msg)
    classes = inferencer.classes
    if target_class is not None and target_class not in classes:
        msg = f"class {target_class!r} is not one of the model's classes {list(classes)}"
        raise ValueError(msg)
    results: list[ClassActivation] = []
    for start in range(0, len(images), inferencer.max_batch):
        chunk = images[start : start + inferencer.max_batch]
        results += _explain_batch(inferencer, chunk, target_class)
    return results


def _explain_batch(
    inferencer: ClassifierInferencer, images: Sequence[np.ndarray], target_class: str | None
) -> list[ClassActivation]:
    model = inferencer.model
    batch = inferencer.prepare(images)
    with torch.no_grad():
        features = model.run_groups(batch, 0, BACKBONE_GROUPS).float()
    features = features.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model.classify(features)
        probabilities = torch.softmax(logits.detach(), dim=1).cpu().numpy()
        tops = probabilities.argmax(axis=1)
        if target_class is not None:
            tops[:] = inferencer.classes.index(target_class)
        targets = torch.as_tensor(tops, dtype=torch.long, device=logits.device)
        chosen = logits.gather(1, targets.view(-1, 1)).sum()
        (gradient,) = torch.autograd.grad(chosen, features)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cams = torch.relu((weights * features.detach()).sum(dim=1)).cpu().numpy()
    results = []
    for image, cam, row, target in zip(images, cams, probabilities, targets.tolist(), strict=True):
        by_class = dict(zip(inferencer.classes, (float(p) for p in row), strict=True))
        prediction = ClassProbabilities(
            MappingProxyType(by_class), inferencer.classes[int(np.argmax(row))]
        )
        peak = float(cam.max())
        heat = cv2.resize(
            cam.astype(np.float32),
            (image.shape[1], image.shape[0]),
            interpolation=cv2.INTER_LINEAR,
        )
        top = float(heat.max())
        heat = np.clip(heat / top, 0.0, 1.0) if peak > 0 and top > 0 else np.zeros_like(heat)
        results.append(
            ClassActivation(
                heat.astype(np.float32), inferencer.classes[int(target)], prediction, peak
            )
        )
    return results


def mass_inside(heat: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Share of the map's total inside ``mask`` and the mask's share of the image.

    Their ratio says how much more the map looks at the defect than a map
    spread evenly would (1: no better than chance); used to check Grad-CAM
    against hand-drawn defect masks.

    Raises:
        ValueError: the shapes differ, or the map is all zero.
    """
    if heat.shape != mask.shape:
        msg = f"map {heat.shape} and mask {mask.shape} differ in size: resize the mask first"
        raise ValueError(msg)
    total = float(heat.sum())
    if total <= 0:
        msg = "the map is all zero: the class has no evidence in this image to compare"
        raise ValueError(msg)
    inside = mask > 0
    return float(heat[inside].sum()) / total, float(inside.mean())
