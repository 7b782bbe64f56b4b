"""The evaluation report's per-class figures and score chart, on hand-made results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.core.verdict import Verdict
from inspector.reports.evaluation_report import (
    pixel_auroc_by_class,
    summarize,
    verdicts_by_class,
)
from inspector.reports.score_distribution import (
    class_order,
    draw_score_distribution,
    save_score_distribution,
)
from inspector.training.evaluate import EvaluatedImage


def _image(cls: str, score: float, verdict: Verdict, amap=None, mask=None) -> EvaluatedImage:
    amap = np.zeros((2, 2), np.float32) if amap is None else np.asarray(amap, np.float32)
    mask = None if mask is None else np.asarray(mask, bool)
    path = Path(f"{cls}-{score}.png")
    return EvaluatedImage(path, cls, score, verdict, (), 1.0, amap.shape, amap, mask)


def test_verdicts_are_counted_per_class_good_first() -> None:
    images = [
        _image("scratch", 3.0, Verdict.REJECT),
        _image("good", 0.1, Verdict.ACCEPT),
        _image("dent", 0.5, Verdict.ACCEPT),
        _image("good", 2.5, Verdict.REVIEW),
        _image("scratch", 2.0, Verdict.REVIEW),
        _image("scratch", 0.2, Verdict.ACCEPT),
    ]
    table = verdicts_by_class(images)
    assert list(table) == ["good", "dent", "scratch"]
    assert table["good"] == {"accept": 1, "reject": 0, "review": 1}
    assert table["dent"] == {"accept": 1, "reject": 0, "review": 0}
    assert table["scratch"] == {"accept": 1, "reject": 1, "review": 1}
    summary = summarize(images, 2.0)
    assert summary.verdicts_by_class == table
    # 1 of 2 good parts not accepted, 2 of 4 defective parts accepted, with their intervals.
    assert (summary.false_reject_interval.events, summary.false_reject_interval.trials) == (1, 2)
    assert (summary.escape_interval.events, summary.escape_interval.trials) == (2, 4)
    assert summary.escape_interval.low < 0.5 < summary.escape_interval.high


def test_pixel_auroc_per_class_against_defect_free_pixels() -> None:
    empty = np.zeros((2, 2), bool)
    # good: pixels 0.1 0.2 0.3 0.4; "dent": defect pixel 0.35 among own pixels 0.0.
    good = _image("good", 0.0, Verdict.ACCEPT, [[0.1, 0.2], [0.3, 0.4]], empty)
    dent = _image(
        "dent",
        1.0,
        Verdict.REJECT,
        [[0.35, 0.0], [0.0, 0.0]],
        [[1, 0], [0, 0]],
    )
    # "chip": its one defect pixel outranks everything.
    chip = _image("chip", 1.0, Verdict.REJECT, [[0.0, 0.0], [0.0, 0.9]], [[0, 0], [0, 1]])
    unmasked = _image("crack", 1.0, Verdict.REJECT, [[1.0, 1.0], [1.0, 1.0]], empty)
    figures = pixel_auroc_by_class([good, dent, chip, unmasked])
    # dent's 0.35 outranks its own three 0.0 and good's 0.1 0.2 0.3, not 0.4: 6 of 7.
    assert figures == {"chip": pytest.approx(1.0), "dent": pytest.approx(6 / 7)}


def test_class_order_puts_good_first() -> None:
    assert class_order(["b", "good", "a", "b"]) == ["good", "a", "b"]
    assert class_order(["b", "a"]) == ["a", "b"]


def test_the_score_chart_is_written_and_refuses_mismatched_input(tmp_path: Path) -> None:
    fig = draw_score_distribution(
        [0.1, 0.2, float("nan"), 3.0], ["good", "good", "dent", "dent"], 1.0, [("1 %", 0.5)]
    )
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["good (2)", "dent (2)"]
    save_score_distribution(fig, tmp_path / "scores.png")
    assert (tmp_path / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="one class per score"):
        draw_score_distribution([0.1], ["good", "dent"], 1.0)


def test_the_page_states_nested_settings_readably() -> None:
    from inspector.reports.evaluation_rows import _settings

    stated = {"global_branch": {"stage": 4}, "retrieval": {"k": 10, "density_weight": 0.5}}
    assert _settings(stated) == "global_branch (stage 4), retrieval (k 10, density_weight 0.5)"
    assert _settings({"scale": 6.706089242756044}) == "scale 6.706"


def test_example_overlays_draw_the_map_the_defects_came_from(tmp_path: Path) -> None:
    import cv2

    from inspector.reports.evaluation_report import render_example

    path = tmp_path / "part.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 120, np.uint8))
    hot = np.zeros((16, 16), np.float16)
    hot[6:10, 6:10] = 3.0  # three times the threshold, in the middle
    flat = np.zeros((64, 64), np.float32)  # the localisation map: nothing there
    item = EvaluatedImage(path, "dent", 3.0, Verdict.REJECT, (), 1.0, (64, 64), flat, None, hot)
    scene = render_example(item, threshold=1.0)
    without = render_example(
        EvaluatedImage(path, "dent", 3.0, Verdict.REJECT, (), 1.0, (64, 64), flat, None, None),
        threshold=1.0,
    )
    # Same banner and size; only the overlay map's hot middle is painted.
    assert scene.shape == without.shape
    assert np.abs(scene.astype(int) - without.astype(int)).sum(axis=2).max() > 60
