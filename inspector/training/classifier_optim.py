"""How a defect classifier is fine-tuned: which layers learn when, how fast, against what loss.

Transfer learning from ImageNet on a few hundred images works best when the
pretrained layers are disturbed as little as the task allows:

* ``frozen``: only the new head learns; the backbone is a fixed feature extractor.
* ``gradual`` (ULMFiT's gradual unfreezing): after the head has learned
  alone, one more backbone group, from the top, joins each epoch, up to
  ``unfreeze_groups`` groups.
* ``full``: every layer learns from the first fine-tuning epoch.

Learning rates are discriminative: the head learns alone at ``lr``; in
fine-tuning the head and the top backbone group learn at
``lr * backbone_lr_factor`` and each group below at :data:`LAYER_DECAY` times
the rate of the one above (early layers hold generic edges and textures that
need the least change). Each phase follows one cosine decay over its epochs.
Batch norm keeps ImageNet's statistics throughout (see :func:`set_trainable`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from inspector.ml.classifier import BACKBONE_GROUPS, DefectClassifier

STRATEGIES = ("frozen", "gradual", "full")
OPTIMIZERS = ("adamw", "sgd")
LOSSES = ("ce", "focal")
LAYER_DECAY = 0.5
"""Each backbone group learns at this fraction of the rate of the group above it."""
FOCAL_GAMMA = 2.0
"""Focal loss focusing parameter (Lin et al.'s default)."""
DEFAULT_LR = {"adamw": 1e-2, "sgd": 1e-1}
"""Learning rate of the head alone (a linear layer on fixed features learns fast)."""
DEFAULT_WEIGHT_DECAY = {"adamw": 1e-2, "sgd": 1e-4}
SGD_MOMENTUM = 0.9


def max_trainable_groups(strategy: str, unfreeze_groups: int) -> int:
    """The most backbone groups that ever learn under ``strategy``."""
    if strategy == "frozen":
        return 0
    if strategy == "full":
        return BACKBONE_GROUPS
    return unfreeze_groups


def trainable_groups(strategy: str, unfreeze_groups: int, epoch: int, head_trained: bool) -> int:
    """Backbone groups (from the top) that learn in fine-tuning epoch ``epoch`` (1-based).

    With ``gradual``, a head already trained alone lets the top group join in
    the first epoch; otherwise the head has the first epoch to itself.
    """
    if strategy == "gradual":
        return min(unfreeze_groups, epoch if head_trained else epoch - 1)
    return max_trainable_groups(strategy, unfreeze_groups)


def schedule_complete_epoch(strategy: str, unfreeze_groups: int, head_trained: bool) -> int:
    """First fine-tuning epoch in which every group that will learn does (early stopping waits)."""
    if strategy != "gradual":
        return 1
    return unfreeze_groups if head_trained else unfreeze_groups + 1


def set_trainable(model: DefectClassifier, groups: int) -> None:
    """Let the top ``groups`` backbone groups and the head learn; freeze the rest.

    Every batch norm stays in eval mode, learning groups' too: it keeps
    ImageNet's running statistics (its scale and shift still learn). Batch
    statistics of 16 images out of a few hundred are noisy, and they would
    shift the very features the head was fitted to in the head phase. Only
    the head's dropout runs in training mode.
    """
    model.eval()
    model.dropout.train()
    for index in range(BACKBONE_GROUPS):
        learns = index >= BACKBONE_GROUPS - groups
        for module in model.group_modules(index):
            module.requires_grad_(learns)


def build_optimizer(
    model: DefectClassifier,
    name: str,
    lr: float,
    weight_decay: float,
    max_groups: int,
) -> torch.optim.Optimizer:
    """An optimizer over the head and the ``max_groups`` top backbone groups.

    The head and the top group learn at ``lr``, each lower group at
    :data:`LAYER_DECAY` times the rate of the one above. Each parameter group
    records its ``base_lr`` for :func:`set_lr_multiplier`. Weight decay applies
    to weights of convolutions and linear layers, not to biases and batch-norm
    parameters (decaying those only shifts activations).
    """
    layers: list[tuple[list[nn.Module], float]] = [([model.classifier], lr)]
    for index in range(BACKBONE_GROUPS - max_groups, BACKBONE_GROUPS):
        depth = BACKBONE_GROUPS - 1 - index
        layers.append((model.group_modules(index), lr * LAYER_DECAY**depth))
    groups = []
    for modules, group_lr in layers:
        params = [p for m in modules for p in m.parameters()]
        decay = [p for p in params if p.ndim > 1]
        plain = [p for p in params if p.ndim <= 1]
        groups.append({"params": decay, "lr": group_lr, "base_lr": group_lr})
        groups.append({"params": plain, "lr": group_lr, "base_lr": group_lr, "weight_decay": 0.0})
    if name == "sgd":
        return torch.optim.SGD(
            groups, lr=lr, momentum=SGD_MOMENTUM, nesterov=True, weight_decay=weight_decay
        )
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)


def cosine_multiplier(epoch: int, epochs: int) -> float:
    """Learning-rate multiplier of ``epoch`` (1-based): 1 at the start, decaying to near 0."""
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))


def set_lr_multiplier(optimizer: torch.optim.Optimizer, multiplier: float) -> None:
    """Set every parameter group's rate to its ``base_lr`` times ``multiplier``."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * multiplier


class FocalLoss(nn.Module):
    """Focal loss: cross-entropy scaled by ``(1 - p_true) ** gamma``.

    Easy, confidently right images (most ``good`` parts) contribute little,
    so the rare, hard defects drive learning. With class weights the mean is
    weighted like ``F.cross_entropy``'s.
    """

    def __init__(self, weight: torch.Tensor | None = None, gamma: float = FOCAL_GAMMA) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean focal loss of ``logits`` ``(N, C)`` against class indices ``(N,)``."""
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
        loss = -((1.0 - log_p.exp()) ** self.gamma) * log_p
        if self.weight is None:
            return loss.mean()
        w = self.weight[target]
        return (loss * w).sum() / w.sum()


def build_loss(name: str, weight: torch.Tensor | None) -> nn.Module:
    """``ce`` (cross-entropy) or ``focal``, with optional class weights."""
    if name == "focal":
        return FocalLoss(weight)
    return nn.CrossEntropyLoss(weight=weight)
