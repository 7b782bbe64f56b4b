"""The segmenter's loss weighs each defective image alike and keeps good parts clean."""

from __future__ import annotations

import torch

from inspector.training.segment_trainer import PEAK_WEIGHT, loss_terms, segmentation_loss


def _logits(mask: torch.Tensor) -> torch.Tensor:
    """Near-certain logits for a boolean mask: +20 inside, -20 outside."""
    return torch.where(mask, 20.0, -20.0)


def test_a_missed_small_defect_costs_as_much_dice_as_a_missed_large_one() -> None:
    target = torch.zeros(2, 1, 32, 32)
    target[0, 0, :, :16] = 1.0  # a large defect, found
    target[1, 0, 10:20, 10:20] = 1.0  # a small one, missed
    logits = _logits(target.bool())
    logits[1] = -20.0
    # Over the whole batch the small miss would hardly count (Dice 0.09);
    # per image it is half the Dice loss.
    _, dice, _ = loss_terms(logits, target)
    assert dice.shape == (2,) and abs(float(dice.mean()) - 0.5) < 0.02
    _, found, _ = loss_terms(_logits(target.bool()), target)
    assert float(found.mean()) < 0.01


def test_good_images_add_no_dice_but_a_stray_pixel_costs_its_peak() -> None:
    target = torch.zeros(3, 1, 16, 16)
    target[0, 0, 4:8, 4:8] = 1.0
    clean = _logits(target.bool())
    _, dice, peak = loss_terms(clean, target)
    assert dice.shape == (1,) and peak.shape == (3,) and float(peak.max()) < 1e-6
    stray = clean.clone()
    stray[1, 0, 0, 0] = 20.0  # one confident false pixel on a good image
    bce_clean, _, _ = loss_terms(clean, target)
    bce_stray, _, peak_stray = loss_terms(stray, target)
    assert float(bce_stray - bce_clean) < 0.05  # among 768 pixels BCE hardly sees it
    assert float(peak_stray[1]) > 19  # the image's peak does
    added = segmentation_loss(stray, target) - segmentation_loss(clean, target)
    assert float(added) > PEAK_WEIGHT * 19 / 3


def test_an_all_good_batch_has_no_dice_term() -> None:
    good = torch.zeros(2, 1, 16, 16)
    faint = torch.full_like(good, -3.0)
    bce, dice, peak = loss_terms(faint, good)
    assert dice.numel() == 0
    assert torch.isclose(segmentation_loss(faint, good), bce + PEAK_WEIGHT * peak.mean())
