"""Training progress as JSON lines: what the CLI writes is what the GUI reads back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspector.training.progress_lines import (
    TrainingCurves,
    parse_progress_line,
    progress_line,
    saved_line,
)

EPOCH_END = {
    "stage": "epoch",
    "phase": "head",
    "train_loss": np.float32(0.5),
    "train_accuracy": 0.75,
    "val_loss": 0.625,
    "val_accuracy": 0.5,
    "val_macro_f1": math.nan,  # not computable yet: must arrive as None, not NaN
    "best_epoch": 3,
    "seconds": 1.25,
}


def test_an_epoch_end_round_trips_with_nan_as_none_and_feeds_the_curves() -> None:
    line = progress_line(3, 5, 5, EPOCH_END)
    assert "NaN" not in line and "\n" not in line
    event = parse_progress_line(line + "\n")
    assert event is not None
    assert (event.event, event.stage, event.epoch, event.step, event.total) == (
        "progress",
        "epoch",
        3,
        5,
        5,
    )
    assert event.metrics["train_loss"] == 0.5
    assert event.metrics["val_macro_f1"] is None
    assert event.fraction == 1.0
    assert event.describe() == "epoch 3 (head): loss 0.5000"

    curves = TrainingCurves()
    assert curves.add(event)
    assert curves.epochs == [3] and curves.phases == ["head"]
    assert curves.values["val_loss"] == [0.625]
    assert math.isnan(curves.values["val_macro_f1"][0])


def test_steps_of_other_stages_move_the_bar_but_not_the_curves() -> None:
    event = parse_progress_line(progress_line(0, 6, 18, {"stage": "read"}))
    assert event is not None
    assert event.describe() == "reading images: 6/18"
    assert event.fraction == pytest.approx(1 / 3)
    assert not TrainingCurves().add(event)


def test_the_saved_line_names_the_package_and_its_version() -> None:
    event = parse_progress_line(saved_line("/models/cls", "cls-20260101-abcd"))
    assert event is not None and event.event == "saved"
    assert event.metrics == {"package": "/models/cls", "version": "cls-20260101-abcd"}
    assert event.describe() == "saved model cls-20260101-abcd to /models/cls"


@pytest.mark.parametrize(
    "line",
    ["saved model x to /tmp/x", "", "{not json", '{"event": "something else"}', "[1, 2]"],
)
def test_other_lines_are_text_to_show_not_progress(line: str) -> None:
    assert parse_progress_line(line) is None


def test_a_malformed_progress_line_says_the_versions_disagree() -> None:
    with pytest.raises(ValueError, match="different versions"):
        parse_progress_line('{"event": "progress", "epoch": "three"}')
