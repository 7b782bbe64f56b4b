"""The bundle build's strip step, on real wheel libraries copied out of this environment.

numpy's OpenBLAS is the case that made stripping dangerous: auditwheel patched
it, and ``strip`` leaves such a library unloadable. kiwisolver's extension is
the ordinary case: shipped with its symbol table, fine to strip.
"""

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import kiwisolver
import numpy
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = runpy.run_path(str(REPO / "installer" / "build_bundle.py"))

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("strip") is None, reason="needs Linux and binutils"
)


def _loads(library: Path) -> bool:
    check = [sys.executable, "-c", BUILD["_LOAD_CHECK"], str(library)]
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


def _strip_breaks(library: Path, scratch: Path) -> bool:
    """Whether a plain ``strip`` leaves ``library`` (copied with its folder) unloadable."""
    shutil.copytree(library.parent, scratch)
    copy = scratch / library.name
    subprocess.run(["strip", "--strip-unneeded", str(copy)], check=True)
    return not _loads(copy)


def test_strip_shrinks_what_still_loads_and_keeps_what_would_break(tmp_path):
    internal = tmp_path / "_internal"
    shutil.copytree(Path(numpy.__file__).parent.parent / "numpy.libs", internal / "numpy.libs")
    shutil.copytree(Path(kiwisolver.__file__).parent, internal / "kiwisolver")
    (extension,) = (internal / "kiwisolver").glob("_cext*.so")
    (openblas,) = (internal / "numpy.libs").glob("libscipy_openblas*.so")
    libraries = sorted(internal.rglob("*.so*"))
    before = {path: path.read_bytes() for path in libraries}
    assert all(_loads(path) for path in libraries)
    breaks = _strip_breaks(openblas, tmp_path / "scratch")

    saved = BUILD["_strip"](internal)

    assert all(_loads(path) for path in libraries)  # nothing left broken
    assert not list(internal.rglob("*.unstripped"))
    assert extension.stat().st_size < len(before[extension])
    if breaks:  # numpy's wheels so far: the patched library is put back as it was
        assert openblas.read_bytes() == before[openblas]
    shrunk = sum(len(before[path]) - path.stat().st_size for path in libraries)
    assert saved == shrunk > 0
