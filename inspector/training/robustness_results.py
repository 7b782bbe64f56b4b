"""What a robustness run measured: plain, frozen results the report reads.

Kept apart from :mod:`inspector.training.robustness` (the scoring) so each
module stays one concept; only arrays and frozen dataclasses, so a run
crosses threads (the CLI scores on a worker) safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.decision.rules import DecisionRules

CLEAN = "clean"
"""The condition name of the uncorrupted images."""


@dataclass(frozen=True, eq=False)
class ConditionScores:
    """Scores and verdicts of every image under one corruption at one severity.

    Attributes:
        corruption: A name of :data:`~inspector.training.corruptions.CORRUPTIONS`,
            or :data:`CLEAN`.
        severity: 1..5, 0 for clean.
        level: The corruption's parameter at that severity (0 for clean).
        scores: One score per image, in the run's image order.
        accepted: Whether the rules accepted each image (REVIEW is not accepted).
    """

    corruption: str
    severity: int
    level: float
    scores: tuple[float, ...]
    accepted: tuple[bool, ...]


@dataclass(frozen=True, eq=False)
class ExampleImage:
    """One defective image as the model saw it under one condition, for the report."""

    path: Path
    defect_class: str
    corruption: str
    severity: int
    level: float
    image: np.ndarray
    score: float
    accepted: bool


@dataclass(frozen=True, eq=False)
class Attack:
    """The adversarial search on one defective image.

    Attributes:
        path: The image file.
        defect_class: Its class.
        clean_score: Its score unperturbed.
        epsilon: Smallest perturbation (grey levels, L-infinity) that made the
            rules accept it, ``None`` when none up to the largest tried did.
        adversarial_score: The perturbed image's score through ``predict``.
        image: The clean image.
        adversarial_image: The perturbed image (``None`` without an escape).
    """

    path: Path
    defect_class: str
    clean_score: float
    epsilon: int | None
    adversarial_score: float | None
    image: np.ndarray
    adversarial_image: np.ndarray | None


@dataclass(frozen=True, eq=False)
class AdversarialRun:
    """The adversarial part of a robustness run.

    Attributes:
        status: ``"done"`` or ``"skipped"``.
        note: Why it was skipped, or how it was done, for the report.
        epsilons: The ladder of perturbation sizes tried (grey levels).
        steps: PGD steps per try.
        target_score: Scores below this are accepted (the rules' review floor).
        attacks: One result per attacked image.
    """

    status: str
    note: str
    epsilons: tuple[int, ...] = ()
    steps: int = 0
    target_score: float | None = None
    attacks: tuple[Attack, ...] = ()


@dataclass(frozen=True, eq=False)
class AttackAccuracy:
    """A classifier's predictions under one attack at one epsilon.

    Attributes:
        method: ``"fgsm"`` or ``"pgd"``.
        epsilon: L-infinity size of the perturbation, in grey levels.
        accuracy: Share of images whose top class is their true class.
        good_vs_defect_accuracy: Share whose top class is ``good`` exactly when
            they are good; ``None`` for a model without a ``good`` class.
        predictions: Top class of each perturbed image, in the attack's image order.
    """

    method: str
    epsilon: int
    accuracy: float
    good_vs_defect_accuracy: float | None
    predictions: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ClassifierAttacks:
    """FGSM and PGD against a defect classifier, on a labelled sample.

    Attributes:
        note: How the attacks were run, for the report.
        epsilons: The perturbation sizes (grey levels).
        steps: PGD steps per epsilon.
        paths: The attacked images.
        classes: Their true classes.
        clean_predictions: The top class of each clean image.
        clean_accuracy: Class accuracy on the clean images.
        clean_good_vs_defect_accuracy: Good-vs-defect accuracy on them.
        results: One entry per method and epsilon.
    """

    note: str
    epsilons: tuple[int, ...]
    steps: int
    paths: tuple[Path, ...]
    classes: tuple[str, ...]
    clean_predictions: tuple[str, ...]
    clean_accuracy: float
    clean_good_vs_defect_accuracy: float | None
    results: tuple[AttackAccuracy, ...]


@dataclass(frozen=True, eq=False)
class RobustnessRun:
    """Everything a robustness run measured, before any figure is computed.

    Attributes:
        model_version: Version of the package.
        model_dir: Its folder.
        model_files: SHA-256 of each of its data files.
        backend: ``"torch"`` or ``"onnxruntime"``.
        device: Where inference ran, named for people.
        rules: The decision rules of the verdicts (the model's threshold).
        data_dir: The labelled folder.
        images_available: Labelled images in the folder.
        max_images: The cap asked for (``None``: all images).
        seed: Seed of the sample and of the corruptions' random choices.
        paths: The scored images, in order.
        classes: Their classes.
        unreadable: ``"path: reason"`` for images that could not be decoded.
        corruptions: ``{name: {"parameter", "unit", "levels"}}`` of the corruptions run.
        conditions: Clean first, then each corruption at each severity.
        examples: A defective image clean and under each corruption.
        adversarial: The adversarial search (anomaly models).
        seconds: Wall time.
        classifier_attacks: FGSM and PGD accuracy (classifier packages; else ``None``).
        model_kind: ``"anomaly"``, or ``"classifier"``: then the score is the
            defect probability ``1 - P(good)`` and a part is accepted below 0.5.
    """

    model_version: str
    model_dir: Path
    model_files: dict[str, str]
    backend: str
    device: str
    rules: DecisionRules
    data_dir: Path
    images_available: int
    max_images: int | None
    seed: int
    paths: tuple[Path, ...]
    classes: tuple[str, ...]
    unreadable: tuple[str, ...]
    corruptions: dict[str, dict[str, object]]
    conditions: tuple[ConditionScores, ...]
    examples: tuple[ExampleImage, ...]
    adversarial: AdversarialRun
    seconds: float
    classifier_attacks: ClassifierAttacks | None = None
    model_kind: str = "anomaly"
