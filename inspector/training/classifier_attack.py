"""How a defect classifier's accuracy falls under small adversarial pixel changes.

For a labelled sample, :func:`attack_classifier` perturbs each image within
an L-infinity ball of ``epsilon`` grey levels (camera pixels, 0..255) to make
the classifier miss its true class, with two standard attacks:

- **FGSM** (Goodfellow et al. 2015): one step of ``epsilon`` along the sign
  of the gradient of the cross-entropy of the true class;
- **PGD** (Madry et al. 2018): ``steps`` sign steps of ``2.5 epsilon / steps``
  from the clean image, each projected back into the ball and onto 0..255;
  of the iterates the one with the highest loss is kept.

Then every perturbed image is rounded to ``uint8`` and classified again
through :meth:`ClassifierInferencer.probabilities` (the line's own path), so
an accuracy reported here is the accuracy of real, deliverable images, not a
gradient-side estimate. The class accuracy counts the top class against the
folder's class; the good-vs-defect accuracy asks only whether ``good`` is the
top class exactly when the part is good (what the reject gate acts on).

As in :mod:`inspector.training.adversarial`, the perturbation lives in the
camera image at its own size (the preprocessing's ``INTER_AREA`` resize is
rebuilt as two matrices, :func:`resize_operators`), and a grey image gets one
perturbation for all three channels, which is all its camera could deliver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.ml.pixels import check_image
from inspector.training.adversarial import PixelPath, is_grey
from inspector.training.robustness_results import AttackAccuracy, ClassifierAttacks

CLASSIFIER_EPSILONS: tuple[int, ...] = (1, 2, 4, 8, 16)
"""Perturbation sizes in grey levels: 1-2 is sensor noise, 16 is plainly visible."""
CLASSIFIER_STEPS = 10
"""PGD steps per epsilon."""
_STEP_FACTOR = 2.5
GOOD = "good"


class _Logits:
    """The classifier's logits as a differentiable function of camera-image pixels."""

    def __init__(self, inferencer: ClassifierInferencer) -> None:
        package = inferencer.package
        self.model = inferencer.model
        self.device = inferencer.device
        self.path = PixelPath(self.device, package.input_size, package.mean, package.std)

    def __call__(self, pixels: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits ``(N, classes)`` of float ``(H, W, 3)`` images in grey levels."""
        return self.model(self.path.batch(pixels)).float()


def _perturb(
    logits: _Logits,
    images: Sequence[np.ndarray],
    labels: Sequence[int],
    epsilon: int,
    steps: int,
) -> list[np.ndarray]:
    """FGSM when ``steps`` is 0, else PGD; returns the rounded ``uint8`` images."""
    clean = [
        torch.from_numpy(i[..., :1] if is_grey(i) else i).to(logits.device, torch.float32)
        for i in images
    ]
    target = torch.as_tensor(list(labels), dtype=torch.long, device=logits.device)
    eps = float(epsilon)
    step_size = eps if steps == 0 else _STEP_FACTOR * eps / steps
    deltas = [torch.zeros_like(x, requires_grad=True) for x in clean]
    best = [d.detach().clone() for d in deltas]
    best_loss = torch.full((len(images),), -float("inf"), device=logits.device)
    for step in range(max(steps, 1) + 1):
        with torch.enable_grad():
            pixels = [(x + d).expand(-1, -1, 3) for x, d in zip(clean, deltas, strict=True)]
            loss = F.cross_entropy(logits(pixels), target, reduction="none")
            last = step == max(steps, 1)
            grads = None if last else torch.autograd.grad(loss.sum(), deltas)
        if step > 0:  # the clean image is never the attack's answer
            better = loss.detach() > best_loss
            for i in torch.nonzero(better).flatten().tolist():
                best[i] = deltas[i].detach().clone()
            best_loss = torch.maximum(best_loss, loss.detach())
        if grads is None:
            break
        with torch.no_grad():
            for i, (x, grad) in enumerate(zip(clean, grads, strict=True)):
                moved = (deltas[i] + step_size * grad.sign()).clamp(-eps, eps)
                deltas[i] = ((x + moved).clamp(0.0, 255.0) - x).requires_grad_(True)
    return [
        torch.round(x + d).clamp(0.0, 255.0).expand(-1, -1, 3).to(torch.uint8).cpu().numpy().copy()
        for x, d in zip(clean, best, strict=True)
    ]


def _accuracies(
    predicted: Sequence[str], truth: Sequence[str], has_good: bool
) -> tuple[float, float | None]:
    """Class accuracy, and good-vs-defect accuracy (``None`` for a model without ``good``)."""
    right = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    if not has_good:
        return float(right), None
    binary = np.mean([(p == GOOD) == (t == GOOD) for p, t in zip(predicted, truth, strict=True)])
    return float(right), float(binary)


def attack_classifier(
    inferencer: ClassifierInferencer,
    images: Sequence[np.ndarray],
    classes: Sequence[str],
    paths: Sequence[Path],
    *,
    epsilons: Sequence[int] = CLASSIFIER_EPSILONS,
    steps: int = CLASSIFIER_STEPS,
    progress: Callable[[int, int], None] | None = None,
) -> ClassifierAttacks:
    """Accuracy of the classifier on ``images`` clean and under FGSM and PGD at each epsilon.

    Args:
        inferencer: A classifier (its network takes gradients).
        images: RGB ``uint8`` images.
        classes: The true class of each image (folder names, classes of the model).
        paths: The image files, for the report.
        epsilons: Increasing perturbation sizes in grey levels (1..255).
        steps: PGD steps per epsilon (FGSM is always one step).
        progress: Called as ``progress(done, total)`` after each batch and attack.

    Raises:
        ValueError: no images, an image is not RGB ``uint8``, a class is not
            one of the model's, bad ``epsilons`` or ``steps`` < 1.
    """
    ladder = [int(e) for e in epsilons]
    if not ladder or ladder != sorted(set(ladder)) or ladder[0] < 1 or ladder[-1] > 255:
        msg = f"epsilons {list(epsilons)} must be increasing whole grey levels in 1..255"
        raise ValueError(msg)
    if steps < 1:
        msg = f"PGD needs at least 1 step, got {steps}"
        raise ValueError(msg)
    if not images or len(images) != len(classes) or len(images) != len(paths):
        msg = f"need as many classes and paths as images, at least one ({len(images)} images)"
        raise ValueError(msg)
    unknown = sorted(set(classes) - set(inferencer.classes))
    if unknown:
        msg = (
            f"classes {unknown} are not classes of the classifier {list(inferencer.classes)}: "
            "attack it on folders named after its classes"
        )
        raise ValueError(msg)
    for i, image in enumerate(images):
        check_image(image, i)
    labels = [inferencer.classes.index(c) for c in classes]
    logits = _Logits(inferencer)
    predicted: dict[tuple[str, int], list[str]] = {}
    total = 2 * len(ladder) * len(images)
    done = 0
    for start in range(0, len(images), inferencer.max_batch):
        chunk = slice(start, start + inferencer.max_batch)
        for method, method_steps in (("fgsm", 0), ("pgd", steps)):
            for eps in ladder:
                perturbed = _perturb(logits, images[chunk], labels[chunk], eps, method_steps)
                for row in inferencer.probabilities(perturbed):
                    predicted.setdefault((method, eps), []).append(
                        inferencer.classes[int(np.argmax(row))]
                    )
                done += len(perturbed)
                if progress is not None:
                    progress(done, total)
    clean = [inferencer.classes[int(np.argmax(r))] for r in inferencer.probabilities(images)]
    results = []
    for (method, eps), guesses in predicted.items():
        accuracy, binary = _accuracies(guesses, classes, GOOD in inferencer.classes)
        results.append(AttackAccuracy(method, eps, accuracy, binary, tuple(guesses)))
    clean_accuracy, clean_binary = _accuracies(clean, classes, GOOD in inferencer.classes)
    note = (
        f"untargeted FGSM (one step) and PGD ({steps} sign steps of 2.5 epsilon / {steps}, "
        "highest-loss iterate kept) on the cross-entropy of the true class, L-infinity in the "
        "camera image (one perturbation for all channels of a grey image); every perturbed "
        "image is rounded to uint8 and classified again through the inferencer"
    )
    return ClassifierAttacks(
        note=note,
        epsilons=tuple(ladder),
        steps=steps,
        paths=tuple(paths),
        classes=tuple(classes),
        clean_predictions=tuple(clean),
        clean_accuracy=clean_accuracy,
        clean_good_vs_defect_accuracy=clean_binary,
        results=tuple(sorted(results, key=lambda r: (r.method, r.epsilon))),
    )
