"""PatchCore-style anomaly model: distance of each image patch to the nearest good patch.

Roth et al., "Towards Total Recall in Industrial Anomaly Detection" (2022),
simplified for a fixed, small backbone: mid-level EfficientNet-Lite0 features
(stride 8 and stride 16, i.e. local texture and small parts, not ImageNet
semantics) are locally averaged, brought to one resolution and concatenated
into one vector per patch. A memory bank holds such vectors from good parts
only; a patch's anomaly is its distance to the nearest bank vector.

A second, image-level branch catches what no single patch shows (a band of
uneven brightness, a whole tile slightly off): the deep stage's output is
pooled over the image (mean and standard deviation per channel) and the
image's anomaly is its distance to the nearest good image in that space. On
magnetic-tile ``val/`` this branch alone scored image AUROC 0.975 against the
patch branch's 0.948 (EfficientNet-Lite0, 224 px). The two branches measure in
different units, so each is turned into a z-score of held-out good parts
(:class:`ScoreNormalisation`, set at fitting) and the image score is the larger.

The module returns raw scores and maps, never verdicts: thresholds belong to
``inspector.decision`` so they can change without touching a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from inspector.ml.anomaly_map import gaussian_kernel, top_fraction_mean, upsample_and_smooth
from inspector.ml.anomaly_result import PatchCoreOutput, ScoreNormalisation
from inspector.ml.efficientnet_lite import (
    DEFAULT_VARIANT,
    EfficientNetLite,
    stage_channels,
    stage_stride,
)
from inspector.ml.image_descriptor import check_grid, describe, descriptor_dim
from inspector.ml.localisation_head import LocalisationHead
from inspector.ml.retrieval import (
    check_density_weight,
    check_retrieval,
    retrieval_in_blocks,
    row_scales,
    without,
)

DEFAULT_LAYERS = (2, 4)
"""Stages 2 (40 ch, stride 8) and 4 (112 ch, stride 16) of EfficientNet-Lite0."""
DEFAULT_SIGMA = 4.0
"""Gaussian smoothing of the map, in input pixels, as in the PatchCore paper."""
SCORE_TOP_FRACTION = 0.01
"""Share of the map's highest values averaged into the image score of new fits.

On magnetic-tile ``val/`` it raised image AUROC from 0.853 (the maximum) to
0.889 at 224 px and from 0.735 to 0.822 at 320 px; 1 % of a 224 px map is
about a 22 px square, the size of a small defect there.
"""


DEFAULT_GLOBAL_STAGE = 4
"""Stage 4 (112 channels at stride 16 on Lite0), pooled on a grid of
:data:`DEFAULT_GLOBAL_GRID` cells (see :mod:`inspector.ml.image_descriptor`).
Pooled whole, stage 5 did best on magnetic-tile ``val/`` (image AUROC 0.975
against stage 4's 0.961); on a 4x4 grid stage 4 reached 0.998 and stage 3 0.993."""
DEFAULT_GLOBAL_GRID = 4
"""Cells per side of the image-level descriptor of new fits (1: pooled whole)."""
FIT_BACKBONE = "lite2"
"""The EfficientNet-Lite member ``inspector fit`` uses (the API and ``fit-demo``
keep :data:`~inspector.ml.efficientnet_lite.DEFAULT_VARIANT`, Lite0, the fastest).

Chosen on magnetic-tile ``train/`` (597 good tiles each scored against the
others, 234 defective tiles): escapes at 1 % false rejects 47.9 % (Lite0) ->
30.3 % (Lite1) -> 29.9 % (Lite2), at 2 % 15.0 % -> 12.4 % -> 14.5 %, image
AUROC 0.978 -> 0.982 -> 0.982; then on ``val/`` once: Lite2 escapes at 1 % and
2 % false rejects 5.1 % -> 0 %, AUPRO 0.850 -> 0.860, image AUROC 0.998 ->
0.999. It costs about 11 % of ``predict``'s throughput on 2 CPU cores
(78 -> 69 images/s) and 4 MB of package (a 168-wide bank against 152)."""


def feature_dim(layers: Sequence[int], variant: str = DEFAULT_VARIANT) -> int:
    """Length of one patch vector for the given backbone stages."""
    return sum(stage_channels(stage, variant) for stage in layers)


def global_dim(stage: int, variant: str = DEFAULT_VARIANT, grid: int = 1) -> int:
    """Length of one image descriptor (see :func:`~inspector.ml.image_descriptor.describe`)."""
    return descriptor_dim(stage_channels(stage, variant), grid)


class PatchCore(nn.Module):
    """Frozen backbone + memory bank of good-patch features.

    Args:
        backbone: EfficientNet-Lite with its ImageNet weights loaded; frozen here.
        memory_bank: ``(M, D)`` good-patch features, or ``None`` while fitting
            (then only :meth:`embed` and :meth:`patch_features` work).
        layers: Backbone stages to take features from; the first sets the map resolution.
        sigma: Smoothing of the map in input pixels; 0 for none.
        max_distance_elements: Bound on the size of one patch-to-bank distance
            block, so memory stays flat whatever the batch and bank size.
        score_top_fraction: Image score as the mean of this share of the map's
            highest values (0 takes the maximum). A good part's maximum is one
            unlucky patch that the bank happens not to cover; the mean over a
            defect-sized area is steadier, so goods and defects separate better.
        global_stage: Backbone stage of the image-level branch, or ``None`` for
            a patch-only model (what packages made before the branch are).
        global_bank: ``(G, 2 C)`` descriptors of good images for that branch.
        global_grid: Cells per side the image-level descriptor pools on (1: the
            whole image, what packages made before grids are).
        normalisation: Branch score normalisation; ``None`` leaves raw values
            (a model with an image-level branch needs it to combine them).
        retrieval_k: Compare each patch only with the patches of the part's
            ``retrieval_k`` nearest good images (:mod:`inspector.ml.retrieval`);
            the memory bank is then a gallery of the same number of rows per
            image of ``global_bank``, in its order. 0 (packages made before it):
            the whole bank.
        density_weight: For a retrieval model, the share of the matched gallery
            row's spacing (:func:`~inspector.ml.retrieval.row_scales`, computed
            here from the two banks) taken off each patch distance in the maps
            located with (``PatchCoreOutput.localisation_maps``); 0: none.
        localisation_head: A head taught on synthetic defects
            (:mod:`inspector.ml.localisation_head`) whose map is added to the
            maps located with; ``None``: none (packages made before it).
    """

    def __init__(
        self,
        backbone: EfficientNetLite,
        memory_bank: torch.Tensor | None = None,
        *,
        layers: Sequence[int] = DEFAULT_LAYERS,
        sigma: float = DEFAULT_SIGMA,
        max_distance_elements: int = 1 << 24,
        score_top_fraction: float = 0.0,
        global_stage: int | None = None,
        global_bank: torch.Tensor | None = None,
        normalisation: ScoreNormalisation | None = None,
        retrieval_k: int = 0,
        global_grid: int = 1,
        density_weight: float = 0.0,
        localisation_head: LocalisationHead | None = None,
    ) -> None:
        super().__init__()
        check_grid(global_grid)
        self.global_grid = global_grid
        check_retrieval(retrieval_k, global_stage)
        self.retrieval_k = int(retrieval_k)
        check_density_weight(density_weight, self.retrieval_k)
        self.density_weight = float(density_weight)
        self.layers = tuple(layers)
        if not self.layers:
            msg = "PatchCore needs at least one backbone stage in layers"
            raise ValueError(msg)
        variant = getattr(backbone, "variant", DEFAULT_VARIANT)
        self.dim = feature_dim(self.layers, variant)
        self.global_stage = global_stage
        self.global_dim = (
            global_dim(global_stage, variant, global_grid) if global_stage is not None else 0
        )
        self.normalisation = normalisation
        self.backbone = backbone.eval().requires_grad_(False)
        self.max_distance_elements = max_distance_elements
        self.sigma = float(sigma)
        if not 0.0 <= score_top_fraction < 1.0:
            msg = f"score_top_fraction must be in [0, 1), got {score_top_fraction}"
            raise ValueError(msg)
        self.score_top_fraction = float(score_top_fraction)
        self.register_buffer("kernel", gaussian_kernel(sigma) if sigma > 0 else torch.ones(1))
        self.register_buffer("memory_bank", torch.empty(0, self.dim))
        self.register_buffer("bank_sq", torch.empty(0))
        self.register_buffer("global_bank", torch.empty(0, self.global_dim))
        self.register_buffer("global_mean", torch.zeros(self.global_dim))
        self.register_buffer("global_std", torch.ones(self.global_dim))
        self.register_buffer("row_scale", torch.empty(0))
        self.register_buffer("row_scale_mean", torch.zeros(()))
        if memory_bank is not None:
            self.set_memory_bank(memory_bank)
        if global_bank is not None:
            self.set_global_bank(global_bank)
        if localisation_head is not None and localisation_head.dim != self.dim:
            msg = (
                f"the localisation head reads {localisation_head.dim}-wide features, these "
                f"layers give {self.dim}: refit the model"
            )
            raise ValueError(msg)
        self.localisation_head = (
            None if localisation_head is None else localisation_head.eval().requires_grad_(False)
        )

    def train(self, mode: bool = True) -> PatchCore:
        """Keep the backbone (and a localisation head) in eval mode: their batch-norm
        statistics are fixed (ImageNet's; the head's from its teaching)."""
        super().train(mode)
        if self.localisation_head is not None:
            self.localisation_head.eval()
        self.backbone.eval()
        return self

    def set_memory_bank(self, memory_bank: torch.Tensor) -> None:
        """Install good-patch features ``(M, D)`` (stored float32, on this module's device)."""
        if memory_bank.ndim != 2 or memory_bank.shape[1] != self.dim or memory_bank.shape[0] == 0:
            msg = (
                f"memory bank has shape {tuple(memory_bank.shape)}, expected (M, {self.dim}) "
                f"with M >= 1 for layers {self.layers}: refit the model"
            )
            raise ValueError(msg)
        bank = memory_bank.to(device=self.kernel.device, dtype=torch.float32).contiguous()
        self.memory_bank = bank
        self.bank_sq = (bank * bank).sum(dim=1)
        self._measure_rows()

    def set_global_bank(self, descriptors: torch.Tensor) -> None:
        """Install good-image descriptors ``(G, 2 C)`` for the image-level branch.

        Distances are taken after standardising each descriptor component by
        the bank's own mean and spread, so channels with large activations do
        not drown the rest; the statistics come from the bank itself, so a
        package needs to store nothing else.
        """
        if self.global_stage is None:
            msg = "this PatchCore has no image-level branch (global_stage is None)"
            raise ValueError(msg)
        if descriptors.ndim != 2 or descriptors.shape[1] != self.global_dim:
            msg = (
                f"image descriptor bank has shape {tuple(descriptors.shape)}, expected "
                f"(G, {self.global_dim}) for stage {self.global_stage}: refit the model"
            )
            raise ValueError(msg)
        if descriptors.shape[0] < 2:
            msg = "the image-level branch needs descriptors of at least 2 good images"
            raise ValueError(msg)
        bank = descriptors.to(device=self.kernel.device, dtype=torch.float32)
        self.global_mean = bank.mean(dim=0)
        self.global_std = bank.std(dim=0).clamp_min(1e-6)
        self.global_bank = ((bank - self.global_mean) / self.global_std).contiguous()
        self._measure_rows()

    def _measure_rows(self) -> None:
        """Each gallery row's spacing, once both banks are in (density weight > 0 only)."""
        images, rows = self.global_bank.shape[0], self.memory_bank.shape[0]
        if not self.density_weight or not images or not rows or rows % images:
            self.row_scale = torch.empty(0, device=self.kernel.device)
            return
        between = torch.cdist(self.global_bank, self.global_bank)
        self.row_scale = row_scales(self.memory_bank, between, self.retrieval_k)
        self.row_scale_mean = self.row_scale.mean()

    @property
    def evens_map(self) -> bool:
        """Whether the map is evened by gallery-row spacing (see :meth:`evened`)."""
        return bool(self.density_weight) and self.row_scale.numel() > 0

    @property
    def locates_apart(self) -> bool:
        """Whether the model returns a localisation map beside the plain one (it evens
        its map, or has a localisation head)."""
        return self.evens_map or self.localisation_head is not None

    def evened(self, cells: torch.Tensor, spacing: torch.Tensor) -> torch.Tensor:
        """Patch distances less ``density_weight`` of how much wider than average the
        matched good row's spacing is: the map shows what stands out from its own kind
        of surroundings. Centred on the average spacing, so the map keeps the plain
        distances' units (and the threshold's after normalisation) on average."""
        return cells - self.density_weight * (spacing - self.row_scale_mean)

    def to_map(self, cells: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """Patch distances ``(N, 1, h, w)`` as smoothed maps ``(N, *size)``, normalised."""
        maps = upsample_and_smooth(cells, (int(size[0]), int(size[1])), self.kernel)
        norm = self.normalisation
        return maps if norm is None else (maps - norm.patch_centre) / norm.patch_scale

    @property
    def stride(self) -> int:
        """Input pixels per map cell at feature resolution."""
        return stage_stride(self.layers[0])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch features ``(N, D, h, w)`` of normalised images ``(N, 3, S, S)``."""
        return self.embed_all(x)[0]

    def embed_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Patch features ``(N, D, h, w)`` and image descriptors ``(N, 2 C)`` (or ``None``).

        One backbone pass serves both branches. Each patch stage's output is
        averaged over a 3x3 neighbourhood (so a patch vector describes its
        surroundings, which makes it robust to small shifts) and resized to the
        first stage's resolution before concatenation. The image descriptor
        comes from the global stage (:func:`~inspector.ml.image_descriptor.describe`).
        """
        stages = self.layers if self.global_stage is None else (*self.layers, self.global_stage)
        outputs = self.backbone.features(x, stages)
        descriptors = None
        if self.global_stage is not None:
            descriptors = describe(outputs[-1], self.global_grid)
        return self._patch_features(outputs[: len(self.layers)]), descriptors

    def _patch_features(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        size = maps[0].shape[-2:]
        parts = []
        for feature in maps:
            feature = F.avg_pool2d(feature, 3, stride=1, padding=1, count_include_pad=False)
            if feature.shape[-2:] != size:
                feature = F.interpolate(feature, size=size, mode="bilinear", align_corners=False)
            parts.append(feature)
        return torch.cat(parts, dim=1)

    def patch_features(self, x: torch.Tensor) -> torch.Tensor:
        """Patch features as rows ``(N * h * w, D)``, for filling a memory bank."""
        return self.embed(x).permute(0, 2, 3, 1).reshape(-1, self.dim)

    def nearest_distance(self, patches: torch.Tensor) -> torch.Tensor:
        """Euclidean distance of each row of ``patches`` ``(P, D)`` to its nearest bank row.

        Computed in float32 as ``|a|^2 - 2 a.b + |b|^2`` in blocks of rows, taking
        the minimum before the square root; autocast is switched off because
        float16 cancellation in that sum would swamp small distances.
        """
        if self.memory_bank.shape[0] == 0:
            msg = "this PatchCore has an empty memory bank: fit it before scoring images"
            raise RuntimeError(msg)
        with torch.autocast(device_type=patches.device.type, enabled=False):
            patches = patches.float()
            rows = max(1, self.max_distance_elements // self.memory_bank.shape[0])
            out = torch.empty(patches.shape[0], device=patches.device)
            bank_t = self.memory_bank.t()
            for start in range(0, patches.shape[0], rows):
                block = patches[start : start + rows]
                d2 = torch.addmm(self.bank_sq, block, bank_t, alpha=-2.0)
                out[start : start + rows] = d2.amin(dim=1) + (block * block).sum(dim=1)
        return out.clamp_min_(0.0).sqrt_()

    def global_distance(self, descriptors: torch.Tensor) -> torch.Tensor:
        """Distance ``(N,)`` of each image descriptor to the nearest good image's."""
        return self.global_distances(descriptors).amin(dim=1)

    def global_distances(self, descriptors: torch.Tensor) -> torch.Tensor:
        """Distance ``(N, G)`` of each image descriptor to every good image's."""
        if self.global_bank.shape[0] == 0:
            msg = "this PatchCore's image-level branch is empty: fit it before scoring images"
            raise RuntimeError(msg)
        query = (descriptors.float() - self.global_mean) / self.global_std
        bank_sq = (self.global_bank * self.global_bank).sum(dim=1)
        d2 = torch.addmm(bank_sq, query, self.global_bank.t(), alpha=-2.0)
        d2 = d2 + (query * query).sum(dim=1, keepdim=True)
        return d2.clamp_min(0.0).sqrt()

    def global_leave_one_out(self) -> torch.Tensor:
        """Distance ``(G,)`` of each bank image to its nearest *other* bank image.

        How far a new good part typically lands from the bank, measured on
        every training image rather than only the few held out, for
        normalising the image-level branch.
        """
        bank = self.global_bank
        d2 = torch.cdist(bank, bank).square_()
        d2.fill_diagonal_(float("inf"))
        return d2.amin(dim=1).sqrt()

    def forward(
        self, x: torch.Tensor, exclude: torch.Tensor | None = None, *, locate: bool = True
    ) -> PatchCoreOutput:
        """Score normalised images ``(N, 3, S, S)``.

        ``locate`` false skips the localisation maps (evened, localisation head):
        a line judges the plain map only, so it need not pay for them.

        ``exclude`` ``(N,)`` names, for a retrieval model, one good image of the
        banks each image is not compared with (itself, when fitting calibrates
        on images already in the banks; -1 for none).

        Returns:
            Image scores ``(N,)``, smoothed maps ``(N, S, S)`` and each branch's
            score, all float32; without normalisation the units are
            feature-space distances, with it standard deviations above held-out
            good parts. Either way they compare across images of one model.
        """
        features, descriptors = self.embed_all(x)
        n, _, h, w = features.shape
        rows = features.permute(0, 2, 3, 1).reshape(-1, self.dim)
        # Distances, resizing and smoothing stay float32 under CUDA autocast: scores are
        # compared with a threshold, and float16 would round them to 3 significant digits.
        with torch.autocast(device_type=x.device.type, enabled=False):
            global_scores = spacing = None
            if self.retrieval_k and descriptors is not None:
                image_distances = self.image_distances(descriptors, exclude)
                global_scores = image_distances.amin(dim=1)
                cells, spacing = retrieval_in_blocks(
                    rows.float().view(n, h * w, -1),
                    image_distances,
                    self.memory_bank,
                    self.retrieval_k,
                    self.max_distance_elements,
                    self.row_scale if self.evens_map and locate else None,
                )
            else:
                cells = self.nearest_distance(rows)
                if descriptors is not None:
                    global_scores = self.global_distance(descriptors)
            grid, size = (h, w), x.shape[-2:]
            output = self.from_cells(
                cells.view(n, -1),
                spacing,
                global_scores,
                grid,
                size,
                self.head_cells(features) if locate else None,
            )
        return output._replace(descriptors=descriptors)

    def head_cells(self, features: torch.Tensor) -> torch.Tensor | None:
        """The localisation head's logits ``(N, 1, h, w)`` of patch features, or ``None``."""
        if self.localisation_head is None:
            return None
        return self.localisation_head(features)

    def image_distances(
        self, descriptors: torch.Tensor, exclude: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:meth:`global_distances`, each row's ``exclude`` image (when >= 0) out of reach."""
        distances = self.global_distances(descriptors)
        return distances if exclude is None else without(distances, exclude)

    def from_cells(
        self,
        cells: torch.Tensor,
        spacing: torch.Tensor | None,
        global_scores: torch.Tensor | None,
        grid: tuple[int, int],
        size: Sequence[int],
        head_cells: torch.Tensor | None = None,
    ) -> PatchCoreOutput:
        """Maps and scores from each patch's distance ``(N, h * w)``, the matched rows'
        spacing (or ``None``), the raw image-level distances (or ``None``) and the
        localisation head's logits (:meth:`head_cells`, or ``None``).

        Everything after the distances, shared with the export form so both
        compute the same. The image score and the maps the sorting rule judges
        stay plain (a score from the evened map cost escapes at 1 % false rejects
        on magnetic-tile: 5.1 % -> 16.9 %, and the threshold is set on the plain
        score); the evened maps, with ``spacing``, only locate, and so does the
        localisation head's map, added to them (or to the plain map without them).
        """
        n = cells.shape[0]
        maps = self.to_map(cells.view(n, 1, *grid), size)
        patch_scores = self.image_scores(maps)
        located = None
        if spacing is not None:
            located = self.to_map(self.evened(cells, spacing).view(n, 1, *grid), size)
        if head_cells is not None and self.localisation_head is not None:
            located = (maps if located is None else located) + self.head_map(head_cells, size)
        scores = patch_scores
        norm = self.normalisation
        if global_scores is not None and norm is not None:
            global_scores = (global_scores - norm.global_centre) / norm.global_scale
            scores = torch.maximum(patch_scores, global_scores)
        return PatchCoreOutput(scores, maps, patch_scores, global_scores, localisation_maps=located)

    def head_map(self, head_cells: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """The head's logits as a smoothed map ``(N, *size)`` on the distance map's footing."""
        head = self.localisation_head
        if head is None:
            msg = "this PatchCore has no localisation head"
            raise RuntimeError(msg)
        smooth = upsample_and_smooth(head_cells.float(), (int(size[0]), int(size[1])), self.kernel)
        return head.scale * (smooth - head.centre)

    def image_scores(self, maps: torch.Tensor) -> torch.Tensor:
        """Image scores ``(N,)`` of smoothed maps ``(N, H, W)`` (:func:`top_fraction_mean`)."""
        return top_fraction_mean(maps, self.score_top_fraction)


def check_input_size(input_size: int, layers: Sequence[int]) -> None:
    """Refuse input sizes too small for the deepest stage to see more than one cell.

    Raises:
        ValueError: naming the smallest size that works.
    """
    deepest = max(stage_stride(stage) for stage in layers)
    smallest = 2 * deepest
    if input_size < smallest or input_size % 8:
        msg = (
            f"input size {input_size} does not suit layers {tuple(layers)}: use a multiple "
            f"of 8 of at least {smallest} (224 is the backbone's native size)"
        )
        raise ValueError(msg)
