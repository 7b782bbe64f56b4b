"""Evaluating a classifier package on labelled images, through its own inference path.

The images are decoded as ``evaluate`` decodes them
(:func:`inspector.acquisition.image_files.read_image`) and classified by
:class:`~inspector.ml.classifier_inference.ClassifierInferencer`, the path of
``predict``, the line and the validation at the end of training; the figures
are those training stores (:func:`classification_metrics`), so a comparison
and a package's own validation mean the same thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from inspector.core.errors import SourceError
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.training.classifier_data import list_class_images
from inspector.training.classifier_metrics import ClassificationMetrics, classification_metrics
from inspector.training.data_fingerprint import fingerprint_labelled
from inspector.training.evaluate import decoded_batches

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class ClassifiedImage:
    """One labelled image and what the classifier said.

    Attributes:
        path: The image file.
        defect_class: Its folder name (the truth).
        predicted: The most probable class.
        probabilities: Class name to probability, in the model's class order.
        latency_ms: Inference time per image in its batch (decoding excluded).
    """

    path: Path
    defect_class: str
    predicted: str
    probabilities: Mapping[str, float]
    latency_ms: float


@dataclass(frozen=True, eq=False)
class ClassifierRun:
    """A classifier's results on a labelled folder.

    Attributes:
        model_version / model_dir / model_files: The package evaluated.
        classes: Its classes, in output order.
        device: Where inference ran, named for people.
        data_dir: The labelled folder.
        images: One result per readable image, in file order.
        unreadable: ``"path: reason"`` for each image that could not be decoded.
        metrics: Accuracy, per-class figures and the confusion matrix over ``images``.
        seconds: Wall time of the whole evaluation.
        data_fingerprint: SHA-256 over the folder's classes, paths and images
            (:mod:`inspector.training.data_fingerprint`); ``None`` when not measured.
    """

    model_version: str
    model_dir: Path
    model_files: dict[str, str]
    classes: tuple[str, ...]
    device: str
    data_dir: Path
    images: tuple[ClassifiedImage, ...]
    unreadable: tuple[str, ...]
    metrics: ClassificationMetrics
    seconds: float
    data_fingerprint: str | None = None


def evaluate_classifier(
    model_dir: str | Path,
    data_dir: str | Path,
    *,
    device: str = "auto",
    batch: int = 8,
    progress: Progress | None = None,
) -> ClassifierRun:
    """Classify every image of a ``<class>/<stem>.<ext>`` folder and measure the result.

    Raises:
        SourceError: the folder is missing or badly laid out, or no image is readable.
        ValueError: the folder has classes the classifier does not know.
        ModelPackageError: the package cannot be loaded.
    """
    started = time.perf_counter()
    items = list_class_images(data_dir)
    inferencer = ClassifierInferencer(model_dir, device=device, max_batch=batch)
    classes = inferencer.classes
    unknown = sorted({item.defect_class for item in items} - set(classes))
    if unknown:
        msg = (
            f"{data_dir} has folders {unknown} that are not classes of {inferencer.version} "
            f"({', '.join(classes)}): compare on a folder laid out by the classifier's classes"
        )
        raise ValueError(msg)
    results: list[ClassifiedImage] = []
    unreadable: list[str] = []
    image_sha256: dict[Path, str] = {}
    for done, chunk in decoded_batches(items, batch, unreadable, image_sha256):
        if chunk:
            began = time.perf_counter()
            said = inferencer.predict([image for _, image in chunk])
            per_image_ms = 1000.0 * (time.perf_counter() - began) / len(chunk)
            results.extend(
                ClassifiedImage(
                    item.path, item.defect_class, out.top_class, out.probabilities, per_image_ms
                )
                for (item, _), out in zip(chunk, said, strict=True)
            )
        if progress is not None:
            progress(done, len(items))
    if not results:
        msg = f"no image of {data_dir} could be read: {unreadable[0] if unreadable else ''}"
        raise SourceError(msg)
    metrics = classification_metrics(
        [classes.index(r.defect_class) for r in results],
        [classes.index(r.predicted) for r in results],
        classes,
    )
    package = inferencer.package
    return ClassifierRun(
        model_version=inferencer.version,
        model_dir=Path(package.path) if package.path is not None else Path(model_dir),
        model_files=dict(package.files),
        classes=classes,
        device=inferencer.device_name,
        data_dir=Path(data_dir),
        images=tuple(results),
        unreadable=tuple(unreadable),
        metrics=metrics,
        seconds=time.perf_counter() - started,
        data_fingerprint=fingerprint_labelled(Path(data_dir), items, image_sha256).fingerprint,
    )
