"""The line-side app's own files and its behaviour where torch is not installed.

The frozen case is PyInstaller's documented interface (``sys.frozen`` and
``sys._MEIPASS``), set here on the real ``sys``; a missing torch is what
Python itself reports when ``sys.modules["torch"]`` is ``None``.
"""

import sys
from pathlib import Path

import pytest

from inspector.core.errors import ModelPackageError
from inspector.core.verdict import Verdict
from inspector.ml.backend import open_inferencer
from inspector.pipeline.line import DEFAULT_MODEL_DIR
from inspector.resources_path import (
    SOURCE_ROOT,
    app_root,
    default_model_dir,
    is_frozen,
    resource_path,
)
from inspector.ui.teach_good import NEEDS_ENGINEERING_INSTALL, why_not_teachable


def test_a_checkout_finds_the_shipped_model_and_resources():
    assert not is_frozen()
    assert app_root() == SOURCE_ROOT == Path(__file__).resolve().parents[2]
    assert DEFAULT_MODEL_DIR == default_model_dir()
    assert (DEFAULT_MODEL_DIR / "model.json").is_file()
    for name in ("style.qss", "inspector.png", "inspector.svg", "inspector.ico", "station.toml"):
        assert resource_path(name).is_file(), name


def test_a_frozen_app_looks_inside_its_bundle_only(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert is_frozen()
    assert app_root() == tmp_path
    assert default_model_dir() == tmp_path / "models" / "demo-line"
    assert resource_path("style.qss") == tmp_path / "resources" / "style.qss"


def test_without_torch_teaching_a_part_says_the_engineering_install_is_needed(monkeypatch):
    assert why_not_teachable(Verdict.REJECT, True, DEFAULT_MODEL_DIR) is None
    monkeypatch.setitem(sys.modules, "torch", None)
    why = why_not_teachable(Verdict.REJECT, True, DEFAULT_MODEL_DIR)
    assert why == NEEDS_ENGINEERING_INSTALL
    assert "engineering install" in why and "inspector export" in why


def test_without_torch_a_torch_package_is_refused_with_the_export_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelPackageError, match="PyTorch is not installed") as refused:
        open_inferencer(DEFAULT_MODEL_DIR, "auto")
    assert f"inspector export --model {DEFAULT_MODEL_DIR} --format onnx" in str(refused.value)
