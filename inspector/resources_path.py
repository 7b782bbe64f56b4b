"""Where Inspector's own files are: in a source checkout, or inside a frozen bundle.

The shipped model, the style sheet and the icon sit beside the package in a
checkout (``models/``, ``resources/``), but inside ``sys._MEIPASS`` in the
PyInstaller one-folder bundle that ``installer/build_bundle.py`` makes. Every
lookup of such a file goes through this module, so the frozen case is handled
in one place and a bundle never reads files from the machine it was built on.
Python files in the package (the Alembic migrations) keep using ``__file__``,
which PyInstaller sets to the same place inside the bundle.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The folder holding ``inspector/``, ``models/`` and ``resources/`` in a checkout.
SOURCE_ROOT = Path(__file__).resolve().parents[1]
#: The shipped demo model's folder name, under ``models/`` (a checkout holds the
#: torch package there, a bundle the ONNX Runtime package exported from it).
DEMO_MODEL_NAME = "demo-line"


def is_frozen() -> bool:
    """Whether this process runs from a PyInstaller bundle rather than from Python."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def app_root() -> Path:
    """The folder the app's data files are under: the bundle's, or the source checkout."""
    if is_frozen():
        return Path(sys._MEIPASS)  # PyInstaller's documented bundle folder
    return SOURCE_ROOT


def resource_path(name: str) -> Path:
    """A file shipped in ``resources/`` (style sheet, icon, sample station file)."""
    return app_root() / "resources" / name


def default_model_dir() -> Path:
    """The shipped demo-line model: torch in a checkout, ONNX Runtime in a bundle."""
    return app_root() / "models" / DEMO_MODEL_NAME
