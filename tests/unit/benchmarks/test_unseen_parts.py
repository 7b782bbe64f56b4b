"""The unseen-parts benchmark's split: no photo of an evaluated part is fitted on."""

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import REPO


def _module():
    spec = importlib.util.spec_from_file_location(
        "unseen_parts", REPO / "benchmarks/unseen_parts.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unseen_parts = _module()


def test_part_number_reads_the_capture_number() -> None:
    assert unseen_parts.part_number(Path("train/good/exp3_num_296668.jpg")) == 296668


def test_part_number_refuses_a_name_without_one() -> None:
    with pytest.raises(ValueError, match="tile.jpg: no part number"):
        unseen_parts.part_number(Path("tile.jpg"))


def test_unseen_only_drops_every_photo_near_an_evaluated_one() -> None:
    good = [Path(f"exp{i}_num_{n}.jpg") for i, n in enumerate([100, 120, 249, 250, 400, 1000])]
    evaluated = [Path("exp1_num_110.jpg"), Path("exp2_num_1100.jpg")]
    kept = unseen_parts.unseen_only(good, evaluated, gap=140)
    # 100, 120 and 249 lie within 140 of 110; 1000 within 140 of 1100; 250 and 400 do not.
    assert [p.name for p in kept] == ["exp3_num_250.jpg", "exp4_num_400.jpg"]


def test_link_folder_points_at_the_photos(tmp_path: Path) -> None:
    photo = tmp_path / "exp1_num_5.jpg"
    photo.write_bytes(b"jpeg")
    folder = unseen_parts.link_folder([photo], tmp_path / "good")
    assert (folder / photo.name).read_bytes() == b"jpeg"
    with pytest.raises(FileExistsError):
        unseen_parts.link_folder([photo], folder)


def test_on_magnetic_tile_val_leaves_no_shared_part(magnetic_tile: Path) -> None:
    good = sorted((magnetic_tile / "train/good").glob("*.jpg"))
    evaluated = sorted((magnetic_tile / "val").glob("*/*.jpg"))
    kept = unseen_parts.unseen_only(good, evaluated)
    numbers = [unseen_parts.part_number(p) for p in evaluated]
    assert 0 < len(kept) < len(good)
    assert all(min(abs(unseen_parts.part_number(p) - n) for n in numbers) >= 150 for p in kept)
