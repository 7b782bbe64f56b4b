"""A small head over the patch features that marks what looks like a defect, to locate better.

Nearest-neighbour distances say how unusual a patch is next to good parts;
they barely locate a defect that is only a region of slightly different
texture (magnetic-tile's "uneven" bands, each side normal on its own). This
head is taught on synthetic defects painted on the good images
(:mod:`inspector.training.synthetic_defects`) and reads the same frozen
patch features; its smoothed output, scaled to the distance map's spread on
held-out good parts, is added to the localisation map only. Scores, defect
regions and verdicts stay on the distance map the threshold was calibrated on.
"""

from __future__ import annotations

import torch
from torch import nn

HEAD_WIDTH = 96
"""Channels of the head's hidden layers (171,329 weights on Lite2's 168-wide features)."""
DEFAULT_HEAD_WEIGHT = 1.0
"""How much of the head's map joins the localisation map, in units of the distance
map's spread on held-out good parts (chosen on magnetic-tile ``train/``)."""


class LocalisationHead(nn.Module):
    """Patch features ``(N, D, h, w)`` to one defect logit per cell ``(N, 1, h, w)``.

    The first layer standardises the features with statistics learnt while
    teaching (batch norm without scale); each cell is then seen beside how it
    differs from the whole part's mean (a stretch ground unlike the rest of the
    tile stands out against the part, not only against its neighbours: on
    magnetic-tile ``train/`` this took pixel AUROC from 0.904 to 0.915 and crack
    from 0.956 to 0.973), and four convolutions (1x1, 3x3, dilated 3x3, 1x1
    out: three hidden layers) see about 7 cells around each. ``centre`` and ``scale``
    (set after teaching) bring the smoothed logits to the distance map's
    footing; ``scale`` 0 mutes it.
    """

    def __init__(self, dim: int, width: int = HEAD_WIDTH) -> None:
        super().__init__()
        self.dim = int(dim)
        self.width = int(width)
        self.standardise = nn.BatchNorm2d(dim, affine=False)
        self.layers = nn.Sequential(
            nn.Conv2d(2 * dim, width, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 64, 3, padding=2, dilation=2),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.Conv2d(64, 1, 1),
        )
        self.register_buffer("centre", torch.zeros(()))
        self.register_buffer("scale", torch.zeros(()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Defect logits ``(N, 1, h, w)`` of patch features ``(N, D, h, w)``."""
        cells = self.standardise(features.float())
        unlike_the_part = cells - cells.mean(dim=(2, 3), keepdim=True)
        return self.layers(torch.cat([cells, unlike_the_part], dim=1))

    def set_footing(self, centre: float, scale: float) -> None:
        """Set how smoothed logits join the map: ``scale * (logit - centre)``."""
        self.centre.fill_(float(centre))
        self.scale.fill_(float(scale))


def head_from_state(state: dict[str, torch.Tensor], dim: int) -> LocalisationHead:
    """A head rebuilt from its saved tensors, in eval mode.

    The tensors are checked before anything is built from them: a head of
    another width (a file from elsewhere; a huge one would only exhaust
    memory), tensors that are not floating point, non-finite values or a
    negative scale are refused.

    Raises:
        ValueError: the tensors do not fit a head over ``dim``-wide features.
    """
    first = state.get("layers.0.weight")
    expected = (HEAD_WIDTH, 2 * dim, 1, 1)
    if first is None or tuple(first.shape) != expected:
        shape = None if first is None else tuple(first.shape)
        msg = (
            f"the localisation head's first layer has shape {shape}, expected {expected} "
            "for these patch features: refit the model"
        )
        raise ValueError(msg)
    for name, tensor in state.items():
        if not tensor.is_floating_point() and "num_batches_tracked" not in name:
            msg = f"the localisation head's {name} is {tensor.dtype}, not floating point: refit"
            raise ValueError(msg)
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            msg = f"the localisation head's {name} holds inf or nan: refit the model"
            raise ValueError(msg)
    if "scale" in state and float(state["scale"]) < 0:
        msg = "the localisation head's scale is negative: refit the model"
        raise ValueError(msg)
    head = LocalisationHead(dim)
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        msg = f"the localisation head's tensors do not fit its layers ({exc}): refit the model"
        raise ValueError(msg) from exc
    return head.eval().requires_grad_(False)
