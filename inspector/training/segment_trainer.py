"""One segmenter training run, epoch by epoch: draw cached views, train the decoder, validate.

Only the decoder learns (the backbone is frozen, its outputs cached by
:mod:`inspector.training.segment_cache`). An epoch draws one view of every
defective image and as many good images (fewer when there are fewer),
different ones each epoch: good images are most of a typical set and teach
only background, which every defective image shows too, so drawing them all
would spend most of each epoch on the easy pixels. Over the epochs every good
image is still seen. The loss has three parts, each at the input size:

* BCE over every pixel learns every pixel;
* soft Dice keeps the rare defect pixels from being outvoted by the
  background. It is taken *per image* (each map that holds a defect,
  averaged), as the mIoU it stands in for is: over a whole batch one large
  uneven-surface patch outweighs every small blowhole and thin crack beside
  it;
* BCE of each map's highest logit against whether the map holds a defect
  (weighted :data:`PEAK_WEIGHT`): a station scores a part by the map's
  highest probability, and per-image Dice alone lets stray pixels on good
  parts pass 0.5.

Measured on a split of magnetic-tile's train/ (mIoU of the held-out fifth /
share of its good images without a pixel >= 0.5): Dice over the batch
0.49 / 0.82; per image 0.57 / 0.55 (crack 0.18 -> 0.35); per image with the
peak term 0.56 / 0.86.

Split from :mod:`inspector.training.train_segmenter`, which reads the data,
keeps the best weights and saves the package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from inspector.ml.segmenter import DefectSegmenter
from inspector.training.classifier_optim import cosine_multiplier, set_lr_multiplier
from inspector.training.segment_cache import FeatureCache
from inspector.training.segment_config import SegmentConfig
from inspector.training.segment_metrics import mask_iou

Progress = Callable[[int, int, int, Mapping[str, Any]], None]
DICE_SMOOTH = 1.0
PEAK_WEIGHT = 0.1
"""Weight of the peak term: at 1 it held the mIoU back (0.39 on the split), at 0.1 ~0.01."""
SGD_MOMENTUM = 0.9


def loss_terms(
    logits: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The loss's parts for ``(N, K, H, W)`` logits and targets.

    Returns:
        The mean BCE over every pixel; the soft Dice loss of each (image, map)
        whose target holds a defect (on an empty target Dice would only
        repeat BCE and pull towards an all-zero map); and the BCE of each
        (image, map)'s highest logit against whether it holds a defect.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    truth = target.sum(dim=(2, 3))
    inter = (p * target).sum(dim=(2, 3))
    dice = 1.0 - (2.0 * inter + DICE_SMOOTH) / (p.sum(dim=(2, 3)) + truth + DICE_SMOOTH)
    present = truth > 0
    peak = F.binary_cross_entropy_with_logits(
        logits.amax(dim=(2, 3)), present.to(logits.dtype), reduction="none"
    )
    return bce, dice[present], peak.flatten()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + mean Dice per image (maps with a defect) + :data:`PEAK_WEIGHT` x peak BCE."""
    bce, dice, peak = loss_terms(logits, target)
    dice_mean = dice.mean() if dice.numel() else bce * 0.0
    return bce + dice_mean + PEAK_WEIGHT * peak.mean()


def target_tensor(masks: torch.Tensor, maps: np.ndarray, num_outputs: int) -> torch.Tensor:
    """``(N, K, S, S)`` float targets: each soft mask in its image's map, zeros elsewhere."""
    out = torch.zeros(len(masks), num_outputs, *masks.shape[1:])
    for i, k in enumerate(maps.tolist()):
        if k >= 0:
            out[i, k] = masks[i].float() / 255.0
    return out


class SegmenterTrainer:
    """Trains a segmenter's decoder on cached views.

    Args:
        config: The options.
        model: The segmenter (backbone frozen, decoder fresh).
        train: Cached training views.
        train_maps: Output map of each training *image* (``-1`` for good).
        val: Cached validation images (one view each).
        val_maps: Output map of each validation image.
        device: Where to train.
        report: Progress (``"train"`` steps; it may raise to cancel).
    """

    def __init__(
        self,
        config: SegmentConfig,
        model: DefectSegmenter,
        train: FeatureCache,
        train_maps: np.ndarray,
        val: FeatureCache,
        val_maps: np.ndarray,
        device: torch.device,
        report: Progress,
    ) -> None:
        self.config, self.model, self.device, self.report = config, model, device, report
        self.train, self.val = train, val
        self.train_maps, self.val_maps = train_maps, val_maps
        for parameter in model.backbone.parameters():
            parameter.requires_grad_(False)
        params = list(model.decoder.parameters())
        lr, decay = config.learning_rate, config.decay
        groups = [  # no decay on biases and batch-norm parameters
            {"params": [p for p in params if p.ndim > 1], "base_lr": lr},
            {"params": [p for p in params if p.ndim <= 1], "base_lr": lr, "weight_decay": 0.0},
        ]
        self.optimizer: torch.optim.Optimizer = (
            torch.optim.SGD(groups, lr=lr, momentum=SGD_MOMENTUM, nesterov=True, weight_decay=decay)
            if config.optimizer == "sgd"
            else torch.optim.AdamW(groups, lr=lr, weight_decay=decay)
        )
        self.model.to(device)

    def epoch_rows(self, epoch: int) -> list[list[int]]:
        """The cached rows of one epoch's batches (see the module's sampling rule), seeded."""
        rng = np.random.default_rng([self.config.seed, epoch])
        owner = self.train.owner
        defective = np.flatnonzero(self.train_maps >= 0)
        good = np.flatnonzero(self.train_maps < 0)
        rows = []
        for image in defective:
            rows.append(int(rng.choice(np.flatnonzero(owner == image))))
        chosen = rng.choice(good, size=min(len(good), max(len(defective), 1)), replace=False)
        first_view = {int(i): int(np.flatnonzero(owner == i)[0]) for i in chosen}
        rows += [first_view[int(i)] for i in chosen]
        order = rng.permutation(len(rows))
        n_batches = max(1, -(-len(rows) // self.config.batch_size))
        return [[rows[i] for i in part] for part in np.array_split(order, n_batches)]

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One epoch of the decoder; returns ``phase``, ``train_loss`` and ``lr``."""
        self.model.backbone.eval()
        self.model.decoder.train()
        set_lr_multiplier(self.optimizer, cosine_multiplier(epoch, self.config.epochs))
        batches = self.epoch_rows(epoch)
        size = self.train.masks.shape[-1]
        total, seen = 0.0, 0
        for step, rows in enumerate(batches, start=1):
            features = self.train.batch(rows, self.device)
            owners = self.train.owner[rows]
            target = target_tensor(
                self.train.masks[rows], self.train_maps[owners], self.model.num_outputs
            ).to(self.device)
            logits = self.model.decode(features, (size, size))
            loss = segmentation_loss(logits, target)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach()) * len(rows)
            seen += len(rows)
            self.report(epoch, step, len(batches), {"stage": "train", "train_loss": total / seen})
        lr = self.optimizer.param_groups[0]["lr"]
        return {"phase": "decoder", "train_loss": total / seen, "lr": lr}

    def validate(self) -> tuple[float, float | None]:
        """Validation loss and mIoU at the input size, over the whole validation set.

        The loss is the training loss over the set, each part averaged over
        the whole set, so it does not depend on how batches happen to mix
        good and defective images.
        """
        self.model.eval()
        size = self.val.masks.shape[-1]
        k = self.model.num_outputs
        bce, dice, peak, ious = 0.0, [], [], []
        with torch.inference_mode():
            for start in range(0, len(self.val.owner), self.config.batch_size):
                rows = list(range(start, min(start + self.config.batch_size, len(self.val.owner))))
                maps = self.val_maps[rows]
                target = target_tensor(self.val.masks[rows], maps, k)
                logits = self.model.decode(self.val.batch(rows, self.device), (size, size)).cpu()
                batch_bce, batch_dice, batch_peak = loss_terms(logits, target)
                bce += float(batch_bce) * target.numel()
                dice += batch_dice.tolist()
                peak += batch_peak.tolist()
                masks = self.val.masks[rows].numpy() >= 128
                ious += [
                    mask_iou(m >= self.config.threshold, t)
                    for m, t, target_map in zip(
                        torch.sigmoid(logits).amax(dim=1).numpy(), masks, maps, strict=True
                    )
                    if target_map >= 0
                ]
        val_loss = (
            bce / (len(self.val.owner) * k * size * size)
            + (float(np.mean(dice)) if dice else 0.0)
            + PEAK_WEIGHT * float(np.mean(peak))
        )
        return val_loss, (float(np.mean(ious)) if ious else None)

    def state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the whole model's weights (to keep the best epoch's)."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
