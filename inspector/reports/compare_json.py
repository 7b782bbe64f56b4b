"""Reading a written ``compare.json`` back: the verdict, the key figures side by side, and
what a promotion records.

The GUI runs ``inspector compare`` in a child process and learns its outcome
from the file it wrote, the same file a promotion from the command line
cites; so the GUI shows and records exactly what the report says.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.reports.compare_report import SCHEMA
from inspector.reports.figure_text import number_or_na, percent_or_na

BULKY_KEYS = ("images", "roc", "disagreements")
"""Parts of the report too big for a deployment record (they stay in the report folder)."""
CLASSIFY = "classify"
NOT_A_PRODUCTION_MODEL = (
    "is a defect classifier: shadow runs are for a station's anomaly model; a classifier "
    "runs beside it (promote it with 'inspector model promote', or name it by "
    "[model] classifier in the station file)"
)
"""Why a classifier is refused as a station's shadow model."""


@dataclass(frozen=True)
class CompareOutcome:
    """A comparison as read from its report folder.

    Attributes:
        folder: The report folder (``compare.json``, ``compare.html``).
        verdict: ``better``, ``worse``, ``mixed`` or ``same``.
        reasons: One phrase per figure that differs.
        new_version / baseline_version: The two models' versions.
        new_dir: The candidate package's folder, as compared.
        data: The parsed file.
    """

    folder: Path
    verdict: str
    reasons: tuple[str, ...]
    new_version: str
    baseline_version: str
    new_dir: Path
    data: dict[str, Any]

    @property
    def task(self) -> str:
        """``classify`` for two classifiers, ``anomaly`` for two anomaly models."""
        return str(self.data.get("task", "anomaly"))

    @property
    def html(self) -> Path:
        """The report page."""
        return self.folder / "compare.html"

    def verdict_line(self) -> str:
        """The line ``inspector compare`` prints: ``better: NEW vs OLD: why``."""
        why = "; ".join(self.reasons) if self.reasons else "no figure differs"
        return f"{self.verdict}: {self.new_version} vs {self.baseline_version}: {why}"

    def key_figures(self) -> list[tuple[str, str, str]]:
        """``(figure, candidate, production)`` rows of what decides a promotion."""
        new, old = self.data["new"]["metrics"], self.data["baseline"]["metrics"]
        if self.task == CLASSIFY:
            return _classifier_figures(new, old)
        rows = [
            (
                "image AUROC",
                number_or_na(new.get("image_auroc")),
                number_or_na(old.get("image_auroc")),
            ),
            (
                "escape rate",
                percent_or_na(new.get("escape_rate")),
                percent_or_na(old.get("escape_rate")),
            ),
            (
                "false-reject rate",
                percent_or_na(new.get("false_reject_rate")),
                percent_or_na(old.get("false_reject_rate")),
            ),
        ]
        for ours, theirs in zip(
            new.get("operating_points", []), old.get("operating_points", []), strict=False
        ):
            rows.append(
                (
                    f"escapes at {percent_or_na(ours['false_reject_rate'])} false rejects",
                    percent_or_na(ours["escape_rate"]),
                    percent_or_na(theirs["escape_rate"]),
                )
            )
        for name in new.get("escape_by_class", {}):
            rows.append(
                (
                    f"escapes: {name}",
                    percent_or_na(new["escape_by_class"].get(name)),
                    percent_or_na(old.get("escape_by_class", {}).get(name)),
                )
            )
        rows.append(
            (
                "inference per image",
                _ms(new.get("latency_ms_mean")),
                _ms(old.get("latency_ms_mean")),
            )
        )
        return rows

    def promotion_metrics(self) -> dict[str, Any]:
        """What a promotion based on this comparison records (the report less its bulk)."""
        return {key: value for key, value in self.data.items() if key not in BULKY_KEYS}


def read_compare_report(folder: str | Path) -> CompareOutcome:
    """Read ``FOLDER/compare.json``.

    Raises:
        ValueError: the file is missing, unreadable or not a comparison report.
    """
    path = Path(folder) / "compare.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"cannot read the comparison {path}: {exc}; run the comparison again"
        raise ValueError(msg) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        msg = f"{path} is not a comparison report ({SCHEMA!r} expected, found {found!r})"
        raise ValueError(msg)
    try:
        return CompareOutcome(
            folder=Path(folder),
            verdict=str(data["verdict"]),
            reasons=tuple(data["reasons"]),
            new_version=str(data["new"]["version"]),
            baseline_version=str(data["baseline"]["version"]),
            new_dir=Path(data["new"]["dir"]),
            data=data,
        )
    except (KeyError, TypeError) as exc:
        msg = f"{path} lacks {exc}: it was not written by 'inspector compare'; run it again"
        raise ValueError(msg) from exc


def _classifier_figures(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = [
        (label, percent_or_na(new.get(key)), percent_or_na(old.get(key)))
        for label, key in (
            ("accuracy", "accuracy"),
            ("good-vs-defect accuracy", "good_vs_defect_accuracy"),
            ("defect-class accuracy", "defect_class_accuracy"),
            ("escape rate", "escape_rate"),
            ("false-reject rate", "false_reject_rate"),
        )
    ]
    for name, figures in new.get("per_class", {}).items():
        theirs = old.get("per_class", {}).get(name) or {}
        rows.append(
            (
                f"recall: {name}",
                percent_or_na(figures.get("recall")),
                percent_or_na(theirs.get("recall")),
            )
        )
    rows.append(
        ("inference per image", _ms(new.get("latency_ms_mean")), _ms(old.get("latency_ms_mean")))
    )
    return rows


def _ms(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.1f} ms"
