"""The segmenter's loss weighs each defective image alike, as the per-image mIoU does."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inspector.training.segment_trainer import dice_bce_loss


def _logits(mask: torch.Tensor) -> torch.Tensor:
    """Near-certain logits for a boolean mask: +20 inside, -20 outside."""
    return torch.where(mask, 20.0, -20.0)


def _dice_part(logits: torch.Tensor, target: torch.Tensor) -> float:
    return float(dice_bce_loss(logits, target) - F.binary_cross_entropy_with_logits(logits, target))


def test_a_missed_small_defect_costs_as_much_as_a_missed_large_one() -> None:
    target = torch.zeros(2, 1, 32, 32)
    target[0, 0, :, :16] = 1.0  # a large defect, found
    target[1, 0, 10:20, 10:20] = 1.0  # a small one, missed
    found_large = _logits(target.bool())
    found_large[1] = -20.0
    # Over the whole batch the small miss would hardly count (Dice 0.09);
    # per image it is half the Dice loss.
    assert abs(_dice_part(found_large, target) - 0.5) < 0.02
    both = _logits(target.bool())
    assert _dice_part(both, target) < 0.01


def test_good_images_add_no_dice_and_an_all_good_batch_is_bce_alone() -> None:
    target = torch.zeros(3, 1, 16, 16)
    target[0, 0, 4:8, 4:8] = 1.0
    logits = _logits(target.bool())
    logits[1, 0, 0, 0] = 20.0  # a false pixel on a good image: BCE's job, not Dice's
    assert _dice_part(logits, target) < 0.01
    good = torch.zeros(2, 1, 16, 16)
    faint = torch.full_like(good, -3.0)
    bce = F.binary_cross_entropy_with_logits(faint, good)
    assert torch.isclose(dice_bce_loss(faint, good), bce)
