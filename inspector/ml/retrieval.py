"""Patch distances to the most similar good images only (retrieval, as in SPADE).

A memory bank of patches from *all* good images (PatchCore's coreset) lets a
defect patch find a look-alike anywhere: the edge of one tile matches a
crack, the dark corner of another a blowhole. Comparing a part's patches only
with the patches of the good images that look most like the whole part
(nearest by the image-level descriptor) keeps that context: a crack has to be
explained by tiles like this one. Cohen and Hoshen, "Sub-Image Anomaly
Detection with Deep Pyramid Correspondences" (2020), do the same retrieval
before pixel matching.

Measured on magnetic-tile (Lite0, 224 px, fit on ``train/good``, ``val/``):
the patch branch's image AUROC rose from 0.888 (a 4,000-row coreset of all
images) to 0.954 (the 10 nearest images), pixel AUROC from 0.80 to 0.88;
keeping a quarter of each image's patches (a per-image coreset) cost 0.002.

The bank is the gallery: ``rows_per_image`` rows per good image, stored one
image after another in the order of the image-level branch's bank, so image
``g`` owns rows ``g * R .. (g + 1) * R``. Everything here is plain tensor
arithmetic, so the ONNX export traces it unchanged.
"""

from __future__ import annotations

import torch

from inspector.ml.coreset import greedy_coreset

DEFAULT_RETRIEVAL_K = 10
"""Good images each part is compared with: 3 / 5 / 10 gave patch-branch AUROC
0.956 / 0.952 / 0.954 and, with the image-level branch, 0.969 / 0.968 / 0.971
on magnetic-tile ``val/``; more neighbours tolerate a tile whose twin in the
training set is missing."""
DEFAULT_GALLERY_FRACTION = 0.25
"""Share of each good image's patches kept in the gallery (0.25 / 0.5 / 1 gave
0.952 / 0.953 / 0.954 patch AUROC): a quarter keeps the package and the search small."""


DEFAULT_DENSITY_WEIGHT = 0.5
"""Share of the matched gallery row's own spacing taken off a patch's distance
in the localisation maps (``inspector fit --density-weight``; what ``inspector fit``
uses with retrieval). Chosen on magnetic-tile ``train/`` (234 defective tiles,
good tiles scored against the others) among 0 / 0.25 / 0.5 / 0.75: pixel AUROC
0.920 -> 0.930 and AUPRO 0.860 -> 0.868 at 0.5; on ``val/`` 0.890 -> 0.912.
Only the localisation maps are evened: the score, defect regions and zones stay on
the plain map, whose footing the threshold was set on."""


def check_retrieval(k: int, global_stage: int | None) -> None:
    """Refuse a retrieval setting the model cannot honour.

    Raises:
        ValueError: ``k`` is negative, or positive without the image-level
            branch that finds each part's nearest good images.
    """
    if k < 0 or (k and global_stage is None):
        msg = (
            f"retrieval_k={k}: retrieval needs a positive k and the image-level "
            "branch (global_stage) that finds each part's nearest good images"
        )
        raise ValueError(msg)


def check_density_weight(weight: float, k: int) -> None:
    """Refuse a density weight outside [0, 1], or one without retrieval.

    Raises:
        ValueError: naming the allowed range.
    """
    if not 0.0 <= weight <= 1.0 or (weight and not k):
        msg = (
            f"density weight {weight!r}: use a value in [0, 1] (0: off), and only with "
            "retrieval (k > 0), whose gallery rows it measures"
        )
        raise ValueError(msg)


def retrieved_distance(
    rows: torch.Tensor, image_distances: torch.Tensor, bank: torch.Tensor, k: int
) -> torch.Tensor:
    """Distance of each patch to its nearest patch among its image's ``k`` nearest good images.

    Args:
        rows: ``(N, P, D)`` patch features of ``N`` images.
        image_distances: ``(N, G)`` distance of each image to each good image.
        bank: ``(G * R, D)`` gallery rows, ``R`` per good image, in that order.
        k: Good images to compare with (at most ``G``).

    Returns:
        ``(N, P)`` float32 Euclidean distances.
    """
    return retrieved_match(rows, image_distances, bank, k)[0]


def retrieved_match(
    rows: torch.Tensor,
    image_distances: torch.Tensor,
    bank: torch.Tensor,
    k: int,
    row_scale: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`retrieved_distance`, and with ``row_scale`` ``(G * R,)`` (:func:`row_scales`)
    also the spacing ``(N, P)`` of the gallery row each patch matched."""
    n, patches, dim = rows.shape
    images = image_distances.shape[1]
    per_image = bank.shape[0] // images
    nearest = image_distances.topk(min(k, images), dim=1, largest=False).indices
    gallery = bank.view(images, per_image, dim)[nearest].reshape(n, -1, dim)
    gallery_sq = (gallery * gallery).sum(dim=2).unsqueeze(1)
    d2 = torch.baddbmm(gallery_sq, rows, gallery.transpose(1, 2), alpha=-2.0)
    if row_scale is None:
        d2 = d2.amin(dim=2) + (rows * rows).sum(dim=2)
        return d2.clamp_min(0.0).sqrt(), None
    # The matched row in two steps, the nearest image first and then its nearest row:
    # an index search over all k * R rows took 9 % of the ONNX Runtime network.
    by_image = d2.view(n, patches, nearest.shape[1], per_image)
    image_best = by_image.amin(dim=3)
    image = image_best.argmin(dim=2, keepdim=True)
    best = image_best.gather(2, image).squeeze(2)
    own_rows = by_image.gather(2, image.unsqueeze(3).expand(n, patches, 1, per_image))
    matched = image.squeeze(2) * per_image + own_rows.squeeze(2).argmin(dim=2)
    distance = (best + (rows * rows).sum(dim=2)).clamp_min(0.0).sqrt()
    scale = row_scale.view(images, -1)[nearest].reshape(n, -1)
    return distance, scale.gather(1, matched)


def row_scales(
    bank: torch.Tensor, image_distances: torch.Tensor, k: int, max_elements: int = 1 << 24
) -> torch.Tensor:
    """Each gallery row's distance to the nearest row of its own image's ``k`` nearest
    *other* good images: how far apart good patches of that kind lie.

    A patch on a busy edge lands farther from its match than one on a plain
    face, even on a good part; subtracting part of the matched row's spacing
    (as a local outlier factor does) evens the map out, so a defect stands out
    against its own surroundings. Computed from the banks alone, so a package
    stores nothing more and a changed gallery (``learn-good``) recomputes it.

    Args:
        bank: ``(G * R, D)`` gallery rows.
        image_distances: ``(G, G)`` distances between the good images.
        k: Neighbouring images, as the model's retrieval uses.
        max_elements: Most distance-matrix elements one block of images may hold.

    Returns:
        ``(G * R,)`` float32 spacings.
    """
    images = image_distances.shape[0]
    if images < 2:  # no other image to measure against: nothing to even out
        return torch.zeros(bank.shape[0], device=bank.device)
    rows = bank.view(images, bank.shape[0] // images, -1)
    others = image_distances.clone().fill_diagonal_(float("inf"))
    spacing, _ = retrieval_in_blocks(rows, others, bank, min(k, images - 1), max_elements)
    return spacing.reshape(-1)


def retrieval_in_blocks(
    rows: torch.Tensor,
    image_distances: torch.Tensor,
    bank: torch.Tensor,
    k: int,
    max_elements: int,
    row_scale: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`retrieved_match` a few images at a time, so memory stays bounded.

    Args:
        max_elements: Most distance-matrix elements one block may hold.

    Raises:
        ValueError: the bank's rows are not a whole number per good image.
    """
    images, bank_rows = image_distances.shape[1], bank.shape[0]
    if images == 0 or bank_rows == 0 or bank_rows % images:
        msg = (
            f"a retrieval model needs the same number of bank rows per good image: "
            f"{bank_rows} rows for {images} images do not split evenly; refit the model"
        )
        raise ValueError(msg)
    k = min(k, images)
    step = max(1, max_elements // (rows.shape[1] * k * (bank_rows // images)))
    parts = [
        retrieved_match(
            rows[start : start + step], image_distances[start : start + step], bank, k, row_scale
        )
        for start in range(0, rows.shape[0], step)
    ]
    distance = torch.cat([d for d, _ in parts])
    return distance, None if row_scale is None else torch.cat([s for _, s in parts])


def without(image_distances: torch.Tensor, exclude: torch.Tensor) -> torch.Tensor:
    """``image_distances`` ``(N, G)`` with each row's ``exclude`` column (when >= 0) out of reach.

    Fitting scores images that are already in the banks as a new part will be
    scored: against all the other good images, never against themselves.
    """
    rows = torch.nonzero(exclude >= 0).squeeze(1)
    out = image_distances.clone()
    out[rows, exclude[rows]] = float("inf")
    return out


def gallery_rows(features: torch.Tensor, rows_per_image: int, *, seed: int = 0) -> torch.Tensor:
    """Each image's ``rows_per_image`` most covering patches: ``(N, P, D)`` -> ``(N * R, D)``.

    A greedy k-center coreset per image, so the kept patches still cover the
    whole image. An image with fewer distinct patches repeats chosen ones
    (a repeated row changes no nearest distance), so every image owns exactly
    ``R`` rows and image ``g``'s rows stay at ``g * R``.
    """
    n, patches, dim = features.shape
    if not 1 <= rows_per_image <= patches:
        msg = f"rows per image must be between 1 and {patches} patches, got {rows_per_image}"
        raise ValueError(msg)
    kept = []
    for index in range(n):
        image = features[index]
        chosen = greedy_coreset(image, rows_per_image, seed=seed + index)
        if chosen.numel() < rows_per_image:
            chosen = chosen.repeat(rows_per_image // chosen.numel() + 1)[:rows_per_image]
        kept.append(image[chosen])
    return torch.cat(kept)


def rows_per_image(patches: int, fraction: float = DEFAULT_GALLERY_FRACTION) -> int:
    """Gallery rows kept per good image with ``patches`` patches."""
    if not 0.0 < fraction <= 1.0:
        msg = f"gallery fraction must be in (0, 1], got {fraction}"
        raise ValueError(msg)
    return max(1, round(patches * fraction))
