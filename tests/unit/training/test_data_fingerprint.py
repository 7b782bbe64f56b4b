"""The fingerprint of an evaluated set changes with exactly what changes the evaluation."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from pypdf import PdfReader

from inspector.training.data_fingerprint import (
    UNREADABLE,
    file_sha256,
    fingerprint_images,
    fingerprint_labelled,
)
from inspector.training.evaluate import LabelledImage, list_labelled_images


@pytest.fixture
def labelled_set(tmp_path: Path) -> Path:
    """Two good images, a defective one with its mask, as real PNG/JPEG files."""
    root = tmp_path / "set"
    rng = np.random.default_rng(3)
    for name in ("good/a.jpg", "good/b.jpg", "crack/c.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    mask = np.zeros((32, 48), np.uint8)
    mask[10:14, 5:30] = 255
    cv2.imwrite(str(root / "crack/c.png"), mask)
    return root


def _of(root: Path):
    return fingerprint_labelled(root, list_labelled_images(root))


def test_each_image_hash_is_its_files_sha256_and_the_set_has_one_fingerprint(labelled_set):
    found = _of(labelled_set)
    for path, digest in found.images.items():
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(found.images) == 3 and len(found.fingerprint) == 64
    assert _of(labelled_set) == found  # measured again: the same


def test_a_copy_elsewhere_and_another_listing_order_keep_the_fingerprint(labelled_set, tmp_path):
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(labelled_set, copy)
    items = list_labelled_images(labelled_set)
    assert fingerprint_labelled(labelled_set, items[::-1]).fingerprint == _of(copy).fingerprint


@pytest.mark.parametrize(
    "change",
    ["image edited", "mask edited", "image added", "image removed", "moved class", "renamed"],
)
def test_any_change_to_what_is_evaluated_changes_the_fingerprint(labelled_set, change):
    before = _of(labelled_set)
    if change == "image edited":
        data = bytearray((labelled_set / "good/a.jpg").read_bytes())
        data[-3] ^= 0xFF
        (labelled_set / "good/a.jpg").write_bytes(bytes(data))
    elif change == "mask edited":
        cv2.imwrite(str(labelled_set / "crack/c.png"), np.zeros((32, 48), np.uint8))
    elif change == "image added":
        shutil.copy(labelled_set / "good/a.jpg", labelled_set / "good/d.jpg")
    elif change == "image removed":
        (labelled_set / "good/b.jpg").unlink()
    elif change == "moved class":
        (labelled_set / "dent").mkdir()
        (labelled_set / "good/b.jpg").rename(labelled_set / "dent/b.jpg")
    else:
        (labelled_set / "good/b.jpg").rename(labelled_set / "good/b2.jpg")
    after = _of(labelled_set)
    assert after.fingerprint != before.fingerprint
    if change == "image edited":
        changed = {p.name for p in after.images if after.images[p] != before.images.get(p)}
        assert changed == {"a.jpg"}


def test_a_file_that_cannot_be_read_is_marked_not_fatal(labelled_set):
    missing = LabelledImage(labelled_set / "good" / "gone.jpg", "good", None)
    assert file_sha256(missing.path) == UNREADABLE
    found = fingerprint_labelled(labelled_set, [*list_labelled_images(labelled_set), missing])
    assert found.images[missing.path] == UNREADABLE
    assert found.fingerprint != _of(labelled_set).fingerprint


def test_the_evaluation_report_carries_the_fingerprint_and_every_images_hash(
    labelled_set, tmp_path
):
    from inspector.pipeline.line import DEFAULT_MODEL_DIR
    from inspector.reports.evaluation_report import summarize, write_evaluation_report
    from inspector.training.evaluate import evaluate_package

    run = evaluate_package(DEFAULT_MODEL_DIR, labelled_set, device="cpu")
    page = write_evaluation_report(run, summarize(run.images, run.rules.threshold), tmp_path / "r")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["data"]["fingerprint"] == _of(labelled_set).fingerprint
    assert report["data"]["dir_resolved"] == str(labelled_set.resolve())
    for image in report["images"]:
        assert image["sha256"] == hashlib.sha256(Path(image["path"]).read_bytes()).hexdigest()
    assert report["data"]["fingerprint"] in page.read_text()
    # The PDF record holds the same rows, as searchable text.
    text = "\n".join(p.extract_text() for p in PdfReader(page.with_name("report.pdf")).pages)
    assert "Model evaluation report" in text and report["model"]["version"] in text
    assert report["data"]["fingerprint"] in text
    assert "Verdicts per class (at the threshold in force)" in text


def test_an_evaluation_hashes_the_very_bytes_it_scored(labelled_set):
    """A file replaced while the evaluation runs: its hash and its score are both of
    what was read, never the hash of one version beside the score of another."""
    from inspector.pipeline.line import DEFAULT_MODEL_DIR
    from inspector.training.evaluate import evaluate_package

    replaced = labelled_set / "good" / "b.jpg"
    other = np.random.default_rng(9).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    original = replaced.read_bytes()

    def replace_after_the_first(done: int, total: int) -> None:
        if done == 1:  # a.jpg scored, b.jpg not read yet
            cv2.imwrite(str(replaced), other)

    run = evaluate_package(
        DEFAULT_MODEL_DIR, labelled_set, device="cpu", batch=1, progress=replace_after_the_first
    )
    now = replaced.read_bytes()
    assert now != original
    assert run.image_sha256[replaced] == hashlib.sha256(now).hexdigest()
    assert run.data_fingerprint == _of(labelled_set).fingerprint
    alone = evaluate_package(DEFAULT_MODEL_DIR, labelled_set, device="cpu", batch=1)
    scored = {i.path: i.score for i in run.images}
    assert scored[replaced] == pytest.approx({i.path: i.score for i in alone.images}[replaced])


def test_an_evaluation_fingerprints_the_masks_it_compared_with(labelled_set):
    """A mask edited after its image was scored: the fingerprint stays that of the set
    as measured (the mask's hash is taken from the bytes the pixel metrics used)."""
    from inspector.pipeline.line import DEFAULT_MODEL_DIR
    from inspector.training.evaluate import evaluate_package

    measured = _of(labelled_set).fingerprint

    def edit_the_mask_once_used(done: int, total: int) -> None:
        if done == 1:  # crack/c.jpg (first in path order) and its mask are done
            cv2.imwrite(str(labelled_set / "crack/c.png"), np.zeros((32, 48), np.uint8))

    run = evaluate_package(
        DEFAULT_MODEL_DIR, labelled_set, device="cpu", batch=1, progress=edit_the_mask_once_used
    )
    assert [i.path.name for i in run.images][0] == "c.jpg"
    assert run.data_fingerprint == measured != _of(labelled_set).fingerprint


def test_a_training_fingerprint_counts_each_image_in_its_group(labelled_set, tmp_path):
    good = sorted((labelled_set / "good").glob("*.jpg"))
    crack = labelled_set / "crack" / "c.jpg"

    def of(root, train, holdout):
        return fingerprint_images({"train": (root, train), "holdout": (root, holdout)})

    before = of(labelled_set, [good[0], crack], [good[1]])
    assert of(labelled_set, [crack, good[0]], [good[1]]) == before  # listing order
    assert of(labelled_set, [good[0]], [good[1], crack]) != before  # held out instead
    copy = tmp_path / "copy"
    shutil.copytree(labelled_set, copy)
    moved = [copy / p.relative_to(labelled_set) for p in (good[0], crack, good[1])]
    assert of(copy, moved[:2], moved[2:]) == before  # the same images elsewhere
    arrays = [cv2.imread(str(p)) for p in good]
    from_arrays = of(None, arrays[:1], arrays[1:])
    assert of(None, [arrays[0].copy()], [arrays[1]]) == from_arrays  # pixels, not identity
    arrays[0][0, 0, 0] ^= 1
    assert of(None, arrays[:1], arrays[1:]) != from_arrays
