"""What a model found on a part, and what was decided about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from inspector.core.verdict import Verdict

if TYPE_CHECKING:
    from inspector.core.frame import Frame


@dataclass(frozen=True, eq=False)
class Defect:
    """One defect region on a part.

    Attributes:
        kind: Class name (``anomaly`` when an anomaly model found it without a class).
        confidence: 0..1, how sure the finder is.
        box: ``(x, y, w, h)`` in image pixels.
        area_px: Number of defect pixels.
        contour: Outline as an ``(N, 2)`` int32 array of ``(x, y)`` points, if known.
    """

    kind: str
    confidence: float
    box: tuple[int, int, int, int]
    area_px: int
    contour: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ModelOutput:
    """Raw result of an anomaly model on one image: scores, never verdicts.

    Attributes:
        score: Image anomaly score (max of the smoothed map); higher is worse.
        anomaly_map: ``float32`` map with the input image's height and width:
            the map the score comes from and the sorting rule judges (defect
            regions, zones).
        class_probabilities: Whole-image class probabilities from a defect
            classifier run beside the anomaly model (class name to probability),
            or ``None`` when the station has no classifier. Raw, like the score:
            which class a defect gets is decided in ``inspector.decision``.
        localisation_map: A map of the same size that locates defects better but is
            not on the threshold's footing (an anomaly model with a density
            weight evens busy and plain areas), so it is never judged nor drawn
            against the threshold; ``None``: see :attr:`map_for_localisation`.
    """

    score: float
    anomaly_map: np.ndarray
    class_probabilities: Mapping[str, float] | None = None
    localisation_map: np.ndarray | None = None

    @property
    def map_for_localisation(self) -> np.ndarray:
        """The map that says best *where* a defect is (``predict --maps``, pixel
        AUROC and AUPRO in ``evaluate``): :attr:`localisation_map` when there is
        one, else :attr:`anomaly_map`."""
        return self.anomaly_map if self.localisation_map is None else self.localisation_map


@dataclass(frozen=True, eq=False)
class Inspection:
    """The full result for one part: what was seen, found and decided.

    Attributes:
        frame: The frame inspected.
        verdict: What the gate does with the part.
        score: Image anomaly score (``nan`` when the part was not inspected).
        threshold: Threshold in force when the decision was made (stored with the record).
        defects: Regions found on the part.
        anomaly_map: The map the defects were cut from (the model output's
            plain ``anomaly_map``, drawn against the threshold), or ``None``.
        model_version: Version string of the model that scored the part.
        rules_version: Version string of the decision rules applied.
        inference_ms: Model time for this part's batch, per part.
        latency_ms: Acquisition to decision.
        error: Why the part was not inspected normally (fail-safe), else ``None``.
        grey_levels: Mean and spread (standard deviation) of the frame's grey
            levels, 0-255, as the lighting check measures them
            (:mod:`inspector.ml.lighting`); ``None`` when not measured.
    """

    frame: Frame
    verdict: Verdict
    score: float
    threshold: float
    defects: tuple[Defect, ...]
    anomaly_map: np.ndarray | None
    model_version: str
    rules_version: str
    inference_ms: float
    latency_ms: float
    error: str | None = None
    grey_levels: tuple[float, float] | None = None


@dataclass(frozen=True, eq=False)
class ShadowVerdict:
    """What a candidate model running in shadow made of a part; it drives nothing.

    Production's :class:`Inspection` decided the part and went to the gate
    first; this is stored beside it so that the two models can be compared on
    the same live parts before the candidate is promoted.

    Attributes:
        inspection: Production's result for the part (links the two in storage).
        model_version: Version of the shadow model.
        verdict: What the shadow's rules made of its score; ``None`` when the
            part was not shadowed (see ``error``).
        score: The shadow model's image score (``nan`` when not shadowed).
        threshold: The shadow's threshold (``nan`` when not shadowed).
        inference_ms: Shadow model time per part of its batch.
        error: Why the part was not shadowed (shadow behind, model failed, no image).
    """

    inspection: Inspection
    model_version: str
    verdict: Verdict | None
    score: float
    threshold: float
    inference_ms: float
    error: str | None = None
