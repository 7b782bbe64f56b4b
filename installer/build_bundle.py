"""Build the line-side desktop bundle: ``make bundle`` (or ``python installer/build_bundle.py``).

One folder, ``dist/inspector/``, holding the ``inspector`` executable (GUI,
headless runs, predict/evaluate, reports, database tools) with ONNX Runtime,
OpenCV, Qt and SQLite, the demo model as an ONNX Runtime package, and no
torch: a line PC copies the folder and runs it, with no Python installed.

Steps, each of which stops the build with a message when it fails:

1. export the shipped torch demo model to an ONNX Runtime package (torch runs
   here, on the build machine, and only here);
2. run PyInstaller on ``installer/inspector.spec`` with that package;
3. check the result: no torch file anywhere in it, and its size under the
   limit (``MAX_SIZE_MB``);
4. write ``build-info.json`` into the bundle: the hash of every input, the
   size, the build time and the list of files.

``--reuse`` skips the build when the bundle in ``--dist`` was made from
identical inputs and still holds exactly the files it was built with. The
inputs hashed are the package's files, this folder's recipe, the resources,
the model, the Python version and platform, and every installed
distribution's name and version (PyInstaller and its hooks included); system
libraries that PyInstaller copies from the build machine are not hashed, so
after an OS upgrade build without ``--reuse``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: builds are not locked against each other there
    fcntl = None

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "installer" / "inspector.spec"
DEFAULT_MODEL = REPO / "models" / "demo-line"
BUILD_INFO = "build-info.json"
#: A guard against the bundle growing unnoticed. Issue 8's target is 400 MB and
#: is not met (487 MB: OpenCV's wheel with FFmpeg and its own OpenBLAS is 150 MB,
#: Qt 91 MB; README, "The line-side bundle", has the breakdown).
MAX_SIZE_MB = 520.0
#: The recipe's own files: a change to any of them changes the bundle.
RECIPE = ("installer/build_bundle.py", "installer/entry.py", "installer/inspector.spec")
RECIPE_DATA = ("installer/inspector.desktop", "resources")
#: Libraries shipped with their symbols and not patched by auditwheel, so safe to
#: strip (libpython: 23 MB to 6); PyInstaller's strip=True would strip every
#: library, and that breaks wheels' patched ones (numpy's OpenBLAS fails to load).
STRIPPED = ("libpython3*.so*",)


class BundleError(RuntimeError):
    """The bundle could not be built, or what was built is not fit to ship."""


def input_hash(model_dir: Path) -> str:
    """SHA-256 over everything the bundle is built from (see the module docstring)."""
    digest = hashlib.sha256()
    sources = [REPO / "inspector", model_dir, *(REPO / name for name in RECIPE + RECIPE_DATA)]
    for path in _files(sources):
        relative = path.relative_to(REPO if path.is_relative_to(REPO) else model_dir)
        digest.update(f"{relative}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    environment = sorted(
        f"{dist.metadata['Name']}=={dist.version}" for dist in importlib.metadata.distributions()
    )
    digest.update("\n".join([sys.version, sys.platform, platform.machine(), *environment]).encode())
    return digest.hexdigest()


def torch_files(bundle: Path) -> list[Path]:
    """Files or folders of PyTorch inside ``bundle`` (it must have none)."""
    found = []
    for path in bundle.rglob("*"):
        name = path.name.lower()
        if "torch" in name or name.startswith("libc10"):
            found.append(path.relative_to(bundle))
    return sorted(found)


def bundle_size(bundle: Path) -> int:
    """Bytes of every file in the bundle (what a line PC needs on its disk); links count once."""
    return sum(
        path.stat().st_size
        for path in bundle.rglob("*")
        if path.is_file() and not path.is_symlink()
    )


def manifest(bundle: Path) -> dict[str, int]:
    """Every file of the bundle and its size, except the build record itself."""
    return {
        path.relative_to(bundle).as_posix(): path.stat().st_size
        for path in sorted(bundle.rglob("*"))
        if path.is_file() and path.name != BUILD_INFO
    }


def reusable(bundle: Path, inputs: str) -> bool:
    """Whether ``bundle`` was built from ``inputs`` and still holds exactly what was built."""
    info_file = bundle / BUILD_INFO
    if not info_file.is_file():
        return False
    info = json.loads(info_file.read_text(encoding="utf-8"))
    return info.get("input_hash") == inputs and info.get("files") == manifest(bundle)


def build(
    dist: Path,
    work: Path,
    model_dir: Path = DEFAULT_MODEL,
    *,
    reuse: bool = False,
    max_size_mb: float = MAX_SIZE_MB,
) -> dict:
    """Build (or reuse) ``dist/inspector`` and return its ``build-info.json`` contents.

    Raises:
        BundleError: PyInstaller is missing or failed, or the bundle holds torch or
            is larger than ``max_size_mb``.
    """
    if importlib.util.find_spec("PyInstaller") is None:
        msg = "PyInstaller is not installed: pip install -e '.[installer]' (make bundle does it)"
        raise BundleError(msg)
    work.mkdir(parents=True, exist_ok=True)
    with _exclusive(work / "build.lock"):
        return _build(dist, work, model_dir, reuse=reuse, max_size_mb=max_size_mb)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One build at a time per work folder: a second one waits, then reuses or rebuilds."""
    with lock_file.open("w") as handle:
        if fcntl is None:
            print("note: no file locking here: do not run two builds at once")
        else:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(dist: Path, work: Path, model_dir: Path, *, reuse: bool, max_size_mb: float) -> dict:
    bundle = dist / "inspector"
    inputs = input_hash(model_dir)
    if reuse and reusable(bundle, inputs):
        info = json.loads((bundle / BUILD_INFO).read_text(encoding="utf-8"))
        print(f"bundle {bundle} is up to date (inputs {inputs[:12]}): reused")
        return info

    started = time.monotonic()
    staged = work / "model" / model_dir.name
    _export_model(model_dir, staged)
    _run_pyinstaller(dist, work, staged)
    _strip(bundle)
    build_s = time.monotonic() - started

    found = torch_files(bundle)
    if found:
        listed = ", ".join(str(path) for path in found[:10])
        msg = (
            f"the bundle {bundle} contains PyTorch ({len(found)} files or folders: {listed}); "
            "find what pulls it in (PyInstaller's warn-*.txt and xref-*.html in "
            f"{work / 'inspector'}) and add the module to EXCLUDES in {SPEC}"
        )
        raise BundleError(msg)
    size = bundle_size(bundle)
    if size > max_size_mb * 1e6:
        msg = (
            f"the bundle {bundle} is {size / 1e6:.0f} MB, over the {max_size_mb:.0f} MB limit: "
            f"see which packages grew (du -sh {bundle}/_internal/*) and exclude what the line "
            f"side does not use in {SPEC}, or raise --max-size-mb if it is needed"
        )
        raise BundleError(msg)
    info = {
        "input_hash": inputs,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(build_s, 1),
        "size_bytes": size,
        "python": sys.version.split()[0],
        "platform": f"{sys.platform}-{platform.machine()}",
        "postgresql_driver": importlib.util.find_spec("psycopg") is not None,
        "files": manifest(bundle),
    }
    (bundle / BUILD_INFO).write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(
        f"bundle {bundle}: {size / 1e6:.0f} MB in {len(info['files'])} files, no torch, "
        f"built in {build_s:.0f} s; PostgreSQL driver "
        f"{'included' if info['postgresql_driver'] else 'NOT included (postgres extra missing)'}"
    )
    return info


def _files(roots: Iterable[Path]) -> list[Path]:
    files = []
    for root in roots:
        candidates = [root] if root.is_file() else root.rglob("*")
        files += [path for path in candidates if path.is_file() and "__pycache__" not in path.parts]
    return sorted(files)


def _export_model(model_dir: Path, staged: Path) -> None:
    """The demo model as an ONNX Runtime package, checked against torch by the exporter."""
    from inspector.ml.onnx_export import export_onnx  # torch: the build machine only

    print(f"exporting {model_dir} to an ONNX Runtime package in {staged}...")
    staged.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model_dir, staged, overwrite=True)


def _run_pyinstaller(dist: Path, work: Path, staged: Path) -> None:
    bundle = dist / "inspector"
    if bundle.exists():
        shutil.rmtree(bundle)  # a stale file must never survive into a new bundle
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(SPEC),
        "--noconfirm",
        "--log-level=WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        "--",
        "--model",
        str(staged),
    ]
    print("running PyInstaller (minutes on a small CPU)...")
    result = subprocess.run(command, cwd=REPO, check=False)
    if result.returncode != 0:
        msg = f"PyInstaller failed (exit {result.returncode}); its messages are above"
        raise BundleError(msg)


def _strip(bundle: Path) -> None:
    strip = shutil.which("strip")
    if strip is None:
        print("note: 'strip' (binutils) is not installed: libpython keeps its symbols (+17 MB)")
        return
    for pattern in STRIPPED:
        for library in (bundle / "_internal").glob(pattern):
            subprocess.run([strip, "--strip-unneeded", str(library)], check=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: build the bundle, print where and how large; exit 1 on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output folder")
    parser.add_argument(
        "--work", type=Path, default=REPO / "build" / "pyinstaller", help="PyInstaller work folder"
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="torch model to ship")
    parser.add_argument("--reuse", action="store_true", help="keep a bundle of identical inputs")
    parser.add_argument("--max-size-mb", type=float, default=MAX_SIZE_MB, help="size limit")
    args = parser.parse_args(argv)
    try:
        build(
            args.dist.resolve(),
            args.work.resolve(),
            args.model.resolve(),
            reuse=args.reuse,
            max_size_mb=args.max_size_mb,
        )
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
