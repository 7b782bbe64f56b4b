"""Model packages: round trip, and every way a package on disk can be wrong."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from inspector.core.errors import ModelPackageError
from inspector.ml.lighting import LightingRange, Span
from inspector.ml.package import BANK_FILE, METADATA_FILE, ModelPackage, load_package, save_package


def _package(bank_rows: int = 50) -> ModelPackage:
    bank = torch.rand(bank_rows, 152, generator=torch.Generator().manual_seed(0)) * 6.0
    return ModelPackage(
        name="part-a",
        memory_bank=bank,
        backbone_sha256="ab" * 32,
        layers=(2, 4),
        input_size=224,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        sigma=4.0,
        threshold=12.5,
        training={"count": 40, "source": "folder /data/good"},
        metrics={"holdout_good_scores": {"max": 11.0}},
    )


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    save_package(_package(), tmp_path / "pkg")
    return tmp_path / "pkg"


def _edit_json(folder: Path, change: Callable[[dict], object]) -> None:
    file = folder / METADATA_FILE
    meta = json.loads(file.read_text())
    change(meta)
    file.write_text(json.dumps(meta))


def _replace_bank(folder: Path, data: bytes) -> None:
    """Put ``data`` in the bank file and re-sign it, so only the unpickler can object."""
    (folder / BANK_FILE).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    _edit_json(folder, lambda m: m["files"].__setitem__(BANK_FILE, digest))


def test_round_trip_keeps_metadata_and_a_float16_bank(tmp_path: Path) -> None:
    original = _package()
    saved = save_package(original, tmp_path / "pkg")
    loaded = load_package(tmp_path / "pkg")
    assert re.fullmatch(r"part-a-\d{8}-[0-9a-f]{8}", loaded.version)
    assert loaded.version == saved.version
    assert loaded.files == {BANK_FILE: saved.files[BANK_FILE]}
    for field in ("name", "backbone_sha256", "layers", "input_size", "mean", "std", "sigma"):
        assert getattr(loaded, field) == getattr(original, field), field
    assert loaded.threshold == 12.5
    assert loaded.training == original.training
    assert loaded.metrics == original.metrics
    assert loaded.path == tmp_path / "pkg"
    assert loaded.memory_bank.dtype == torch.float32
    torch.testing.assert_close(loaded.memory_bank, original.memory_bank, atol=6e-3, rtol=1e-3)
    assert torch.equal(loaded.memory_bank, saved.memory_bank)
    meta = json.loads((tmp_path / "pkg" / METADATA_FILE).read_text())
    assert meta["kind"] == "patchcore" and meta["backbone"] == "efficientnet_lite0"
    assert meta["bank_size"] == 50 and meta["feature_dim"] == 152


def test_exposure_is_kept_and_older_packages_saw_camera_grey_levels(tmp_path: Path) -> None:
    save_package(replace(_package(), exposure="standardised"), tmp_path / "new")
    meta = json.loads((tmp_path / "new" / METADATA_FILE).read_text())
    # Format 2: Inspectors that read format 1 only refuse it instead of skipping the step.
    assert (meta["exposure"], meta["format_version"]) == ("standardised", 2)
    assert load_package(tmp_path / "new").exposure == "standardised"
    save_package(_package(), tmp_path / "old")
    meta = json.loads((tmp_path / "old" / METADATA_FILE).read_text())
    assert "exposure" not in meta and meta["format_version"] == 1
    assert load_package(tmp_path / "old").exposure == "as-captured"


def test_the_taught_lighting_is_kept_and_older_packages_have_none(tmp_path: Path) -> None:
    lighting = LightingRange(Span(40.5, 160.25), Span(17.0, 33.0), 24)
    save_package(replace(_package(), lighting=lighting), tmp_path / "new")
    meta = json.loads((tmp_path / "new" / METADATA_FILE).read_text())
    stored = {"brightness": [40.5, 160.25], "contrast": [17.0, 33.0], "images": 24}
    assert meta["lighting"] == stored
    assert meta["format_version"] == 1  # an Inspector that does not know it scores the same
    assert load_package(tmp_path / "new").lighting == lighting
    save_package(_package(), tmp_path / "old")
    assert "lighting" not in json.loads((tmp_path / "old" / METADATA_FILE).read_text())
    assert load_package(tmp_path / "old").lighting is None


def test_an_unknown_exposure_is_not_saved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exposure is 'auto'"):
        save_package(replace(_package(), exposure="auto"), tmp_path / "pkg")


def test_bank_is_stored_half_size(saved: Path) -> None:
    assert (saved / BANK_FILE).stat().st_size < 50 * 152 * 2 + 4096


def test_saving_over_a_package_needs_overwrite(saved: Path) -> None:
    with pytest.raises(ValueError, match="already holds a model package"):
        save_package(_package(), saved)
    again = save_package(replace(_package(), threshold=3.0), saved, overwrite=True)
    assert load_package(saved).threshold == 3.0 == again.threshold


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "../evil"}, "model name"),
        ({"name": ""}, "model name"),
        ({"threshold": float("nan")}, "not a finite number"),
        ({"memory_bank": torch.full((3, 152), 1e6)}, "do not fit float16"),
    ],
)
def test_unsaveable_packages_are_refused(tmp_path: Path, change: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        save_package(replace(_package(), **change), tmp_path / "pkg")
    assert not (tmp_path / "pkg" / METADATA_FILE).exists()


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match=r"nowhere does not exist .*check the model path"):
        load_package(tmp_path / "nowhere")


def test_directory_without_metadata(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="has no model.json: it is not a model package"):
        load_package(tmp_path)


def test_garbled_json_names_file_and_line(saved: Path) -> None:
    (saved / METADATA_FILE).write_text('{\n  "kind": "patchcore",\n  oops\n}')
    with pytest.raises(ModelPackageError, match=r"model\.json: is not valid JSON .* line 3"):
        load_package(saved)


def test_json_that_is_not_an_object(saved: Path) -> None:
    (saved / METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(ModelPackageError, match="holds a JSON list, expected an object"):
        load_package(saved)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("kind", "padim", "is a 'padim' model"),
        ("backbone", "resnet18", "on 'resnet18'"),
        ("format_version", 3, "has format_version 3, this Inspector reads 1 and 2"),
        ("format_version", 2, "says format_version 2 with exposure 'as-captured'"),
        ("layers", [2, 9], "'layers' is \\[2, 9\\]"),
        ("input_size", "224", "'input_size' is '224', expected a int"),
        ("mean", [0.5, 0.5], "'mean' is \\[0.5, 0.5\\], expected 3 numbers"),
        ("std", [0.5, 0.0, 0.5], "expected positive numbers"),
        ("threshold", None, "'threshold' is None"),
        ("files", {"../model.json": "00"}, "not a plain file name"),
        ("files", {}, "does not list memory_bank.pt"),
        ("exposure", "auto", "'exposure' is 'auto', expected one of as-captured, standardised"),
        ("lighting", {"brightness": [9, 3]}, "'lighting.brightness' is \\[9, 3\\]"),
        ("lighting", [1, 2], "'lighting' is \\[1, 2\\], expected an object"),
    ],
)
def test_wrong_metadata_is_named(saved: Path, key: str, value: object, problem: str) -> None:
    _edit_json(saved, lambda m: m.__setitem__(key, value))
    with pytest.raises(ModelPackageError, match=problem) as error:
        load_package(saved)
    assert "model.json" in str(error.value)


def test_changed_bank_fails_the_hash_check(saved: Path) -> None:
    data = bytearray((saved / BANK_FILE).read_bytes())
    data[-100] ^= 0xFF
    (saved / BANK_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match=r"memory_bank\.pt: has SHA-256 .* damaged"):
        load_package(saved)


def test_missing_bank_file(saved: Path) -> None:
    (saved / BANK_FILE).unlink()
    with pytest.raises(ModelPackageError, match=r"memory_bank\.pt is missing or unreadable"):
        load_package(saved)


class _RunsCode:
    """Unpickling this would run a command that writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_malicious_pickle_is_refused_and_never_runs(saved: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    payload = pickle.dumps({"memory_bank": _RunsCode(marker)}, protocol=2)
    _replace_bank(saved, payload)
    with pytest.raises(ModelPackageError, match="not a plain tensor file and was not loaded"):
        load_package(saved)
    assert not marker.exists()


def test_torch_file_with_code_inside_is_refused(saved: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    buffer = tmp_path / "evil.pt"
    torch.save({"memory_bank": torch.zeros(2, 152), "x": _RunsCode(marker)}, buffer)
    assert not marker.exists()
    _replace_bank(saved, buffer.read_bytes())
    with pytest.raises(ModelPackageError, match="may be damaged or unsafe"):
        load_package(saved)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [
        {"weights": torch.zeros(5, 152)},
        {"memory_bank": torch.zeros(5, 152, dtype=torch.int64)},
        [torch.zeros(5, 152)],
    ],
)
def test_bank_file_without_a_float_bank(saved: Path, tmp_path: Path, content: object) -> None:
    torch.save(content, tmp_path / "other.pt")
    _replace_bank(saved, (tmp_path / "other.pt").read_bytes())
    with pytest.raises(ModelPackageError, match="does not hold a 2-D float tensor"):
        load_package(saved)


def test_bank_that_does_not_fit_the_layers(saved: Path, tmp_path: Path) -> None:
    torch.save({"memory_bank": torch.zeros(5, 64, dtype=torch.float16)}, tmp_path / "b.pt")
    _replace_bank(saved, (tmp_path / "b.pt").read_bytes())
    with pytest.raises(ModelPackageError, match=r"shape \(5, 64\), expected \(M, 152\)"):
        load_package(saved)
