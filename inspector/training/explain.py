"""``inspector explain``: one figure per image saying what the models saw and where.

For each image: the image, its Grad-CAM for the classifier's predicted class
(or a class asked for) with the class probabilities written under it, and,
when an anomaly model is given, the anomaly overlay the live view would draw
(heat map against the threshold, outlines, boxes and the verdict banner),
side by side at one scale. The classifier runs through
:class:`~inspector.ml.classifier_inference.ClassifierInferencer`'s
preprocessing (:mod:`inspector.ml.grad_cam`) and the anomaly model through
:func:`~inspector.ml.backend.open_inferencer` and
:func:`~inspector.decision.decide`, the paths ``predict`` and the line use,
so the figure shows what they would decide.

An image that cannot be read is reported and the others are still explained,
as ``predict`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from inspector.acquisition.image_files import read_image
from inspector.core.errors import SourceError
from inspector.core.frame import Frame
from inspector.core.inspection import Inspection
from inspector.decision.decide import decide, lighting_overrides
from inspector.decision.rules import DecisionRules
from inspector.ml.backend import open_inferencer
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.ml.grad_cam import ClassActivation, class_activation_maps
from inspector.ml.lighting import scorer_lighting
from inspector.overlay.activation import blend_activation
from inspector.overlay.compose import render_overlay
from inspector.overlay.panels import captioned_row
from inspector.training.predict import check_unique_stems, expand_inputs

if TYPE_CHECKING:
    from inspector.ml.backend import Inferencer

MAX_CLASSES_SHOWN = 3
"""Class probabilities written under the Grad-CAM: the most probable few."""


@dataclass(frozen=True)
class ExplainedImage:
    """One image's figure, or why there is none.

    Attributes:
        path: The image.
        figure: The PNG written (``None`` when the image could not be read).
        target_class: The class the Grad-CAM explains.
        top_class: The classifier's most probable class.
        probability: Its probability.
        anomaly_score: The anomaly model's score (``None`` without one).
        verdict: The rules' verdict on that score (``None`` without a model).
        error: Why the image could not be explained.
    """

    path: Path
    figure: Path | None
    target_class: str | None = None
    top_class: str | None = None
    probability: float | None = None
    anomaly_score: float | None = None
    verdict: str | None = None
    error: str | None = None


def explain_files(
    classifier_dir: str | Path,
    paths: Iterable[str | Path],
    out_dir: str | Path,
    *,
    model_dir: str | Path | None = None,
    target_class: str | None = None,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> list[ExplainedImage]:
    """Write ``out_dir/<stem>.png`` for every image in ``paths``.

    Args:
        classifier_dir: A classifier package.
        paths: Image files and folders (recursive; same-stem ``.png`` masks skipped).
        out_dir: Folder for the figures (created).
        model_dir: An anomaly model package shown beside the Grad-CAM.
        target_class: Explain this class on every image; ``None``: each image's top class.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        progress: Called as ``progress(done, total)`` after each image.

    Raises:
        ValueError: two inputs share a stem (their figures would overwrite each
            other), no image was given, or ``target_class`` is not a class of
            the classifier.
        SourceError: a folder named in ``paths`` does not exist.
        ModelPackageError: a package cannot be loaded.
    """
    files = expand_inputs(paths)
    if not files:
        msg = "no images to explain: name image files or folders that hold some"
        raise ValueError(msg)
    check_unique_stems(files)
    classifier = ClassifierInferencer(classifier_dir, device=device, max_batch=1)
    if target_class is not None and target_class not in classifier.classes:
        msg = f"class {target_class!r} is not one of the classifier's {list(classifier.classes)}"
        raise ValueError(msg)
    anomaly = open_inferencer(model_dir, device=device, max_batch=1) if model_dir else None
    rules = DecisionRules(anomaly.default_threshold) if anomaly is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for done, path in enumerate(files, start=1):
        try:
            image = read_image(path)
        except SourceError as exc:
            results.append(ExplainedImage(path, None, error=str(exc)))
        else:
            [cam] = class_activation_maps(classifier, [image], target_class)
            panels = [(image, [path.name, f"{image.shape[1]} x {image.shape[0]} px"])]
            panels.append((blend_activation(image, cam.heat), _cam_caption(cam)))
            score = verdict = None
            if anomaly is not None and rules is not None:
                inspection = _inspect(anomaly, rules, image, path)
                score, verdict = inspection.score, inspection.verdict.value
                caption = [
                    f"anomaly score {score:.4g} (threshold {rules.threshold:.4g})",
                    f"verdict {verdict.upper()} ({anomaly.version})",
                ]
                if inspection.error:  # lit unlike the model's good parts: not judged
                    caption.append("lighting unlike the good parts: fail-safe verdict")
                panels.append((render_overlay(inspection, banner=False), caption))
            figure = out / f"{path.stem}.png"
            row = captioned_row(panels)
            if not cv2.imwrite(str(figure), cv2.cvtColor(row, cv2.COLOR_RGB2BGR)):
                msg = f"could not write {figure}: check that the folder is writable"
                raise OSError(msg)
            top = cam.prediction
            results.append(
                ExplainedImage(
                    path,
                    figure,
                    cam.target_class,
                    top.top_class,
                    top.top_probability,
                    score,
                    verdict,
                )
            )
        if progress is not None:
            progress(done, len(files))
    return results


def _cam_caption(cam: ClassActivation) -> list[str]:
    ranked = sorted(cam.prediction.probabilities.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{name} {p:.2f}" for name, p in ranked[:MAX_CLASSES_SHOWN])
    lines = [f"Grad-CAM of '{cam.target_class}'", shown]
    if cam.peak <= 0:
        lines.append(f"no evidence for '{cam.target_class}' anywhere")
    return lines


def _inspect(
    anomaly: Inferencer, rules: DecisionRules, image: np.ndarray, path: Path
) -> Inspection:
    """The part as the line would decide it, for the live view's overlay (lit unlike the
    model's good parts: not inspected, unless the model rejects it anyway)."""
    [output] = anomaly.predict([image])
    verdict, defects = decide(output, rules)
    lighting, error = scorer_lighting(anomaly), None
    fault = None if lighting is None else lighting.fault(image)
    if fault is not None and lighting_overrides(verdict, rules):
        verdict, defects, error = rules.fail_safe, (), f"not inspected: {fault}"
    frame = Frame(image, "file", 0, 0.0, datetime.now(UTC), origin=str(path))
    return Inspection(
        frame,
        verdict,
        output.score,
        rules.threshold,
        defects,
        output.anomaly_map,
        anomaly.version,
        rules.version,
        0.0,
        0.0,
        error=error,
    )
