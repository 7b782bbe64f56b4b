"""Build the line-side desktop bundle: ``make bundle`` (or ``python installer/build_bundle.py``).

One folder, ``dist/inspector/``, holding the ``inspector`` executable (GUI,
headless runs, predict/evaluate, reports, database tools) with ONNX Runtime,
OpenCV, Qt and SQLite, the demo model as an ONNX Runtime package, and no
torch: a line PC copies the folder and runs it, with no Python installed.

Steps, each of which stops the build with a message when it fails:

1. export the shipped torch demo model to an ONNX Runtime package (torch runs
   here, on the build machine, and only here);
2. run PyInstaller on ``installer/inspector.spec`` with that package;
3. strip the symbol tables of its libraries, each kept stripped only if it
   still loads;
4. replace Qt's ICU data library (32 MB) by one holding only the data the
   English window reads, checked against the original (``icupkg`` from ICU's
   tools and a C compiler build it);
5. check the result: no torch file anywhere in it, and its size under the
   limit (``MAX_SIZE_MB``), else name its largest parts;
6. write ``build-info.json`` into the bundle: the hash of every input, the
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
import os
import platform
import re
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
#: What a line PC may have to copy (decimal MB): issue 8's limit, a guard against
#: growth; README, "The line-side bundle", has the breakdown.
MAX_SIZE_MB = 400.0
#: How many of the largest parts the size report names.
LARGEST_PARTS = 8
#: The recipe's own files: a change to any of them changes the bundle.
RECIPE = ("installer/build_bundle.py", "installer/entry.py", "installer/inspector.spec")
RECIPE_DATA = ("installer/inspector.desktop", "resources")
#: Loads a library the way the bundle does, and exits before Python's shutdown
#: (an extension module loaded bare may abort there, stripped or not).
_LOAD_CHECK = "import ctypes, os, sys; ctypes.CDLL(sys.argv[1]); os._exit(0)"
#: What QtCore asks ICU for (collation, the file dialog's numeric sort, case
#: mapping, time-zone names) in English; run with an ICU data library preloaded,
#: it prints the answers, which the reduced library must give as the original does.
QT_TEXT_CHECK = """
import json
from PySide6.QtCore import QCollator, QLocale, QTimeZone
words = ["file10", "b", "A", "a", "file2", "\u00e4", "B", "Z\u00fcrich", "zebra"]
collator = QCollator(QLocale("en_US"))
answers = {"sorted": sorted(words, key=collator.sortKey)}
collator.setNumericMode(True)
answers["numeric"] = sorted(words, key=collator.sortKey)
answers["upper"] = QLocale("en_US").toUpper("stra\u00dfe")
answers["upper tr"] = QLocale("tr_TR").toUpper("istanbul")
berlin = QTimeZone(b"Europe/Berlin")
long_name = QTimeZone.NameType.LongName
answers["zone"] = berlin.displayName(QTimeZone.TimeType.StandardTime, long_name, QLocale("en_US"))
print(json.dumps(answers))
"""
#: Trees of ICU's data package that Qt never reads: break iteration, transliteration.
ICU_UNUSED_TREES = ("brkitr/", "translit/")
#: A locale's resource, in a tree or not (``coll/de_AT.res``); group 1 is its language.
_LOCALE_ITEM = re.compile(r"(?:\w+/)?([a-z]{2,3})(?:_\w*)?\.res")
#: Resources of every tree that are no locale's (``res_index`` matches the pattern).
_TREE_ITEMS = {"root.res", "pool.res", "res_index.res"}


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


def largest_parts(bundle: Path, count: int = LARGEST_PARTS) -> list[tuple[str, int]]:
    """The ``count`` largest packages, libraries or files of the bundle, with their bytes.

    The entries of ``_internal`` are counted one by one (``cv2``, ``PySide6``...),
    beside the executable, so the list says which package to look at.
    """
    entries = [*(bundle / "_internal").iterdir()]
    entries += [path for path in bundle.iterdir() if path.name not in {"_internal", BUILD_INFO}]
    parts = [
        (path.name, bundle_size(path) if path.is_dir() else _file_bytes(path)) for path in entries
    ]
    return sorted(parts, key=lambda part: part[1], reverse=True)[:count]


def describe(parts: list[tuple[str, int]]) -> str:
    """``largest_parts`` as one line: ``cv2 82 MB, PySide6 77 MB, ...``."""
    return ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in parts)


def _file_bytes(path: Path) -> int:
    return 0 if path.is_symlink() else path.stat().st_size


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
    else:
        info = _make(bundle, work, model_dir, inputs)
    check_size(bundle, info["size_bytes"], max_size_mb)
    return info


def check_size(bundle: Path, size: int, max_size_mb: float) -> None:
    """Print the bundle's size and largest parts; raise ``BundleError`` over ``max_size_mb``.

    A reused bundle is checked too, so a lower limit applies without a rebuild.
    """
    parts = describe(largest_parts(bundle))
    if size > max_size_mb * 1e6:
        msg = (
            f"the bundle {bundle} is {size / 1e6:.1f} MB, over the {max_size_mb:g} MB limit; "
            f"its largest parts: {parts}. Leave out what the line side does not use "
            f"(UNUSED and EXCLUDES in {SPEC}), or raise --max-size-mb if it is needed"
        )
        raise BundleError(msg)
    print(f"size {size / 1e6:.1f} MB (limit {max_size_mb:g} MB); largest parts: {parts}")


def _make(bundle: Path, work: Path, model_dir: Path, inputs: str) -> dict:
    """Export, bundle, strip and check; write and return ``build-info.json``."""
    started = time.monotonic()
    staged = work / "model" / model_dir.name
    _export_model(model_dir, staged)
    _run_pyinstaller(bundle.parent, work, staged)
    saved = _strip(bundle / "_internal")
    saved += reduce_icu_data(bundle / "_internal", work / "icu")
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
    info = {
        "input_hash": inputs,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(build_s, 1),
        "size_bytes": bundle_size(bundle),
        "python": sys.version.split()[0],
        "platform": f"{sys.platform}-{platform.machine()}",
        "postgresql_driver": importlib.util.find_spec("psycopg") is not None,
        "files": manifest(bundle),
    }
    (bundle / BUILD_INFO).write_text(json.dumps(info, indent=1), encoding="utf-8")
    driver = "included (the line PC needs libpq for it)"
    if not info["postgresql_driver"]:
        driver = "NOT included (postgres extra missing)"
    print(
        f"bundle {bundle}: {len(info['files'])} files, no torch, {saved / 1e6:.0f} MB of "
        f"symbols and ICU data left out, built in {build_s:.0f} s; PostgreSQL driver {driver}"
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


def _strip(internal: Path) -> int:
    """Strip every library of ``internal`` that still loads stripped; return the bytes saved.

    Wheels ship many libraries with their symbol tables (libpython 23 MB to 6,
    kiwisolver 5.6 to 0.2). PyInstaller's ``strip=True`` strips all of them
    blindly, and that breaks the ones auditwheel patched (numpy's OpenBLAS then
    fails with "ELF load command address/offset not page-aligned"), so each is
    stripped here on its own, loaded in a child process with the bundle's folder
    on the library path (as the bootloader sets it), and put back unstripped if
    it no longer loads, or if it could not be loaded to check.
    """
    strip = shutil.which("strip")
    if strip is None or sys.platform != "linux":
        print("note: 'strip' (binutils) is not installed: the libraries keep their symbols")
        return 0
    environment = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    saved = 0
    for library in sorted(internal.rglob("*.so*")):
        if library.is_symlink() or not library.is_file():
            continue
        original = library.with_name(library.name + ".unstripped")
        shutil.copy2(library, original)
        before = library.stat().st_size
        stripped = subprocess.run(
            [strip, "--strip-unneeded", str(library)], capture_output=True, check=False
        )
        smaller = stripped.returncode == 0 and library.stat().st_size < before
        if smaller and _loads(library, environment):
            saved += before - library.stat().st_size
            original.unlink()
        else:
            original.replace(library)
    return saved


def _loads(library: Path, environment: dict[str, str]) -> bool:
    check = [sys.executable, "-c", _LOAD_CHECK, str(library)]
    return subprocess.run(check, env=environment, capture_output=True, check=False).returncode == 0


def icu_items_to_drop(items: Iterable[str]) -> list[str]:
    """The items of ICU's data package (``icupkg -l``) that the line-side window never reads.

    QtCore calls ICU for collation (``QCollator``, the file dialog's sort), case
    mapping in a locale, time-zone names and charsets by name; its UTF and
    Latin-1 codecs are its own. So out go break iteration and transliteration
    (Qt links neither), the charset tables (``*.cnv``: a ``QStringDecoder`` for a
    name other than UTF, Latin-1 or ASCII is invalid), and every locale but root
    and English: another locale falls back to them (the Unicode default sort
    order, English time-zone names), as the window is English anyway.
    """
    return [
        item
        for item in items
        if item.startswith(ICU_UNUSED_TREES) or item.endswith(".cnv") or _other_language(item)
    ]


def _other_language(item: str) -> bool:
    match = _LOCALE_ITEM.fullmatch(item)
    return match is not None and item.rpartition("/")[2] not in _TREE_ITEMS and match[1] != "en"


def reduce_icu_data(internal: Path, work: Path) -> int:
    """Replace ICU's data library in ``internal`` by a reduced one; return the bytes saved.

    The library (``libicudata.so.73``, 32 MB) holds one symbol, ``icudt73_dat``:
    ICU's whole data package. Its items that Qt never reads here
    (``icu_items_to_drop``) are removed with ``icupkg``, which checks that every
    kept item still finds what it depends on, and the rest is linked into a
    library of the same name and symbol. It replaces the original only if
    English collation, case mapping and time-zone names come out as before.

    Raises:
        BundleError: ``icupkg`` or a C compiler is missing, or the reduced data
            answers differently.
    """
    found = [path for path in internal.rglob("libicudata.so.*") if not path.is_symlink()]
    if sys.platform != "linux" or not found:
        print("note: no ICU data library in the bundle: nothing to reduce")
        return 0
    tools = {tool: shutil.which(tool) for tool in ("icupkg", "cc", "nm", "readelf")}
    missing = [tool for tool, path in tools.items() if path is None]
    if missing:
        msg = (
            f"cannot reduce ICU's data: {', '.join(missing)} not found; install ICU's tools "
            "and a C compiler (Debian: apt-get install icu-devtools gcc binutils)"
        )
        raise BundleError(msg)
    (library,) = found
    work.mkdir(parents=True, exist_ok=True)
    symbol, blob = _icu_data(library)
    package = work / f"{symbol.removesuffix('_dat')}{sys.byteorder[0]}.dat"  # icudt73l.dat
    package.write_bytes(blob)
    listed = _checked_run(["icupkg", "-l", str(package)]).split()
    drop = work / "drop.txt"
    drop.write_text("\n".join(icu_items_to_drop(listed)) + "\n", encoding="utf-8")
    reduced_package = work / "reduced" / package.name
    reduced_package.parent.mkdir(exist_ok=True)
    reduced_package.unlink(missing_ok=True)
    _checked_run(["icupkg", "-r", str(drop), str(package), str(reduced_package)])
    reduced = _link_data_library(symbol, reduced_package, work / library.name)
    expected, answered = qt_text(library), qt_text(reduced)
    if answered != expected:
        msg = f"Qt answers differently with the reduced ICU data: {answered} instead of {expected}"
        raise BundleError(msg)
    saved = library.stat().st_size - reduced.stat().st_size
    shutil.copy2(reduced, library)
    return saved


def _icu_data(library: Path) -> tuple[str, bytes]:
    """The name of the data symbol of ICU's data library and the bytes it holds."""
    symbols = _checked_run(["nm", "-D", "-S", "--defined-only", str(library)])
    [(address, size, name)] = [
        (int(fields[0], 16), int(fields[1], 16), fields[3])
        for fields in map(str.split, symbols.splitlines())
        if len(fields) == 4 and re.fullmatch(r"icudt\d+_dat", fields[3])
    ]
    # The symbol's address is in a loaded segment; its file offset follows from that one's.
    for line in _checked_run(["readelf", "-lW", str(library)]).splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"]:
            offset, start, _physical, length = (int(field, 16) for field in fields[1:5])
            if start <= address and address + size <= start + length:
                with library.open("rb") as handle:
                    handle.seek(offset + address - start)
                    return name, handle.read(size)
    msg = f"{name} of {library} is in no loaded segment: not an ICU data library as expected"
    raise BundleError(msg)


def _link_data_library(symbol: str, package: Path, library: Path) -> Path:
    """A shared library named ``library`` whose one symbol ``symbol`` holds ``package``."""
    source = library.with_name(f"{library.name}.S")
    source.write_text(
        "\n".join(
            [
                ".section .rodata",
                f".globl {symbol}",
                f".type {symbol}, @object",
                ".balign 16",  # ICU reads its data in place and wants it aligned
                f"{symbol}:",
                f'.incbin "{package}"',
                f".size {symbol}, . - {symbol}",
                '.section .note.GNU-stack, "", @progbits',
                "",
            ]
        ),
        encoding="utf-8",
    )
    soname = f"-Wl,-soname,{library.name}"
    _checked_run(["cc", "-shared", "-nostdlib", soname, "-o", str(library), str(source)])
    return library


def qt_text(icu_data: Path) -> dict:
    """What Qt answers (``QT_TEXT_CHECK``) with ``icu_data`` in place of its own ICU data."""
    environment = {**os.environ, "LD_PRELOAD": str(icu_data)}
    check = [sys.executable, "-c", QT_TEXT_CHECK]
    answer = subprocess.run(check, env=environment, capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        msg = f"Qt failed with the ICU data {icu_data}: {answer.stderr.strip()[-2000:]}"
        raise BundleError(msg)
    return json.loads(answer.stdout)


def _checked_run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        msg = f"{' '.join(command)} failed (exit {result.returncode}): {result.stderr.strip()}"
        raise BundleError(msg)
    return result.stdout


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
