"""Teaching a localisation head on synthetic defects painted on the good images of a fit.

The last stage of ``inspector fit`` (see :mod:`inspector.ml.localisation_head`
for what the head is for). The backbone stays frozen: each epoch paints new
defects on three quarters of the training images
(:mod:`inspector.training.synthetic_defects`), sends them through the line's
own preprocessing and backbone, and teaches the head to mark the painted
pixels. The held-out good images then set its footing: the head's smoothed
map is scaled to the spread of the distance map on good parts, so
``weight`` 1 adds as much again. Seeded, so a fit repeats on one machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from inspector.ml.anomaly_map import upsample_and_smooth
from inspector.ml.device import inference_context
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.localisation_head import DEFAULT_HEAD_WEIGHT, LocalisationHead
from inspector.ml.pixels import resized_square
from inspector.training.synthetic_defects import CLEAN_SHARE, KINDS, paint_defect

BATCH = 16
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
FOCAL_WEIGHT = 10.0
"""Focal loss per pixel against Dice per image: both matter, a small hole as much as a band."""
FOOTING_PIXELS = 200_000
"""Most pixels of held-out maps sampled for the head's footing (bounds memory)."""

LEAST_HEAD_SPREAD = 1e-4
"""A head whose map varies less than this share of the distance map's spread on good
parts says nothing; scaling it up would put float noise on the map, so it is muted."""

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TaughtHead:
    """A taught head's tensors and how the teaching went (stored in the package's ``training``)."""

    state: dict[str, torch.Tensor]
    summary: dict[str, object]


def at_input_size(images: Sequence[np.ndarray], size: int) -> list[np.ndarray]:
    """Images resized as preprocessing does (:func:`~inspector.ml.pixels.resized_square`)."""
    return [resized_square(image, size) for image in images]


def teach_head(
    inferencer: AnomalyInferencer,
    train: Sequence[np.ndarray],
    holdout: Sequence[np.ndarray],
    *,
    epochs: int,
    holdout_exclude: Sequence[int] | None = None,
    weight: float = DEFAULT_HEAD_WEIGHT,
    seed: int = 0,
    progress: Progress | None = None,
) -> TaughtHead:
    """Teach a :class:`LocalisationHead` for ``inferencer``'s model.

    Args:
        inferencer: The fitted model (banks and normalisation set, no head yet).
        train: Good RGB ``uint8`` images at the model's input size (:func:`at_input_size`).
        holdout: Good images the head's footing is measured on, any size.
        epochs: Passes over ``train``, each with newly painted defects (at least 1).
        holdout_exclude: Per held-out image, its own entry in a retrieval model's
            banks (scored against the others, as calibration does); ``None``: none.
        weight: The head's share of the localisation map, in the distance map's
            good-part spreads.
        seed: Seeds the painting, the order and the head's first weights.
        progress: Called as ``progress("synthetic", epochs done, epochs)``.

    Raises:
        ValueError: ``epochs`` < 1, ``weight`` not positive, or no images.
    """
    if epochs < 1:
        msg = f"a localisation head needs at least 1 epoch, got {epochs}"
        raise ValueError(msg)
    if not (math.isfinite(weight) and weight > 0):
        msg = f"the localisation head's weight must be positive, got {weight}"
        raise ValueError(msg)
    if len(train) < 2 or not holdout:
        msg = (
            "teaching a localisation head needs at least 2 training images (its batch norm "
            "learns from each batch) and held-out good images"
        )
        raise ValueError(msg)
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    model, device = inferencer.model, inferencer.device
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        torch.manual_seed(seed)
        head = LocalisationHead(model.dim).to(device)
    optimiser = torch.optim.AdamW(head.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    losses: list[float] = []
    for epoch in range(epochs):
        order = rng.permutation(len(train))
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            if len(chosen) < 2:  # a last batch of one: batch norm would see one image's cells
                continue
            painted, masks = _paint(rng, [train[i] for i in chosen], train)
            with torch.no_grad(), inference_context(device):
                features = model.embed(inferencer.prepare(painted).to(device))
            head.train()
            logits = head(features.float())
            target = F.adaptive_avg_pool2d(
                torch.from_numpy(np.stack(masks)).to(device)[:, None], logits.shape[-2:]
            )
            loss = _loss(logits, target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        report("synthetic", epoch + 1, epochs)
    head.eval()
    centre, scale = _footing(inferencer, head, holdout, holdout_exclude, weight)
    head.set_footing(centre, scale)
    state = {name: tensor.detach().cpu() for name, tensor in head.state_dict().items()}
    muted = scale == 0.0
    last = losses[-max(1, len(losses) // max(epochs, 1)) :] or [float("nan")]
    summary = {
        "epochs": epochs,
        "images": len(train),
        "painted_kinds": list(KINDS),
        "clean_share": CLEAN_SHARE,
        "weight": weight,
        **({"muted": "its map did not vary on good parts"} if muted else {}),
        "last_epoch_loss": round(float(np.mean(last)), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return TaughtHead(state, summary)


def _paint(
    rng: np.random.Generator, images: Sequence[np.ndarray], others: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each image painted with one defect, or left clean (:data:`CLEAN_SHARE`), and its mask."""
    painted, masks = [], []
    for image in images:
        if rng.random() < CLEAN_SHARE:
            painted.append(image)
            masks.append(np.zeros(image.shape[:2], np.float32))
        else:
            new, mask = paint_defect(rng, image, others)
            painted.append(new)
            masks.append(mask.astype(np.float32))
    return painted, masks


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Focal loss over all cells plus soft Dice over images with a painted defect."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    hit = p * target + (1 - p) * (1 - target)
    focal = ((1 - hit) ** 2 * bce).mean()
    overlap = (p * target).sum(dim=(1, 2, 3))
    dice = 1 - (2 * overlap + 1) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    painted = target.sum(dim=(1, 2, 3)) > 0
    dice_loss = dice[painted].mean() if bool(painted.any()) else logits.sum() * 0
    return FOCAL_WEIGHT * focal + dice_loss


@torch.no_grad()
def _footing(
    inferencer: AnomalyInferencer,
    head: LocalisationHead,
    holdout: Sequence[np.ndarray],
    exclude: Sequence[int] | None,
    weight: float,
) -> tuple[float, float]:
    """(centre, scale) that put the head's smoothed map at ``weight`` distance-map spreads."""
    model, device = inferencer.model, inferencer.device
    base_values, head_values = [], []
    per_image = max(1, FOOTING_PIXELS // len(holdout))
    rng = np.random.default_rng(0)
    for start in range(0, len(holdout), inferencer.max_batch):
        batch = inferencer.prepare(holdout[start : start + inferencer.max_batch]).to(device)
        skip = None
        if exclude is not None:
            skip = torch.tensor(exclude[start : start + len(batch)], device=device)
        with inference_context(device):
            output = model(batch, skip)
            features = model.embed(batch)
        located = output.maps if output.localisation_maps is None else output.localisation_maps
        size = located.shape[-2:]
        smooth = upsample_and_smooth(head(features.float()), (size[0], size[1]), model.kernel)
        for base, mine in zip(located.float().cpu(), smooth.cpu(), strict=True):
            pick = rng.choice(base.numel(), size=min(per_image, base.numel()), replace=False)
            base_values.append(base.flatten()[pick].numpy())
            head_values.append(mine.flatten()[pick].numpy())
    base_all, head_all = np.concatenate(base_values), np.concatenate(head_values)
    spread, base_spread = float(head_all.std()), float(base_all.std())
    if not spread > LEAST_HEAD_SPREAD * max(base_spread, 1e-6):
        return float(head_all.mean()), 0.0  # a head that says the same everywhere: muted
    return float(head_all.mean()), weight * base_spread / spread
