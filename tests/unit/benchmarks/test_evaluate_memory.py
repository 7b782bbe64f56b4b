"""The evaluate-memory benchmark's enlarged set: every image and mask linked again."""

from pathlib import Path

from inspector.training.evaluate import list_labelled_images
from tests.unit.benchmarks.loading import load_benchmark

evaluate_memory = load_benchmark("evaluate_memory")


def test_linked_copies_keep_the_layout_and_pair_each_mask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "good").mkdir(parents=True)
    (data / "crack").mkdir()
    (data / "good" / "a.jpg").write_bytes(b"a")
    (data / "crack" / "b.jpg").write_bytes(b"b")
    (data / "crack" / "b.png").write_bytes(b"mask")
    folder = evaluate_memory.linked_copies(data, 3, tmp_path / "big")
    items = list_labelled_images(folder)
    assert len(items) == 6
    assert sorted(i.path.name for i in items if i.defect_class == "crack") == [
        "k0_b.jpg",
        "k1_b.jpg",
        "k2_b.jpg",
    ]
    for item in items:
        assert item.path.read_bytes() == (b"a" if item.defect_class == "good" else b"b")
        if item.defect_class == "crack":
            assert item.mask_path is not None and item.mask_path.read_bytes() == b"mask"
