"""Evaluating a model package on labelled images, through the live line's own path.

Every image goes through :class:`~inspector.ml.inferencer.AnomalyInferencer`
(or its ONNX Runtime twin, see :mod:`inspector.ml.backend`)
and :func:`inspector.decision.decide`, exactly as on the line, so the rates an
evaluation reports are the rates the line would see with the same rules.

The data folder has one sub-folder per class, ``good`` holding the
defect-free parts: ``<class>/<stem>.jpg`` plus, optionally, a ground-truth
mask ``<class>/<stem>.png`` (non-zero where the defect is). This is the
layout of ``../shared/datasets/magnetic-tile`` and of MVTec AD's test split
once its masks are moved beside their images.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import cv2
import numpy as np

from inspector.acquisition.image_files import IMAGE_EXTENSIONS, decode_image_data, read_file_bytes
from inspector.core.errors import SourceError
from inspector.core.inspection import Defect
from inspector.core.verdict import Verdict
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.ml.backend import open_inferencer
from inspector.ml.pixels import AS_CAPTURED

if TYPE_CHECKING:
    from inspector.ml.backend import Inferencer
from inspector.ml.lighting import scorer_lighting
from inspector.training.data_fingerprint import UNREADABLE, fingerprint_labelled
from inspector.training.dataset_layout import GOOD_CLASS, split_masks

PIXEL_MAX_SIDE = 512
"""Maps and masks kept for pixel metrics are shrunk to this longer side at most."""
KEPT_PIXELS = 32_000_000
"""Map pixels kept for the pixel metrics, all images together (about 160 MB with the
masks; no more than :data:`inspector.reports.metrics.MAX_PIXELS`, so the metrics need
not sample them again). Past it every kept map and mask is thinned to every second row
and column, and so is each later one: a set of any size fits in memory, and the
metrics see one regular grid (:attr:`EvaluationRun.pixel_stride`)."""
OVERLAY_MAX_SIDE = 96
"""The plain map kept for the report's example overlays (float16, ~18 KB an image):
the heat is smooth, so a small map upsampled draws the same picture."""

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LabelledImage:
    """One image of an evaluation set and what is known about it."""

    path: Path
    defect_class: str
    mask_path: Path | None

    @property
    def defective(self) -> bool:
        """Whether the part is known to be defective (any class but ``good``)."""
        return self.defect_class != GOOD_CLASS


@dataclass(frozen=True, eq=False)
class EvaluatedImage:
    """The line's result for one labelled image.

    Attributes:
        path: The image file.
        defect_class: Its folder name; ``good`` for defect-free parts.
        score: Image anomaly score.
        verdict: What the decision rules made of it.
        defects: Regions the rules found (empty unless over the threshold).
        latency_ms: Inference time per image in its batch (decoding excluded).
        image_size: ``(height, width)`` of the image.
        anomaly_map: ``float32`` map for the pixel metrics (the model's
            localisation map), shrunk to at most ``PIXEL_MAX_SIDE`` on its longer side.
        mask: ``bool`` ground truth at the map's size; ``None`` for a defective
            image without a mask file (a good image without one is all false).
        overlay_map: The map the defects were cut from (plain), shrunk to
            ``OVERLAY_MAX_SIDE``, for example overlays drawn against the threshold.
        lighting: Why the image is lit unlike the model's good parts
            (:mod:`inspector.ml.lighting`), or ``None``; such an image gets the
            fail-safe verdict, as on the line.
        regions: The mask's connected defect regions (8-connectivity, 0 where
            defect-free) at the map's size, labelled before any thinning, so AUPRO
            weighs each region as one however the kept pixels are sampled;
            ``None`` without defect pixels.
    """

    path: Path
    defect_class: str
    score: float
    verdict: Verdict
    defects: tuple[Defect, ...]
    latency_ms: float
    image_size: tuple[int, int]
    anomaly_map: np.ndarray
    mask: np.ndarray | None
    overlay_map: np.ndarray | None = None
    lighting: str | None = None
    regions: np.ndarray | None = None

    @property
    def defective(self) -> bool:
        """Whether the part is known to be defective."""
        return self.defect_class != GOOD_CLASS

    @property
    def accepted(self) -> bool:
        """Whether the gate let the part pass (REVIEW goes to the reject bin)."""
        return self.verdict == Verdict.ACCEPT


@dataclass(frozen=True, eq=False)
class EvaluationRun:
    """Everything an evaluation measured, before any metric is computed.

    Attributes:
        model_version: Version string of the package evaluated.
        model_dir: Its folder.
        model_files: SHA-256 of each of its data files.
        model_summary: Its architecture and training summary, for the report.
        rules: The decision rules the verdicts were made with.
        device: Where inference ran, named for people.
        data_dir: The labelled folder.
        images: One result per readable image, in file order.
        unreadable: ``"path: reason"`` for each image that could not be decoded.
        seconds: Wall time of the whole evaluation.
        data_fingerprint: SHA-256 of the labelled set (:mod:`~inspector.training.data_fingerprint`).
        image_sha256: Each image's SHA-256.
        pixel_stride: The kept maps and masks hold every ``pixel_stride``-th row and
            column of the maps shrunk to ``pixel_max_side`` (1 unless the set's maps
            exceed :data:`KEPT_PIXELS`).
    """

    model_version: str
    model_dir: Path
    model_files: dict[str, str]
    model_summary: dict[str, object]
    rules: DecisionRules
    device: str
    data_dir: Path
    images: tuple[EvaluatedImage, ...]
    unreadable: tuple[str, ...]
    seconds: float
    data_fingerprint: str | None = None
    image_sha256: Mapping[Path, str] = field(default_factory=dict)
    pixel_stride: int = 1

    @property
    def scores(self) -> np.ndarray:
        """Image scores, in ``images`` order."""
        return np.array([image.score for image in self.images], dtype=np.float64)

    @property
    def labels(self) -> np.ndarray:
        """``True`` for defective images, in ``images`` order."""
        return np.array([image.defective for image in self.images], dtype=bool)

    @property
    def classes(self) -> list[str]:
        """Class of each image, in ``images`` order."""
        return [image.defect_class for image in self.images]


def without_masks(files: Sequence[Path]) -> list[Path]:
    """Drop ground-truth masks (``a.png`` beside ``a.jpg``, ``b_mask.png`` beside ``b.png``).

    Datasets in the evaluation layout keep masks next to the images (the good
    class too, with empty masks), so fitting or predicting on such a folder
    must not take the masks for images of parts.
    """
    return split_masks(files)[0]


class _Filed(Protocol):
    path: Path


Item = TypeVar("Item", bound=_Filed)


def decoded_batches(
    items: Sequence[Item],
    batch: int,
    unreadable: list[str],
    sha256: dict[Path, str] | None = None,
) -> Iterator[tuple[int, list[tuple[Item, np.ndarray]]]]:
    """``(items done, [(item, RGB image)])`` per batch of ``items``.

    A file that does not decode is named in ``unreadable`` and left out of its
    batch (the evaluation goes on and reports it), never scored as blank. With
    ``sha256``, each file's SHA-256 goes there, of the very bytes decoded (a
    file that cannot be read: ``UNREADABLE``), so a report's hashes name what
    was measured even if the file changes meanwhile, and each file is read once.
    """
    for start in range(0, len(items), batch):
        chunk: list[tuple[Item, np.ndarray]] = []
        for item in items[start : start + batch]:
            try:
                data = read_file_bytes(item.path)
            except SourceError as exc:
                unreadable.append(str(exc))
                if sha256 is not None:
                    sha256[item.path] = UNREADABLE
                continue
            if sha256 is not None:
                sha256[item.path] = hashlib.sha256(data).hexdigest()
            try:
                chunk.append((item, decode_image_data(data, item.path)))
            except SourceError as exc:
                unreadable.append(str(exc))
        yield min(start + batch, len(items)), chunk


def list_labelled_images(data_dir: str | Path) -> list[LabelledImage]:
    """The images of a ``<class>/<stem>.<ext>`` folder with their optional ``.png`` masks.

    A ``.png`` beside an image of the same stem and another extension is that
    image's mask, not an image; a PNG image's mask is ``<stem>_mask.png``.

    Raises:
        SourceError: the folder is missing, has no ``good`` class, or no images.
    """
    root = Path(data_dir)
    if not root.is_dir():
        msg = f"evaluation folder {root} does not exist or is not a folder: check the path"
        raise SourceError(msg)
    found: list[LabelledImage] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        images, masks = split_masks(files)
        found.extend(LabelledImage(file, folder.name, masks.get(file)) for file in images)
    classes = {image.defect_class for image in found}
    if not found or GOOD_CLASS not in classes:
        msg = (
            f"{root} has no images in a '{GOOD_CLASS}' sub-folder (found classes "
            f"{sorted(classes) or 'none'}): lay it out as <class>/<stem>.jpg with '{GOOD_CLASS}' "
            "for defect-free parts"
        )
        raise SourceError(msg)
    return found


def shrink_to(array: np.ndarray, max_side: int, interpolation: int) -> np.ndarray:
    """``array`` with its longer side at most ``max_side`` (0: as it is), as maps and masks
    are kept for the pixel metrics."""
    height, width = array.shape[:2]
    scale = max_side / max(height, width)
    if max_side <= 0 or scale >= 1.0:
        return array
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(array, size, interpolation=interpolation)


def pixel_mask(
    item: LabelledImage,
    shape: tuple[int, int],
    max_side: int,
    sha256: dict[Path, str] | None = None,
) -> np.ndarray | None:
    """``item``'s ground truth as the pixel metrics compare it with its map: read at the
    image's ``shape``, then shrunk as the map is (``max_side``, see :func:`shrink_to`);
    all false for a good image without a mask, ``None`` for a defective one. With
    ``sha256``, the mask file's SHA-256 goes there, of the very bytes decoded.

    Raises:
        SourceError: the mask file cannot be read or decoded.
    """
    mask = _read_mask(item, shape, sha256)
    if mask is None:
        return None
    return shrink_to(mask.astype(np.uint8), max_side, cv2.INTER_NEAREST).astype(bool)


def _read_mask(
    item: LabelledImage, shape: tuple[int, int], sha256: dict[Path, str] | None
) -> np.ndarray | None:
    if item.mask_path is None:
        return None if item.defective else np.zeros(shape, dtype=bool)
    try:
        data = read_file_bytes(item.mask_path)
    except SourceError as exc:
        msg = f"cannot read mask {item.mask_path}: {exc.__cause__ or exc}; fix or remove it"
        raise SourceError(msg) from exc
    if sha256 is not None:
        sha256[item.mask_path] = hashlib.sha256(data).hexdigest()
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        msg = f"cannot decode mask {item.mask_path}: fix or remove it"
        raise SourceError(msg)
    if mask.shape != shape:
        mask = cv2.resize(mask, shape[::-1], interpolation=cv2.INTER_NEAREST)
    return mask > 127


def evaluate_package(
    model: str | Path | Inferencer,
    data_dir: str | Path,
    *,
    threshold: float | None = None,
    device: str = "auto",
    batch: int = 8,
    pixel_max_side: int = PIXEL_MAX_SIDE,
    progress: Progress | None = None,
    backend: str = "auto",
    check_lighting: bool = True,
) -> EvaluationRun:
    """Score every labelled image of ``data_dir`` and decide it as the line would.

    Unreadable images are listed in the result, not fatal: an evaluation of
    hundreds of images should not stop at one bad file, but the report must
    say the set was incomplete.

    Args:
        model: A model package folder, or an inferencer already built.
        data_dir: Folder in the ``<class>/<stem>.jpg`` (+ ``.png`` mask) layout.
        threshold: Image-score threshold for the verdicts; the package's calibrated
            default when ``None``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (ignored for a built inferencer).
        batch: Images per forward pass.
        pixel_max_side: Longer side of the maps and masks kept for pixel metrics
            (bounds memory on large sets); 0 keeps full resolution.
        progress: Called as ``progress(done, total)`` after each batch.
        backend: ``"auto"``, ``"torch"`` or ``"onnxruntime"`` (ignored for a
            built inferencer); see :func:`inspector.ml.backend.open_inferencer`.
        check_lighting: Give images lit unlike the model's good parts the
            fail-safe verdict (unless the model's own is stricter), as a line does.

    Raises:
        SourceError: the folder is missing or badly laid out, or a mask is unreadable.
        ModelPackageError: the model package cannot be loaded.
        ValueError: ``threshold`` or ``batch`` is out of range.
    """
    started = time.perf_counter()
    items = list_labelled_images(data_dir)
    inferencer = (
        open_inferencer(model, backend, device=device, max_batch=batch)
        if isinstance(model, str | Path)
        else model
    )
    rules = DecisionRules(inferencer.default_threshold if threshold is None else threshold)
    kept = _KeptPixels(KEPT_PIXELS)
    unreadable: list[str] = []
    file_sha256: dict[Path, str] = {}  # images and masks, as decoded
    for done, chunk in decoded_batches(items, batch, unreadable, file_sha256):
        if chunk:
            scored = _score_chunk(
                inferencer, rules, chunk, pixel_max_side, check_lighting, file_sha256
            )
            kept.add(scored)
        if progress is not None:
            progress(done, len(items))
    fingerprint = fingerprint_labelled(Path(data_dir), items, file_sha256)
    package = inferencer.package
    return EvaluationRun(
        model_version=inferencer.version,
        model_dir=Path(package.path) if package.path is not None else Path(),
        model_files=dict(package.files),
        model_summary=_model_summary(inferencer),
        rules=rules,
        device=inferencer.device_label,
        data_dir=Path(data_dir),
        images=tuple(kept.images),
        unreadable=tuple(unreadable),
        seconds=time.perf_counter() - started,
        data_fingerprint=fingerprint.fingerprint,
        image_sha256=fingerprint.images,
        pixel_stride=kept.stride,
    )


class _KeptPixels:
    """Evaluated images whose maps and masks together stay within ``budget`` pixels.

    Why: an evaluation keeps every image's map until the pixel metrics are
    computed, so without a bound a set of a few thousand images runs a PC out of
    memory at the very end. Thinning every map by the same stride keeps the
    figures on one regular grid, as sampling in :mod:`~inspector.reports.metrics` does.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.images: list[EvaluatedImage] = []
        self.stride = 1
        self._pixels = 0

    def add(self, images: Sequence[EvaluatedImage]) -> None:
        """Keep ``images``, thinned to the stride in force; double it while over budget."""
        for image in images:
            image = _thinned(image, self.stride)
            self.images.append(image)
            self._pixels += image.anomaly_map.size
        while self._pixels > self.budget:
            thinned = [_thinned(image, 2) for image in self.images]
            pixels = sum(image.anomaly_map.size for image in thinned)
            if pixels == self._pixels:  # every map is down to one pixel: nothing more to gain
                return
            self.stride *= 2
            self.images, self._pixels = thinned, pixels


def _thinned(image: EvaluatedImage, stride: int) -> EvaluatedImage:
    """``image`` with every ``stride``-th row and column of its map and mask (copies,
    so the full arrays are freed)."""
    if stride == 1:
        return image

    def thin(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else np.ascontiguousarray(array[::stride, ::stride])

    return replace(
        image,
        anomaly_map=thin(image.anomaly_map),
        mask=thin(image.mask),
        regions=thin(image.regions),
    )


def _score_chunk(
    inferencer: Inferencer,
    rules: DecisionRules,
    chunk: Sequence[tuple[LabelledImage, np.ndarray]],
    pixel_max_side: int,
    check_lighting: bool = True,
    mask_sha256: dict[Path, str] | None = None,
) -> list[EvaluatedImage]:
    began = time.perf_counter()
    outputs = inferencer.predict([image for _, image in chunk])
    per_image_ms = 1000.0 * (time.perf_counter() - began) / len(chunk)
    lighting = scorer_lighting(inferencer) if check_lighting else None
    results = []
    for (item, image), output in zip(chunk, outputs, strict=True):
        fault = None if lighting is None else lighting.fault(image)
        verdict, defects = decide(output, rules, lighting_fault=fault)  # as the line decides
        small_map = shrink_to(output.map_for_localisation, pixel_max_side, cv2.INTER_AREA)
        mask = pixel_mask(item, image.shape[:2], pixel_max_side, mask_sha256)
        results.append(
            EvaluatedImage(
                path=item.path,
                defect_class=item.defect_class,
                score=output.score,
                verdict=verdict,
                defects=defects,
                latency_ms=per_image_ms,
                image_size=(image.shape[0], image.shape[1]),
                anomaly_map=small_map.astype(np.float32, copy=False),
                mask=mask,
                overlay_map=shrink_to(output.anomaly_map, OVERLAY_MAX_SIDE, cv2.INTER_AREA).astype(
                    np.float16
                ),
                lighting=fault,
                regions=defect_regions(mask),
            )
        )
    return results


def defect_regions(mask: np.ndarray | None) -> np.ndarray | None:
    """The connected regions of ``mask`` (8-connectivity, as AUPRO counts them), labelled
    ``1..n`` with 0 where defect-free; ``None`` when it has no defect pixel."""
    if mask is None or not mask.any():
        return None
    count, labelled = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return labelled.astype(np.uint16) if count <= np.iinfo(np.uint16).max else labelled


def _model_summary(inferencer: Inferencer) -> dict[str, object]:
    package = inferencer.package
    return {
        "name": package.name,
        "created_at": package.created_at,
        "kind": "patchcore",
        "layers": list(package.layers),
        "input_size": package.input_size,
        "sigma": package.sigma,
        "exposure": getattr(package, "exposure", AS_CAPTURED),
        "bank_size": int(package.memory_bank.shape[0]),
        "feature_dim": int(package.memory_bank.shape[1]),
        "backbone": package.backbone,
        "backbone_sha256": package.backbone_sha256,
        "branches": _branches(package),
        "default_threshold": package.threshold,
        "training": dict(package.training),
    }


def _branches(package: object) -> dict[str, object]:
    """The image-level branch and retrieval settings, as the report states the method."""
    stated = getattr(package, "branches", None)
    if isinstance(stated, dict):  # a runtime package states them in model.json
        return dict(stated)
    fields = ("global_stage", "global_grid", "retrieval_k", "density_weight")
    return {name: getattr(package, name) for name in fields if hasattr(package, name)}
