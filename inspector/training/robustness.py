"""Scoring a labelled set under shop-floor corruptions and adversarial perturbations.

:func:`run_robustness` decodes each labelled image once, corrupts it in
memory (:mod:`inspector.training.corruptions`) and scores every version
through :func:`inspector.ml.backend.open_inferencer`'s ``predict`` and
:func:`inspector.decision.decide`, the path ``evaluate`` and the line use, so
the clean baseline here is what ``evaluate`` measures on the same images
(a corrupted image lit unlike the model's good parts gets the fail-safe
verdict, as on the line; its score still counts for AUROC).
For torch anomaly packages it then searches, on a few defective images the
model rejects, the smallest perturbation that makes it accept them
(:mod:`inspector.training.adversarial`); ONNX Runtime packages have no
gradients, so that part is skipped with a note. A classifier package is
scored by its defect probability and attacked with FGSM and PGD instead
(:mod:`inspector.training.classifier_robustness`).

The figures (AUROC, false-reject and escape rates) are computed from the
scores and verdicts by :mod:`inspector.reports.robustness_report`, as the
evaluation report does for ``evaluate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inspector.acquisition.image_files import read_image
from inspector.core.errors import SourceError
from inspector.core.verdict import Verdict
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.ml.backend import ONNXRUNTIME, open_inferencer, package_backend
from inspector.ml.lighting import LightingRange, scorer_lighting
from inspector.training.classifier_robustness import (
    ADVERSARIAL_NOTE,
    classifier_attacks,
    open_classifier_scorer,
)
from inspector.training.corruptions import (
    CORRUPTIONS,
    SEVERITIES,
    check_corruptions,
    check_severity,
    corrupt,
)
from inspector.training.evaluate import LabelledImage, list_labelled_images
from inspector.training.robustness_results import (
    CLEAN,
    AdversarialRun,
    Attack,
    ConditionScores,
    ExampleImage,
    RobustnessRun,
)

if TYPE_CHECKING:
    from inspector.ml.backend import Inferencer

EXAMPLE_SEVERITY = 3
"""Severity of the example images in the report (if not run, the nearest one run,
the stronger of two equally near)."""
DEFAULT_ADVERSARIAL_IMAGES = 8

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``."""


def stratified_sample(
    items: Sequence[LabelledImage], max_images: int | None, seed: int
) -> list[LabelledImage]:
    """At most ``max_images`` of ``items``, each class in proportion and at least once.

    Each class gets its share of ``max_images`` rounded by largest remainder,
    and at least one image, so a rare defect class is never sampled away;
    within a class the images are drawn with ``seed``; the result keeps the
    folder order.

    Raises:
        ValueError: ``max_images`` is smaller than the number of classes.
    """
    if max_images is None or max_images >= len(items):
        return list(items)
    by_class: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_class.setdefault(item.defect_class, []).append(index)
    if max_images < len(by_class):
        msg = (
            f"--max-images {max_images} cannot keep one image of each of the "
            f"{len(by_class)} classes: use at least {len(by_class)}"
        )
        raise ValueError(msg)
    names = sorted(by_class)
    sizes = np.array([len(by_class[n]) for n in names])
    shares = sizes * max_images / len(items)
    counts = np.maximum(1, np.floor(shares).astype(int))
    order = np.argsort(-(shares - np.floor(shares)), kind="stable")
    k = 0
    while counts.sum() < max_images:  # largest remainders first, never past a class's size
        c = order[k % len(order)]
        counts[c] += int(counts[c] < sizes[c])
        k += 1
    while counts.sum() > max_images:  # classes raised to one image are paid for by the largest
        counts[np.argmax(counts)] -= 1
    rng = np.random.default_rng(seed)
    chosen = [
        index
        for name, count in zip(names, counts, strict=True)
        for index in rng.choice(by_class[name], size=int(count), replace=False)
    ]
    return [items[i] for i in sorted(chosen)]


def _rng(seed: int, image_index: int, corruption: str) -> np.random.Generator:
    """The same random choices for an image and corruption at every severity."""
    return np.random.default_rng([seed, image_index, list(CORRUPTIONS).index(corruption)])


def _corrupted(
    image: np.ndarray, index: int, corruption: str, severity: int, seed: int
) -> np.ndarray:
    if corruption == CLEAN:
        return image
    return corrupt(image, corruption, severity, _rng(seed, index, corruption))


def run_robustness(
    model_dir: str | Path,
    data_dir: str | Path,
    *,
    corruptions: Sequence[str] = tuple(CORRUPTIONS),
    severities: Sequence[int] = SEVERITIES,
    backend: str = "auto",
    device: str = "auto",
    batch: int = 8,
    max_images: int | None = None,
    seed: int = 0,
    adversarial_images: int = DEFAULT_ADVERSARIAL_IMAGES,
    adversarial_steps: int | None = None,
    progress: Progress | None = None,
    check_lighting: bool = True,
) -> RobustnessRun:
    """Score the labelled set clean and under each corruption and severity, then attack it.

    Args:
        model_dir: An anomaly model package (torch) or an exported runtime package.
        data_dir: Folder in the ``<class>/<stem>.jpg`` layout with ``good`` and
            at least one defect class.
        corruptions: Names from :data:`~inspector.training.corruptions.CORRUPTIONS`.
        severities: Severities 1..5 to run.
        backend: ``"auto"``, ``"torch"`` or ``"onnxruntime"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch: Images per forward pass.
        max_images: Score a class-stratified, seeded sample of this many images.
        seed: Seed of that sample and of the corruptions' random choices.
        adversarial_images: Defective images to attack (0: none).
        adversarial_steps: PGD steps per try (``None``: the module's default).
        progress: Called as ``progress(stage, done, total)``.
        check_lighting: Give images lit unlike the model's good parts the
            fail-safe verdict (unless the model's own is stricter), as a line does.

    Raises:
        SourceError: the folder is missing, badly laid out, has no defective
            images, or none of the chosen images could be read.
        ModelPackageError: the package cannot be loaded.
        ValueError: a corruption, severity or count is out of range.
    """
    started = time.perf_counter()
    names = check_corruptions(list(corruptions))
    levels = sorted({check_severity(s) for s in severities} - {0})
    if not levels or len(levels) != len(list(severities)):
        msg = f"severities {list(severities)} must be distinct values of 1..{len(SEVERITIES)}"
        raise ValueError(msg)
    if max_images is not None and max_images < 2:
        msg = f"--max-images must be at least 2 (a good and a defective image), got {max_images}"
        raise ValueError(msg)
    if adversarial_images < 0:
        msg = f"--adversarial-images must be 0 (none) or more, got {adversarial_images}"
        raise ValueError(msg)
    if batch < 1 or (adversarial_steps is not None and adversarial_steps < 1):
        msg = f"--batch ({batch}) and --adversarial-steps ({adversarial_steps}) must be >= 1"
        raise ValueError(msg)
    available = list_labelled_images(data_dir)
    if all(not item.defective for item in available):
        msg = f"{data_dir} has only good images: robustness needs defective ones in other folders"
        raise SourceError(msg)
    items = stratified_sample(available, max_images, seed)
    classifier = open_classifier_scorer(
        model_dir, backend, device, batch, items, adversarial_images
    )
    if classifier is not None:
        inferencer, rules = classifier, classifier.rules
    else:
        inferencer = open_inferencer(model_dir, backend, device=device, max_batch=batch)
        rules = DecisionRules(inferencer.default_threshold)
    plan = [(CLEAN, 0), *((name, s) for name in names for s in levels)]
    lighting = scorer_lighting(inferencer) if check_lighting else None
    scored = _score_conditions(inferencer, rules, items, plan, batch, seed, progress, lighting)
    readable, unreadable, conditions = scored
    if not readable:
        msg = f"none of the {len(items)} chosen images of {data_dir} could be read: {unreadable[0]}"
        raise SourceError(msg)
    clean = conditions[0]
    chosen = [items[i] for i in readable]
    examples = _examples(chosen, readable, conditions, levels, seed)
    made_for = package_backend(model_dir)
    attacks = None
    if classifier is not None:
        adversarial = AdversarialRun("skipped", ADVERSARIAL_NOTE)
        if adversarial_images > 0:
            sample = stratified_sample(chosen, adversarial_images, seed)
            attacks = classifier_attacks(classifier, sample, adversarial_steps, progress)
    else:
        adversarial = _adversarial(
            inferencer,
            made_for,
            rules,
            chosen,
            clean,
            adversarial_images,
            adversarial_steps,
            seed,
            progress,
        )
    package = inferencer.package
    return RobustnessRun(
        model_version=inferencer.version,
        model_dir=Path(model_dir),
        model_files=dict(package.files),
        backend=made_for,
        device=inferencer.device_label,
        rules=rules,
        data_dir=Path(data_dir),
        images_available=len(available),
        max_images=max_images,
        seed=seed,
        paths=tuple(item.path for item in chosen),
        classes=tuple(item.defect_class for item in chosen),
        unreadable=tuple(unreadable),
        corruptions={
            name: {
                "parameter": CORRUPTIONS[name].parameter,
                "unit": CORRUPTIONS[name].unit,
                "levels": list(CORRUPTIONS[name].levels),
            }
            for name in names
        },
        conditions=tuple(conditions),
        examples=examples,
        adversarial=adversarial,
        seconds=time.perf_counter() - started,
        classifier_attacks=attacks,
        model_kind="anomaly" if classifier is None else "classifier",
    )


def _score_conditions(
    inferencer: Inferencer,
    rules: DecisionRules,
    items: Sequence[LabelledImage],
    plan: Sequence[tuple[str, int]],
    batch: int,
    seed: int,
    progress: Progress | None,
    lighting: LightingRange | None = None,
) -> tuple[list[int], list[str], list[ConditionScores]]:
    """Decode a batch once, score it under every condition, move on (memory stays bounded)."""
    scores: list[list[float]] = [[] for _ in plan]
    accepted: list[list[bool]] = [[] for _ in plan]
    readable: list[int] = []
    unreadable: list[str] = []
    total = len(items) * len(plan)
    for start in range(0, len(items), batch):
        end = min(start + batch, len(items))
        chunk: list[tuple[int, np.ndarray]] = []
        for index in range(start, end):
            try:
                chunk.append((index, read_image(items[index].path)))
            except SourceError as exc:
                unreadable.append(str(exc))
        readable += [index for index, _ in chunk]
        for k, (name, severity) in enumerate(plan):
            if chunk:
                images = [_corrupted(img, i, name, severity, seed) for i, img in chunk]
                for image, output in zip(images, inferencer.predict(images), strict=True):
                    fault = None if lighting is None else lighting.fault(image)
                    scores[k].append(output.score)
                    verdict = decide(output, rules, lighting_fault=fault)[0]
                    accepted[k].append(verdict == Verdict.ACCEPT)
            if progress is not None:
                progress("robustness", start * len(plan) + (k + 1) * (end - start), total)
    conditions = [
        ConditionScores(
            name,
            severity,
            0.0 if name == CLEAN else float(CORRUPTIONS[name].level(severity)),
            tuple(scores[k]),
            tuple(accepted[k]),
        )
        for k, (name, severity) in enumerate(plan)
    ]
    return readable, unreadable, conditions


def _representative(chosen: Sequence[LabelledImage], clean: ConditionScores) -> int | None:
    """The caught defective image with the median clean score (any defective if none caught)."""
    defective = [i for i, item in enumerate(chosen) if item.defective]
    caught = [i for i in defective if not clean.accepted[i]] or defective
    if not caught:
        return None
    ranked = sorted(caught, key=lambda i: clean.scores[i])
    return ranked[len(ranked) // 2]


def _examples(
    chosen: Sequence[LabelledImage],
    readable: Sequence[int],
    conditions: Sequence[ConditionScores],
    levels: Sequence[int],
    seed: int,
) -> tuple[ExampleImage, ...]:
    """One defective image clean and under each corruption (read again for the figure)."""
    pick = _representative(chosen, conditions[0])
    if pick is None:
        return ()
    item = chosen[pick]
    image = read_image(item.path)
    severity = min(levels, key=lambda s: (abs(s - EXAMPLE_SEVERITY), -s))
    examples = []
    for condition in conditions:
        if condition.corruption != CLEAN and condition.severity != severity:
            continue
        name = condition.corruption
        examples.append(
            ExampleImage(
                item.path,
                item.defect_class,
                name,
                condition.severity,
                condition.level,
                _corrupted(image, readable[pick], name, condition.severity, seed),
                condition.scores[pick],
                condition.accepted[pick],
            )
        )
    return tuple(examples)


def _attack_targets(
    chosen: Sequence[LabelledImage], clean: ConditionScores, count: int, seed: int
) -> list[int]:
    """Up to ``count`` caught defective images, taking classes in turn (seeded order)."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = {}
    for i, item in enumerate(chosen):
        if item.defective and not clean.accepted[i]:
            by_class.setdefault(item.defect_class, []).append(i)
    queues = [list(rng.permutation(by_class[name])) for name in sorted(by_class)]
    picked: list[int] = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(int(queue.pop(0)))
    return sorted(picked)


def _adversarial(
    inferencer: Inferencer,
    made_for: str,
    rules: DecisionRules,
    chosen: Sequence[LabelledImage],
    clean: ConditionScores,
    count: int,
    steps: int | None,
    seed: int,
    progress: Progress | None,
) -> AdversarialRun:
    if count == 0:
        return AdversarialRun("skipped", "not asked for (--adversarial-images 0)")
    if made_for == ONNXRUNTIME:
        note = (
            "skipped: an ONNX Runtime package has no gradients; run robustness on the torch "
            "package it was exported from to measure adversarial perturbations"
        )
        return AdversarialRun("skipped", note)
    targets = _attack_targets(chosen, clean, count, seed)
    if not targets:
        return AdversarialRun("skipped", "no defective image is rejected on clean images")
    from inspector.training.adversarial import (
        ADVERSARIAL_EPSILONS,
        ADVERSARIAL_STEPS,
        smallest_escape_epsilon,
    )

    steps = ADVERSARIAL_STEPS if steps is None else steps
    images = [read_image(chosen[i].path) for i in targets]
    report = None if progress is None else lambda done, total: progress("adversarial", done, total)
    results = smallest_escape_epsilon(inferencer, images, rules, steps=steps, progress=report)
    note = (
        f"PGD on the image score, {steps} steps per try, binary search over epsilons "
        f"{list(ADVERSARIAL_EPSILONS)} grey levels (L-infinity, in the camera image; one "
        "perturbation for all channels of a grey image); an escape "
        "counts only when the rounded perturbed image is accepted through predict and the rules"
    )
    attacks = tuple(
        Attack(
            chosen[i].path,
            chosen[i].defect_class,
            clean.scores[i],
            result.epsilon,
            result.adversarial_score,
            image,
            result.adversarial_image,
        )
        for i, image, result in zip(targets, images, results, strict=True)
    )
    return AdversarialRun("done", note, ADVERSARIAL_EPSILONS, steps, rules.review_floor, attacks)
