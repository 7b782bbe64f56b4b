"""Running a segmenter package on images: probability maps at each image's own size.

The one inference path for segmenters: training's final validation figures,
``predict`` and a station all call :meth:`SegmenterInferencer.probability_maps`.
It also satisfies the station's ``Scorer`` protocol
(:class:`inspector.pipeline.station.Scorer`): :meth:`SegmenterInferencer.predict`
gives one :class:`~inspector.core.inspection.ModelOutput` per image whose map
is the highest defect probability per pixel and whose score is that map's
maximum, with :attr:`SegmenterInferencer.default_threshold` 0.5; so
``inspector.decision`` turns it into regions and boxes exactly as it does an
anomaly map. Like every model, it returns probabilities, never verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from inspector.core.inspection import ModelOutput
from inspector.ml.device import device_name, inference_context, select_device
from inspector.ml.preprocess import preprocess
from inspector.ml.segmenter import DefectSegmenter
from inspector.ml.segmenter_boxes import DetectedBox, boxes_from_maps
from inspector.ml.segmenter_package import SegmenterPackage, load_segmenter_package


class SegmenterInferencer:
    """Segments images with a segmenter package on one device.

    Not thread-safe: one worker owns it (and the device).

    Args:
        package: A loaded package, or the directory of one.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        max_batch: Most images per forward pass; bounds device memory.

    Raises:
        ModelPackageError: the directory is not a valid segmenter package.
        ValueError: ``max_batch`` is below 1 or ``device`` is not valid.
    """

    def __init__(
        self, package: SegmenterPackage | str | Path, device: str = "auto", max_batch: int = 8
    ) -> None:
        if max_batch < 1:
            msg = f"max_batch must be at least 1, got {max_batch}"
            raise ValueError(msg)
        if not isinstance(package, SegmenterPackage):
            package = load_segmenter_package(package)
        self.package = package
        self.device = select_device(device)
        self.max_batch = max_batch
        model = DefectSegmenter(len(package.outputs))
        model.load_state_dict(dict(package.state_dict), strict=True)
        model.eval()
        model.backbone.fuse_batchnorm()
        self._model = model.to(self.device, memory_format=torch.channels_last)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the output maps, in order."""
        return self.package.outputs

    @property
    def version(self) -> str:
        """Version string of the package in use."""
        return self.package.version

    @property
    def device_label(self) -> str:
        """Where inference runs, named for people."""
        return device_name(self.device)

    @property
    def default_threshold(self) -> float:
        """Probability a pixel needs to count as defect (the package's, 0.5 by default)."""
        return self.package.default_threshold

    def probability_maps(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``float32`` maps ``(outputs, H, W)`` in [0, 1], each at its image's own size.

        Raises:
            ValueError: no images, or one is not an RGB ``uint8`` array.
        """
        if len(images) == 0:
            msg = "no images to segment: pass at least one"
            raise ValueError(msg)
        p = self.package
        maps: list[np.ndarray] = []
        for start in range(0, len(images), self.max_batch):
            chunk = images[start : start + self.max_batch]
            batch = preprocess(chunk, p.input_size, p.mean, p.std)
            batch = batch.to(self.device, memory_format=torch.channels_last)
            with inference_context(self.device):
                probabilities = torch.sigmoid(self._model(batch).float()).cpu().numpy()
            for image, square in zip(chunk, probabilities, strict=True):
                height, width = image.shape[:2]
                maps.append(
                    np.stack(
                        [
                            cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
                            for m in square
                        ]
                    )
                )
        return maps

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """One ``ModelOutput`` per image: the highest probability per pixel, and its maximum.

        Raises:
            ValueError: no images, or one is not an RGB ``uint8`` array.
        """
        outputs = []
        for maps in self.probability_maps(images):
            peak = maps.max(axis=0).astype(np.float32)
            outputs.append(ModelOutput(score=float(peak.max()), anomaly_map=peak))
        return outputs

    def boxes(self, images: Sequence[np.ndarray]) -> list[list[DetectedBox]]:
        """The detected boxes of each image (connected regions at the default threshold).

        Raises:
            ValueError: no images, or one is not an RGB ``uint8`` array.
        """
        return [
            boxes_from_maps(maps, self.outputs, self.default_threshold)
            for maps in self.probability_maps(images)
        ]
