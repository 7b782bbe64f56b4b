"""Reading a package's network weights without running code from the file.

Classifier and segmenter packages keep a plain state dict in one file; this
is the one place that checks its hash and unpickles it with
``weights_only=True``, so a damaged or malicious file is refused the same way
by every package type.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from inspector.ml.package_fields import PackageReader


def read_state_dict(
    reader: PackageReader,
    folder: Path,
    files: Mapping[str, Any],
    meta_file: Path,
    name: str,
) -> dict[str, Any]:
    """The state dict in ``folder / name``, after every listed file's SHA-256 was checked.

    Raises:
        ModelPackageError: a hash differs, or the file is not plain tensors in a dict.
    """
    data = reader.hashed_files(folder, files, meta_file, required=(name,))[name]
    path = folder / name
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError... all mean "refused"
        problem = f"is not a plain tensor file and was not loaded ({type(exc).__name__})"
        raise reader.fail(path, f"{problem}: it may be damaged or unsafe; re-train") from exc
    if not isinstance(state, dict):
        raise reader.fail(path, f"holds a {type(state).__name__}, expected a state dict")
    return state
