"""``inspector dataset import`` and ``check`` end to end, through the real entry point."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.cli import main
from inspector.training.evaluate import list_labelled_images
from tests.unit.training.images import truncate, write_image, write_mask


def _source(root: Path) -> Path:
    for i in range(3):
        write_image(root / "good" / f"g{i}.jpg", seed=i)
    write_image(root / "crack" / "c0.jpg", seed=10)
    write_mask(root / "crack" / "c0.png")
    write_image(root / "crack" / "c1.jpg", seed=11)
    write_mask(root / "crack" / "c1.png", size=(4, 4))
    truncate(write_image(root / "crack" / "c2.jpg", seed=12))
    return root


def test_import_prints_the_classes_and_every_problem_then_check_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = _source(tmp_path / "src"), tmp_path / "dataset"

    code = main(["dataset", "import", "--format", "folder", str(source), "--out", str(out)])

    printed = capsys.readouterr()
    assert code == 0
    assert f"Imported into {out}" in printed.out
    assert "4 usable image(s) in 2 class(es), 2 excluded, 2 error(s)" in printed.out
    assert re.search(r"^  crack +1 +1$", printed.out, re.MULTILINE)
    assert "mask_size" in printed.out and "crack/c1.jpg" in printed.out
    assert "unreadable_image" in printed.out and "crack/c2.jpg" in printed.out
    assert "import: 6/6" in printed.err  # progress goes to stderr
    assert (out / "dataset.json").is_file()

    assert main(["dataset", "check", str(out)]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    write_image(out / "good" / "g0.jpg", seed=50)
    assert main(["dataset", "check", str(out), "--report", str(tmp_path / "r.json")]) == 1
    assert "manifest_mismatch" in capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [p["item"] for p in report["problems"] if p["severity"] == "error"] == ["good/g0.jpg"]


def test_strict_import_exits_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _source(tmp_path / "src")
    argv = ["dataset", "import", "--format", "folder", str(source), "--out", str(tmp_path / "o")]

    assert main([*argv, "--strict", "--report", str(tmp_path / "report.json")]) == 1

    printed = capsys.readouterr()
    assert "Nothing imported" in printed.out
    assert "--strict: 2 error(s) found; nothing was written" in printed.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "src"]
    assert json.loads((tmp_path / "report.json").read_text())["errors"] == 2


def test_bad_arguments_are_usage_errors_with_a_way_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _source(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    argv = ["dataset", "import", "--format", "folder", str(source), "--out", str(out)]

    assert main(argv) == 2
    assert "use --force to replace it" in capsys.readouterr().err
    assert main([*argv[:-1], str(tmp_path / "new"), "--classes", "a b"]) == 2
    assert "--classes must list class names" in capsys.readouterr().err
    assert main(["dataset", "check", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.dataset
def test_magnetic_tile_images_import_with_their_masks(
    magnetic_tile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "tiles"
    for class_dir in sorted((magnetic_tile / "train").iterdir()):
        for image in sorted(class_dir.glob("*.jpg"))[:2]:
            (source / class_dir.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(image, source / class_dir.name)
            shutil.copy(image.with_suffix(".png"), source / class_dir.name)
    out = tmp_path / "dataset"

    code = main(["dataset", "import", "--format", "folder", str(source), "--out", str(out)])

    assert code == 0, capsys.readouterr().out
    manifest = json.loads((out / "dataset.json").read_text())
    assert set(manifest["classes"]) == {"blowhole", "break", "crack", "fray", "good", "uneven"}
    assert all(count == {"images": 2, "masks": 2} for count in manifest["classes"].values())
    errors = [p for p in manifest["import_report"]["problems"] if p["severity"] == "error"]
    assert errors == []
    labelled = list_labelled_images(out)
    assert len(labelled) == 12 and all(item.mask_path is not None for item in labelled)
    for item in labelled:
        mask = cv2.imread(str(item.mask_path), cv2.IMREAD_UNCHANGED)
        image = cv2.imread(str(item.path), cv2.IMREAD_UNCHANGED)
        assert mask.shape == image.shape[:2] and set(np.unique(mask)) <= {0, 255}
        assert mask.any() == (item.defect_class != "good")
