"""What the anomaly model gives back, and how its branch scores are put on one scale.

Typed containers only (as anomalib's ``InferenceBatch``), apart from the model
so that packages, calibration and reports can name them without the model's code.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class PatchCoreOutput(NamedTuple):
    """Raw result for a batch.

    Attributes:
        scores: ``(N,)`` image scores: the patch score, or with an image-level
            branch the larger of the two normalised branch scores.
        maps: ``(N, S, S)`` smoothed anomaly maps at the model's input size
            (in the patch branch's normalised units when the model has them):
            the plain maps the image score comes from, which the sorting rule
            cuts defect regions from and judges zones on.
        patch_scores: ``(N,)`` the plain (not evened) map's maximum, or the mean
            of its highest ``score_top_fraction``, in the map's units.
        global_scores: ``(N,)`` the image-level branch's distance (normalised
            like the maps), or ``None`` for a model without that branch.
        descriptors: ``(N, 2 C)`` the images' descriptors for that branch, or
            ``None`` (fitting adds held-out ones to the branch's bank).
        localisation_maps: ``(N, S, S)`` the maps evened by gallery-row spacing (for a
            model with a density weight) plus a localisation head's map (for a model
            with one): they locate defects better, so they are what ``predict --maps``
            writes and localisation is measured on; ``None`` for a model with neither.
    """

    scores: torch.Tensor
    maps: torch.Tensor
    patch_scores: torch.Tensor
    global_scores: torch.Tensor | None = None
    descriptors: torch.Tensor | None = None
    localisation_maps: torch.Tensor | None = None


class ScoreNormalisation(NamedTuple):
    """Centre and scale of each branch's scores on held-out good parts.

    A branch's raw value ``v`` becomes ``(v - centre) / scale``: how many
    standard deviations above a typical good part it is.
    """

    patch_centre: float
    patch_scale: float
    global_centre: float = 0.0
    global_scale: float = 1.0
