"""``inspector train`` end to end on a tiny labelled folder: package out, usable for inference."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
import torch

from inspector.cli import main
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.ml.segmenter_inference import SegmenterInferencer
from tests.unit.training.synthetic_classes import CLASSES, write_dataset
from tests.voc_from_masks import write_voc

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


def _tiles(source: Path, out: Path, per_class: int) -> list[Path]:
    """A few real magnetic-tile images with their masks, copied to ``out/<class>/``."""
    copied = []
    for name in ("blowhole", "good", "uneven"):
        (out / name).mkdir(parents=True)
        for image in sorted((source / name).glob("*.jpg"))[:per_class]:
            copied.append(Path(shutil.copy(image, out / name)))
            if image.with_suffix(".png").exists():
                shutil.copy(image.with_suffix(".png"), out / name)
    return copied


SEGMENT_TINY = ["--image-size", "64", "--epochs", "2", "--batch-size", "4", "--device", "cpu"]


def test_train_segment_writes_a_package_that_segments(
    magnetic_tile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = tmp_path / "train"
    _tiles(magnetic_tile / "train", train, 4)
    out = tmp_path / "model"
    code = main(
        ["train", "--data", str(train), "--task", "segment", "--out", str(out), *SEGMENT_TINY]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "mIoU of defect masks" in captured.out and "pixel AUROC" in captured.out
    assert "(decoder): train loss" in captured.err
    image = cv2.cvtColor(cv2.imread(str(next((train / "uneven").glob("*.jpg")))), cv2.COLOR_BGR2RGB)
    (output,) = SegmenterInferencer(out, device="cpu").predict([image])
    assert output.anomaly_map.shape == image.shape[:2] and 0.0 <= output.score <= 1.0


def test_train_detect_on_an_imported_voc_set_reports_boxes(
    magnetic_tile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = _tiles(magnetic_tile / "train", tmp_path / "tiles", 4)
    voc = write_voc(images, tmp_path / "voc")
    imported = tmp_path / "imported"
    assert main(["dataset", "import", "--format", "voc", str(voc), "--out", str(imported)]) == 0
    out = tmp_path / "model"
    argv = ["train", "--data", str(imported), "--task", "detect", "--out", str(out)]
    code = main([*argv, *SEGMENT_TINY])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "output maps: blowhole, uneven" in captured.out
    assert "boxes at IoU 0.5: precision" in captured.out
    assert SegmenterInferencer(out, device="cpu").outputs == ("blowhole", "uneven")


@pytest.mark.parametrize(
    ("task", "option"),
    [("segment", "--dropout"), ("detect", "--strategy"), ("classify", "--threshold")],
)
def test_an_option_the_task_does_not_have_is_refused(
    task: str,
    option: str,
    data: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = {"--dropout": "0.3", "--strategy": "full", "--threshold": "0.4"}[option]
    argv = ["train", "--data", str(data[0]), "--task", task, "--out", str(tmp_path / "m")]
    assert main([*argv, option, value]) == 2
    assert f"--task {task} has no {option}" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_a_raw_voc_folder_is_refused_with_the_import_command(
    magnetic_tile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voc = write_voc(_tiles(magnetic_tile / "train", tmp_path / "tiles", 1), tmp_path / "voc")
    argv = ["train", "--data", str(voc), "--task", "detect", "--out", str(tmp_path / "m")]
    assert main(argv) == 1
    assert "import it first with `inspector dataset import --format voc" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
