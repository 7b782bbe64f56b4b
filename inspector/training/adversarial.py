"""How small a change of pixels makes an anomaly model accept a defective part.

For each defective image the model rejects, :func:`smallest_escape_epsilon`
looks for the smallest L-infinity perturbation, in grey levels of the camera
image (0..255), that the decision rules would ACCEPT: projected gradient
descent (PGD, Madry et al. 2018) on the model's image score inside an
epsilon-ball, with a binary search over a short ladder of epsilons. Only a
perturbation that passes the real path counts: the perturbed image is
rounded to ``uint8`` and scored through
:meth:`~inspector.ml.inferencer.AnomalyInferencer.predict` and
:func:`~inspector.decision.decide`, exactly as the line would, so a reported
epsilon is a verified escape, not a gradient-side estimate.

The perturbation lives in the camera image at its own size, not in the
model's 224 px input, because that is where light, dirt or an attacker
would act. The preprocessing's resize (OpenCV ``INTER_AREA``) is linear and
separable, so it is rebuilt as two matrices probed from OpenCV itself
(:func:`resize_operators`); gradients then flow from the score back to the
camera pixels through the very resize the line uses (to float precision;
the line's ``uint8`` resize rounds, which is why success is re-scored).
PatchCore's nearest-neighbour minimum has a subgradient, which is all PGD needs.

The search is bounded for a 2-core CPU: ``steps`` PGD steps per try and
``ceil(log2(len(epsilons) + 1))`` tries per image (3 for the default ladder).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from inspector.core.verdict import Verdict
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.ml.pixels import AS_CAPTURED, STANDARDISED, check_image
from inspector.ml.preprocess import standardise_exposure_tensor

if TYPE_CHECKING:
    from inspector.ml.inferencer import AnomalyInferencer

ADVERSARIAL_EPSILONS: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
"""Perturbation sizes tried, in grey levels: 1 is below sensor noise, 32 is plainly visible."""
ADVERSARIAL_STEPS = 10
"""PGD steps per try: enough to find an escape that exists at that size on these models,
few enough that 8 images take minutes on 2 CPU cores."""
_STEP_FACTOR = 2.5
"""PGD step = 2.5 epsilon / steps for the pixel of largest gradient, so the walk can
cross the ball (Madry et al.)."""
_PROBE_CHANNELS = 4
"""OpenCV resizes at most 4 channels at once on every path."""


@dataclass(frozen=True, eq=False)
class AttackResult:
    """The outcome of the search on one image.

    Attributes:
        epsilon: Smallest epsilon of the ladder (grey levels) whose PGD result
            the rules accepted; ``None`` when even the largest did not.
        adversarial_score: Score of that perturbed image through ``predict``;
            ``None`` without an escape.
        adversarial_image: The perturbed RGB ``uint8`` image; ``None`` without one.
        tries: ``(epsilon, re-scored score, accepted)`` of every try, in order.
    """

    epsilon: int | None
    adversarial_score: float | None
    adversarial_image: np.ndarray | None
    tries: tuple[tuple[int, float, bool], ...]


def resize_operators(height: int, width: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Matrices ``A (size, height)``, ``B (size, width)`` with ``resize(x) == A @ x @ B.T``.

    ``resize`` is ``cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA)``
    on one channel in float32, as :func:`inspector.ml.pixels.normalise_batch`
    does. OpenCV picks different coefficients when it shrinks both axes than
    when it enlarges one, so the matrices are probed with the image's own
    shape: resizing unit rows (columns) gives the columns of ``A`` (``B``).
    """
    operators = []
    for axis, n in ((0, height), (1, width)):
        columns = []
        for start in range(0, n, _PROBE_CHANNELS):
            k = min(_PROBE_CHANNELS, n - start)
            probe = np.zeros((height, width, k), np.float32)
            index = np.arange(k)
            if axis == 0:
                probe[start + index, :, index] = 1.0
            else:
                probe[:, start + index, index] = 1.0
            out = cv2.resize(probe, (size, size), interpolation=cv2.INTER_AREA)
            out = out.reshape(size, size, k)
            columns.append(out[:, 0, :] if axis == 0 else out[0, :, :])
        operators.append(np.concatenate(columns, axis=1))
    return operators[0], operators[1]


class PixelPath:
    """A model's input batch as a differentiable function of camera-image pixels.

    The same resize (as matrices, so gradients reach every camera pixel) and
    normalisation as the inferencers, for the attacks on anomaly models and
    on classifiers alike.

    Args:
        device: Where the model runs.
        size: Side of the model's square input.
        mean: Per-channel normalisation mean of the package.
        std: Per-channel normalisation standard deviation.
        exposure: The package's exposure setting (:data:`inspector.ml.pixels.EXPOSURES`).
    """

    def __init__(
        self,
        device: torch.device,
        size: int,
        mean: Sequence[float],
        std: Sequence[float],
        exposure: str = AS_CAPTURED,
    ) -> None:
        self.device = device
        self.size = size
        self.standardise = exposure == STANDARDISED
        std_t = torch.tensor(std, dtype=torch.float32, device=device)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device)
        self.scale = (1.0 / (255.0 * std_t)).view(1, 3, 1, 1)
        self.shift = (mean_t / std_t).view(1, 3, 1, 1)
        self._operators: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def operators(self, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Row and column resize matrices for images of ``shape`` (cached)."""
        if shape not in self._operators:
            a, b = resize_operators(shape[0], shape[1], self.size)
            self._operators[shape] = (
                torch.from_numpy(a).to(self.device),
                torch.from_numpy(b).to(self.device),
            )
        return self._operators[shape]

    def batch(self, pixels: Sequence[torch.Tensor]) -> torch.Tensor:
        """The normalised ``(N, 3, S, S)`` input of float ``(H, W, 3)`` images in grey levels."""
        resized = []
        for image in pixels:
            a, b = self.operators((image.shape[0], image.shape[1]))
            resized.append(a @ image.permute(2, 0, 1) @ b.T)  # (3, S, S)
        batch = torch.stack(resized)
        if self.standardise:
            batch = standardise_exposure_tensor(batch)
        batch = batch * self.scale - self.shift
        return batch.contiguous(memory_format=torch.channels_last)


class _Scorer:
    """The model's score as a differentiable function of camera-image pixels."""

    def __init__(self, inferencer: AnomalyInferencer) -> None:
        package = inferencer.package
        self.model = inferencer.model
        self.device = inferencer.device
        self.path = PixelPath(
            self.device, inferencer.input_size, package.mean, package.std, package.exposure
        )

    def scores(self, pixels: Sequence[torch.Tensor]) -> torch.Tensor:
        """Scores ``(N,)`` of float ``(H, W, 3)`` images in grey levels (any sizes)."""
        return self.model(self.path.batch(pixels)).scores


def _pgd(
    scorer: _Scorer, images: Sequence[np.ndarray], epsilons: Sequence[int], steps: int
) -> list[np.ndarray]:
    """PGD from the clean image, lowering the score; the lowest-scoring iterate of each image.

    The step is the gradient scaled so its largest pixel moves by the step
    size, not the usual sign of the gradient: a sign step moves every pixel
    by the full step, which is noise all over the part, and an anomaly model
    reads noise as anomaly. Measured on a demo-line part (score 38.9, accepted
    below 23.3): sign steps raised the score to 44 at epsilon 8 and 67 at 32;
    scaled steps lowered it to 22.7 at epsilon 16.

    A grey image (all channels equal, a monochrome camera's) gets one
    perturbation for all channels, as its camera could only deliver that.
    Each image has its own epsilon; the result is rounded to ``uint8``, which
    stays inside the ball because the image and epsilon are whole grey levels.
    """
    # Grey images are perturbed through one channel, broadcast to three.
    clean = [
        torch.from_numpy(i[..., :1] if is_grey(i) else i).to(scorer.device, torch.float32)
        for i in images
    ]
    deltas = [torch.zeros_like(x, requires_grad=True) for x in clean]
    best = [d.detach().clone() for d in deltas]
    best_scores = [float("inf")] * len(images)
    for step in range(steps + 1):
        with torch.enable_grad():
            pixels = [(x + d).expand(-1, -1, 3) for x, d in zip(clean, deltas, strict=True)]
            scores = scorer.scores(pixels)
            grads = None if step == steps else torch.autograd.grad(scores.sum(), deltas)
        for i, score in enumerate(scores.detach().cpu().tolist()):
            if score < best_scores[i]:
                best_scores[i], best[i] = score, deltas[i].detach().clone()
        if grads is None:
            break
        with torch.no_grad():
            for i, (x, grad) in enumerate(zip(clean, grads, strict=True)):
                eps = float(epsilons[i])
                direction = grad / grad.abs().amax().clamp_min(1e-12)
                moved = (deltas[i] - _STEP_FACTOR * eps / steps * direction).clamp(-eps, eps)
                deltas[i] = ((x + moved).clamp(0.0, 255.0) - x).requires_grad_(True)
    perturbed = []
    for x, delta in zip(clean, best, strict=True):
        pixels = torch.round(x + delta).clamp(0.0, 255.0).expand(-1, -1, 3)
        perturbed.append(pixels.to(torch.uint8).cpu().numpy().copy())
    return perturbed


def is_grey(image: np.ndarray) -> bool:
    """Whether all three channels are equal (a monochrome camera's image)."""
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


def smallest_escape_epsilon(
    inferencer: AnomalyInferencer,
    images: Sequence[np.ndarray],
    rules: DecisionRules,
    *,
    epsilons: Sequence[int] = ADVERSARIAL_EPSILONS,
    steps: int = ADVERSARIAL_STEPS,
    progress: Callable[[int, int], None] | None = None,
) -> list[AttackResult]:
    """For each image, the smallest epsilon of ``epsilons`` at which PGD makes it accepted.

    A binary search over the ladder: each try runs PGD for every image still
    open at that image's middle epsilon (all in batches of the inferencer's
    ``max_batch``), then re-scores the rounded results through ``predict`` and
    ``decide``. It assumes a larger ball finds an escape when a smaller one
    did, which holds for PGD up to its step budget.

    Args:
        inferencer: A torch anomaly inferencer (its ``model`` takes gradients).
        images: RGB ``uint8`` images, each one the rules do not accept.
        rules: The decision rules; an escape is an ACCEPT verdict.
        epsilons: Increasing perturbation sizes in grey levels.
        steps: PGD steps per try.
        progress: Called as ``progress(tries done, most tries)`` after each batch.

    Raises:
        ValueError: an image is not RGB ``uint8``, ``epsilons`` are not
            increasing whole grey levels in 1..255, or ``steps`` < 1.
    """
    ladder = [int(e) for e in epsilons]
    if not ladder or ladder != sorted(set(ladder)) or ladder[0] < 1 or ladder[-1] > 255:
        msg = f"epsilons {list(epsilons)} must be increasing whole grey levels in 1..255"
        raise ValueError(msg)
    if steps < 1:
        msg = f"PGD needs at least 1 step, got {steps}"
        raise ValueError(msg)
    for i, image in enumerate(images):
        check_image(image, i)
    scorer = _Scorer(inferencer)
    low, high = [-1] * len(images), [len(ladder)] * len(images)
    found: list[tuple[int, float, np.ndarray] | None] = [None] * len(images)
    tries: list[list[tuple[int, float, bool]]] = [[] for _ in images]
    most = len(images) * math.ceil(math.log2(len(ladder) + 1))
    while open_ := [i for i in range(len(images)) if high[i] - low[i] > 1]:
        for start in range(0, len(open_), inferencer.max_batch):
            chunk = open_[start : start + inferencer.max_batch]
            middle = {i: (low[i] + high[i]) // 2 for i in chunk}
            tried = [ladder[middle[i]] for i in chunk]
            perturbed = _pgd(scorer, [images[i] for i in chunk], tried, steps)
            outputs = inferencer.predict(perturbed)
            for i, eps, image, output in zip(chunk, tried, perturbed, outputs, strict=True):
                accepted = decide(output, rules)[0] == Verdict.ACCEPT
                tries[i].append((eps, output.score, accepted))
                if accepted:
                    high[i], found[i] = middle[i], (eps, output.score, image)
                else:
                    low[i] = middle[i]
            if progress is not None:
                progress(sum(len(t) for t in tries), most)
    results = []
    for i in range(len(images)):
        hit = found[i] if high[i] < len(ladder) else None
        results.append(
            AttackResult(
                epsilon=hit[0] if hit else None,
                adversarial_score=hit[1] if hit else None,
                adversarial_image=hit[2] if hit else None,
                tries=tuple(tries[i]),
            )
        )
    return results
