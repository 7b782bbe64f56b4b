"""The command lines the GUI starts: checked before starting, and really runnable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from inspector.training.launch import (
    TrainRequest,
    compare_arguments,
    inspector_command,
    training_unavailable,
)


def test_a_good_request_becomes_train_arguments_with_json_progress(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "val").mkdir()
    request = TrainRequest(
        tmp_path / "data", tmp_path / "pkg", val=tmp_path / "val", image_size=64, views=1
    )
    assert request.problems() == []
    args = request.arguments()
    assert args[:7] == [
        "train",
        "--data",
        str(tmp_path / "data"),
        "--task",
        "classify",
        "--out",
    ] + [str(tmp_path / "pkg")]
    assert args[args.index("--val") + 1] == str(tmp_path / "val")
    assert args[args.index("--image-size") + 1] == "64"
    assert args[args.index("--views") + 1] == "1"
    assert args[args.index("--head-epochs") + 1] == "80"
    assert args[-1] == "--progress-json"
    segment = TrainRequest(tmp_path / "data", tmp_path / "seg", task="segment").arguments()
    assert "--head-epochs" not in segment  # the segmenter refuses classifier-only options
    assert "--image-size" not in segment  # no size given: each task's own default


def test_every_problem_of_a_request_is_named_at_once(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    request = TrainRequest(
        tmp_path / "missing", tmp_path / "pkg", task="pose", val=tmp_path / "nope", epochs=-1
    )
    with pytest.raises(ValueError) as caught:
        request.arguments()
    text = str(caught.value)
    for expected in (
        "data folder",
        "validation folder",
        "'pose' cannot be trained yet",
        "already exists",
        "fine-tuning epochs must be at least 0",
    ):
        assert expected in text


def test_compare_refuses_missing_folders_and_the_same_model(tmp_path: Path) -> None:
    model, data = tmp_path / "model", tmp_path / "data"
    model.mkdir()
    with pytest.raises(ValueError, match="data folder .* does not exist"):
        compare_arguments(model, model, data, tmp_path / "report")
    data.mkdir()
    with pytest.raises(ValueError, match="the production model itself"):
        compare_arguments(model, model, data, tmp_path / "report")
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    args = compare_arguments(model, baseline, data, tmp_path / "report")
    assert args[0] == "compare" and args[args.index("--report") + 1] == str(tmp_path / "report")


def test_the_command_runs_train_in_this_install_and_knows_the_progress_option() -> None:
    assert training_unavailable() is None  # the test venv has torch
    done = subprocess.run(
        [*inspector_command(), "train", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--progress-json" in done.stdout
