"""The unseen-parts benchmark's split: no photo of an evaluated part is fitted on."""

from pathlib import Path

import pytest

from tests.unit.benchmarks.loading import load_benchmark

unseen_parts = load_benchmark("unseen_parts")


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
    # The figures in README were measured on these 288 of the 597 good training photos.
    assert (len(kept), len(good)) == (288, 597)


def test_unseen_only_needs_evaluated_photos() -> None:
    with pytest.raises(ValueError, match="no evaluated photos"):
        unseen_parts.unseen_only([Path("exp1_num_5.jpg")], [])
