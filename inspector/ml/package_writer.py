"""Writing a model package folder all at once: never half a package where a station looks.

Every trained package (classifier, segmenter) is a folder of files listed in
``model.json``. A crash or a cancelled training must never leave a partial
folder that a station could pick up, so the files are written into a sibling
``<name>.partial-<random>`` folder and renamed into place at the end; a
package being replaced is moved aside first and put back if anything fails.
No torch and no numpy here: the bytes are prepared by the caller.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from inspector.ml.package_fields import METADATA_FILE

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_model_name(name: str) -> None:
    """Refuse a model name that cannot start a version string ``<name>-<date>-<hash8>``.

    Raises:
        ValueError: the name is not 1-64 letters, digits, '.', '_' or '-'.
    """
    if not _NAME.match(name):
        msg = (
            f"model name {name!r} is not usable in a version string: use 1-64 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit"
        )
        raise ValueError(msg)


def check_extra_names(names: Mapping[str, bytes], reserved: tuple[str, ...]) -> None:
    """Refuse extra file names that are paths or clash with the package's own files.

    Raises:
        ValueError: a name is not a plain file name or is ``model.json`` or one of ``reserved``.
    """
    for name in names:
        if Path(name).name != name or name in ("", ".", "..", METADATA_FILE, *reserved):
            msg = f"extra package file name {name!r} must be a plain, unreserved file name"
            raise ValueError(msg)


def check_destination(directory: str | Path, *, overwrite: bool = False) -> None:
    """Refuse a destination :func:`write_package` would refuse (call it before training).

    Raises:
        ValueError: ``directory`` is a file, holds other files, or holds a
            package and ``overwrite`` is false.
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        msg = f"{folder} is a file, not a folder: choose a folder for the model package"
        raise ValueError(msg)
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / METADATA_FILE).exists():
            msg = f"{folder} holds other files: choose a new or empty folder for the model package"
            raise ValueError(msg)
        if not overwrite:
            msg = f"{folder} already holds a model package: choose another folder or overwrite it"
            raise ValueError(msg)


def write_package(
    directory: str | Path, contents: Mapping[str, bytes], *, overwrite: bool = False
) -> None:
    """Write ``contents`` (file name to bytes, ``model.json`` included) as the package folder.

    Raises:
        ValueError: the destination is unusable (see :func:`check_destination`).
        OSError: writing failed; the destination is as it was.
    """
    folder = Path(directory)
    check_destination(folder, overwrite=overwrite)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f"{folder.name}.partial-{uuid.uuid4().hex[:8]}")
    old = folder.with_name(f"{folder.name}.old-{uuid.uuid4().hex[:8]}")
    moved_old = False
    try:
        partial.mkdir()
        for name, data in contents.items():
            (partial / name).write_bytes(data)
        if folder.is_dir() and any(folder.iterdir()):
            folder.rename(old)  # only a package gets here (checked above)
            moved_old = True
        elif folder.is_dir():
            folder.rmdir()
        partial.rename(folder)
    except BaseException:
        if moved_old and not folder.exists():
            old.rename(folder)  # put the previous package back
        raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    if moved_old:
        shutil.rmtree(old, ignore_errors=True)
