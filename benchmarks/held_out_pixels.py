"""Pixel AUROC and AUPRO on a model's own collection: its defective images and the good
images its fit held out, each of those scored against the others.

Run: ``.venv/bin/python benchmarks/held_out_pixels.py --model MODEL_DIR
--good ../shared/datasets/magnetic-tile/train/good
--defective ../shared/datasets/magnetic-tile/train``
(about 2 minutes on 2 CPU cores for magnetic-tile ``train/``).

Why: localisation settings (the density weight, the localisation head) are
chosen here rather than on a validation folder, so the validation figures
stay a check. The held-out good images are the ones a fit without
``--val-good`` set aside (re-split with the fit's seed and share, so this
must be the folder the model was fitted on): the localisation head never
painted them, and a retrieval model scores each against the others (its own
bank entry, after the training images', left out), as calibration did.
Maps and masks are compared as ``inspector evaluate`` compares them (the
longer side at most ``PIXEL_MAX_SIDE``; masks read at the image's size, then
shrunk, by ``evaluate.pixel_mask``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from inspector.acquisition.image_files import list_images, read_image
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.pixels import outputs_at_image_size
from inspector.reports import metrics
from inspector.training.evaluate import (
    PIXEL_MAX_SIDE,
    list_labelled_images,
    pixel_mask,
    shrink_to,
    without_masks,
)
from inspector.training.fit_anomaly import split_holdout

BATCH = 8


def located_maps(
    inferencer: AnomalyInferencer, files: Sequence[Path], own: Sequence[int] | None = None
) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """Each image's localisation map at its own size (shrunk), and each image's size;
    ``own`` gives, per image, its own entry in a retrieval model's banks, left out
    (``None``: none)."""
    model, maps, sizes = inferencer.model, [], []
    for start in range(0, len(files), BATCH):
        images = [read_image(f) for f in files[start : start + BATCH]]
        batch = inferencer.prepare(images)
        exclude = None
        if own is not None and model.retrieval_k:
            exclude = torch.tensor(own[start : start + len(images)])
        with torch.no_grad():
            out = model(batch, exclude)
        located = out.maps if out.localisation_maps is None else out.localisation_maps
        outputs = outputs_at_image_size(
            images, out.scores.numpy(), out.maps.numpy(), located.numpy()
        )
        maps += [shrink_to(o.map_for_localisation, PIXEL_MAX_SIDE, cv2.INTER_AREA) for o in outputs]
        sizes += [(image.shape[0], image.shape[1]) for image in images]
    return maps, sizes


def held_out_of(training: dict, good: Path) -> tuple[list[Path], list[int]]:
    """The good images the fit held out (its own seed and share) and their bank entries
    (a fit puts held-out image ``i`` after its ``count`` training images).

    Raises:
        ValueError: the model was not fitted on ``good`` with a held-out share.
    """
    files = without_masks(list_images(good))
    count, held = training.get("count"), training.get("holdout_count")
    source = str(training.get("holdout_source", ""))
    if count is None or held is None or "held out of" not in source or count + held != len(files):
        msg = (
            f"the model's fit ({count} training, {held} held out: {source!r}) is not a split of "
            f"the {len(files)} images of {good}: give the folder it was fitted on "
            "(without --val-good)"
        )
        raise ValueError(msg)
    _, held_out = split_holdout(files, held / len(files), int(training.get("seed", 0)))
    if len(held_out) != held:
        msg = f"re-splitting {good} gave {len(held_out)} held-out images, the fit had {held}"
        raise ValueError(msg)
    return held_out, [count + i for i in range(held)]


def pixel_figures(
    defect_maps: list[np.ndarray],
    defect_masks: list[np.ndarray],
    classes: Sequence[str],
    good_maps: list[np.ndarray],
) -> dict[str, float]:
    """Pixel AUROC and AUPRO over all images, and pixel AUROC per defect class (that
    class's images with the good ones)."""
    good_masks = [np.zeros(m.shape, bool) for m in good_maps]
    maps, masks = defect_maps + good_maps, defect_masks + good_masks
    result = {"pixel_auroc": metrics.pixel_auroc(maps, masks), "aupro": metrics.aupro(maps, masks)}
    for name in sorted(set(classes)):
        chosen = [i for i, c in enumerate(classes) if c == name]
        result[f"pixel_auroc {name}"] = metrics.pixel_auroc(
            [defect_maps[i] for i in chosen] + good_maps,
            [defect_masks[i] for i in chosen] + good_masks,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="model package folder")
    parser.add_argument("--good", required=True, type=Path, help="the good images it was fitted on")
    parser.add_argument(
        "--defective", required=True, type=Path, help="<class>/<image> + masks; 'good' is skipped"
    )
    args = parser.parse_args()

    inferencer = AnomalyInferencer(args.model, device="cpu", max_batch=BATCH)
    try:
        held_out, own = held_out_of(dict(inferencer.package.training), args.good)
    except ValueError as exc:
        parser.error(str(exc))
    items = [
        item
        for item in list_labelled_images(args.defective)
        if item.defective and item.mask_path is not None
    ]
    defect_maps, sizes = located_maps(inferencer, [i.path for i in items])
    pairs = zip(items, sizes, strict=True)
    defect_masks = [pixel_mask(item, size, PIXEL_MAX_SIDE) for item, size in pairs]
    good_maps, _ = located_maps(inferencer, held_out, own)
    figures = pixel_figures(defect_maps, defect_masks, [i.defect_class for i in items], good_maps)
    report = {
        "model": inferencer.version,
        "defective": len(items),
        "held_out_good": len(good_maps),
        **{name: round(value, 4) for name, value in figures.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
