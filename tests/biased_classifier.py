"""A real, tiny classifier package whose answer is known: its head is set by hand.

Training a classifier takes minutes; these tests need one whose class for any
image is known in advance. The package is a real one (saved, hashed, loaded
and run through :class:`~inspector.ml.classifier_inference.ClassifierInferencer`);
only its head is written by hand: zero weights and a bias that favours one
class, so every image gets the same probabilities whatever its pixels.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from inspector.ml.classifier import DefectClassifier
from inspector.ml.classifier_package import ClassifierPackage, save_classifier_package


def save_biased_classifier(
    folder: Path, classes: tuple[str, ...], favourite: str, probability: float
) -> Path:
    """Save a classifier that gives ``favourite`` ``probability`` on every image.

    The other classes share the rest equally. Input is 32 px, so it runs in
    milliseconds.
    """
    others = len(classes) - 1
    torch.manual_seed(0)
    model = DefectClassifier(len(classes), dropout=0.0)
    with torch.no_grad():
        model.classifier.weight.zero_()
        rest = (1.0 - probability) / others
        logits = [math.log(probability if c == favourite else rest) for c in classes]
        model.classifier.bias.copy_(torch.tensor(logits))
    package = ClassifierPackage(
        name=f"tiny-{favourite}",
        classes=classes,
        state_dict=model.state_dict(),
        backbone_sha256="0" * 64,
        input_size=32,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        dropout=0.0,
    )
    save_classifier_package(package, folder)
    return folder
