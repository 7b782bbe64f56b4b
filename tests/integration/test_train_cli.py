"""``inspector train`` end to end on a tiny labelled folder: package out, usable for inference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
import torch

from inspector.cli import main
from inspector.ml.classifier_inference import ClassifierInferencer
from tests.unit.training.synthetic_classes import CLASSES, write_dataset

TINY = ["--image-size", "64", "--epochs", "2", "--batch-size", "8", "--strategy", "gradual"]


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: on a busy 2-core machine two threads mostly wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    return write_dataset(root / "train", per_class=8), write_dataset(root / "val", 2, seed=1)


def test_train_classify_writes_a_package_that_classifies(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, val = data
    out = tmp_path / "model"
    args = ["train", "--data", str(train), "--val", str(val), "--task", "classify"]
    code = main([*args, "--out", str(out), "--device", "cpu", *TINY])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "saved model model-" in captured.out and "defect-class accuracy" in captured.out
    assert "(fine-tune): train loss" in captured.err  # the per-epoch lines
    inferencer = ClassifierInferencer(out, device="cpu")
    assert inferencer.classes == CLASSES
    image = cv2.cvtColor(cv2.imread(str(next((val / "spot").glob("*.jpg")))), cv2.COLOR_BGR2RGB)
    (result,) = inferencer.predict([image])
    assert set(result.probabilities) == set(CLASSES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no partial folder left


@pytest.mark.parametrize("task", ["segment", "detect"])
def test_tasks_not_built_yet_say_so_and_exit_2(
    task: str, data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--data", str(data[0]), "--task", task, "--out", str(tmp_path / "m")])
    assert code == 2
    assert f"--task {task} is not yet available" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_bad_options_and_folders_are_reported(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", "--task", "classify", "--out", str(tmp_path / "m")]
    assert main([*base, "--data", str(data[0]), "--head-epochs", "0", "--epochs", "0"]) == 2
    assert "nothing would be trained" in capsys.readouterr().err
    assert main([*base, "--data", str(data[0]), "--views", "-1"]) == 2
    assert "views is -1, expected 0 or more" in capsys.readouterr().err
    assert main([*base, "--data", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err
    augment = tmp_path / "aug.json"
    augment.write_text('{"transforms": [{"name": "Twirl"}]}')
    assert main([*base, "--data", str(data[0]), "--augment", str(augment), *TINY]) == 2
    assert "unknown augmentation transform 'Twirl'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
