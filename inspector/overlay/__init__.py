"""Drawing inspections for people: one small annotator per thing drawn (numpy/OpenCV only)."""

from inspector.overlay.banner import BannerAnnotator, banner_text
from inspector.overlay.base import Annotator
from inspector.overlay.boxes import BoxAnnotator
from inspector.overlay.compose import render_overlay
from inspector.overlay.contours import ContourAnnotator
from inspector.overlay.heatmap import HeatMapAnnotator

__all__ = [
    "Annotator",
    "BannerAnnotator",
    "BoxAnnotator",
    "ContourAnnotator",
    "HeatMapAnnotator",
    "banner_text",
    "render_overlay",
]
