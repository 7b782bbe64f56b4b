"""`inspector train`'s options are TrainConfig's fields, with the same defaults."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from inspector.cli_train import _config, add_train_commands
from inspector.training.classifier_config import TrainConfig


def _parse(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_commands(parser.add_subparsers())
    return parser.parse_args(["train", "--data", "d", "--task", "classify", "--out", "o", *extra])


def test_the_parser_defaults_are_the_config_defaults():
    assert _config(_parse()) == TrainConfig()


def test_every_option_reaches_its_field():
    config = _config(
        _parse("--head-epochs", "7", "--optimizer", "sgd", "--augment", "aug.toml", "--rotate")
    )
    assert (config.head_epochs, config.optimizer, config.rotate) == (7, "sgd", True)
    assert config.augment_file == Path("aug.toml")
    assert {f.name for f in fields(TrainConfig)} <= set(vars(_parse())) | {"augment_file"}
