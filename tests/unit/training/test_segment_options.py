"""`inspector train --task segment|detect`'s options reach SegmentConfig, defaults included."""

from __future__ import annotations

import argparse

import pytest

from inspector.cli_train import _config, _segment_config, add_train_commands
from inspector.training.classifier_config import TrainConfig
from inspector.training.segment_config import SegmentConfig


def _parse(task: str, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_commands(parser.add_subparsers())
    return parser.parse_args(["train", "--data", "d", "--task", task, "--out", "o", *extra])


def test_segment_defaults_are_the_config_defaults_and_options_reach_fields() -> None:
    assert _segment_config(_parse("segment")) == SegmentConfig()
    config = _segment_config(
        _parse("detect", "--epochs", "3", "--threshold", "0.3", "--lr", "1e-3")
    )
    assert (config.task, config.epochs, config.threshold, config.lr) == ("detect", 3, 0.3, 1e-3)
    # The options whose default differs per task leave the classifier's defaults alone.
    assert _config(_parse("classify")) == TrainConfig()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("image_size", 100, "multiple of 32"), ("threshold", 1.0, "in \\(0, 1\\)"), ("views", 0, "1")],
)
def test_out_of_range_options_are_named(key: str, value: object, expected: str) -> None:
    with pytest.raises(ValueError, match=f"{key} is {value!r}, expected .*{expected}"):
        SegmentConfig(**{key: value}).check()
