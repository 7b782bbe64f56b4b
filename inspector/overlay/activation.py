"""A class-activation map (Grad-CAM) blended over the part it explains.

The anomaly heat map (:mod:`inspector.overlay.heatmap`) is measured against
the decision threshold; a class-activation map has no threshold, only
"where the evidence for this class is strongest" on a 0..1 scale
(:mod:`inspector.ml.grad_cam`). So this annotator leaves the weakest fifth
untouched (every image has *some* evidence somewhere, and tinting all of it
hides the part) and lets colour and opacity grow with the evidence, so the
cells that made the class stand out and the rest of the part stays readable.
"""

from __future__ import annotations

import cv2
import numpy as np


def blend_activation(
    image: np.ndarray,
    heat: np.ndarray,
    *,
    alpha: float = 0.55,
    low: float = 0.2,
    colormap: int = cv2.COLORMAP_JET,
) -> np.ndarray:
    """A new RGB image: ``image`` with ``heat`` (values in [0, 1]) blended over it.

    Args:
        image: RGB ``uint8`` ``(H, W, 3)``.
        heat: ``(h, w)`` map in [0, 1]; resized to the image when sizes differ.
        alpha: Blend weight where the map is 1.
        low: Map values at or below this leave the image untouched.
        colormap: An OpenCV colour map id.

    Raises:
        ValueError: the image is not RGB ``uint8``, the map is not 2-D, or
            ``alpha``/``low`` are out of range.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        msg = f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}"
        raise ValueError(msg)
    if heat.ndim != 2 or heat.size == 0:
        msg = f"the activation map must be a 2-D array, got shape {heat.shape}"
        raise ValueError(msg)
    if not 0.0 <= alpha <= 1.0 or not 0.0 <= low < 1.0:
        msg = f"need 0 <= alpha <= 1 and 0 <= low < 1, got alpha={alpha}, low={low}"
        raise ValueError(msg)
    height, width = image.shape[:2]
    level = np.clip(np.nan_to_num(heat.astype(np.float32)), 0.0, 1.0)
    if level.shape != (height, width):
        level = cv2.resize(level, (width, height), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.rint(level * 255).astype(np.uint8), colormap)
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)  # colour maps come out BGR
    weight = np.clip((level - low) / (1.0 - low), 0.0, 1.0) * np.float32(alpha)
    return cv2.blendLinear(colours, np.ascontiguousarray(image), weight, 1.0 - weight)
