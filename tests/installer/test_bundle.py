"""The line-side bundle, built with PyInstaller and run as an operator's PC would run it.

The bundle is built once per session by ``installer/build_bundle.py --reuse``
into ``dist/`` (as ``make bundle`` does): an unchanged source tree and
environment reuse the last bundle (the build checks the hash of every input
and the bundle's file list), anything else rebuilds it (minutes). The bundled
executable then runs in a scrubbed environment (no PYTHONPATH, a temporary
HOME), so it can only use what is inside the bundle.
"""

import ctypes.util
import json
import os
import runpy
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import PySide6
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from pypdf import PdfReader

from inspector.pipeline.line import DEFAULT_MODEL_DIR
from inspector.storage.engine import MIGRATIONS_DIR

pytestmark = [pytest.mark.slow, pytest.mark.installer]

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "installer" / "build_bundle.py"
#: The build script's functions and limits (a script, not a package: loaded by path).
BUILD = runpy.run_path(str(BUILD_SCRIPT))
BUILD_TIMEOUT_S = 3600  # PyInstaller's analysis on a shared 2-core CPU
RUN_TIMEOUT_S = 300
FRAMES = 20


@pytest.fixture(scope="module")
def bundle() -> Path:
    """``dist/inspector``, built (or reused when its inputs are unchanged) for these tests."""
    try:
        import PyInstaller  # noqa: F401 - only its presence is checked here
    except ImportError:
        pytest.fail(
            "PyInstaller is missing: install the installer extra "
            "(pip install -e '.[installer]'; make test does it)"
        )
    build = _build("--reuse")
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-8000:]
    return REPO / "dist" / "inspector"


def _build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )


def _run(bundle: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "QT_", "XDG_"))
    }
    clean.update(HOME=str(home), **env)
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(bundle / "inspector"), *args],
        cwd=home,
        env=clean,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def test_the_bundle_holds_no_torch_and_ships_the_demo_model_for_onnx_runtime(bundle):
    files = [path.relative_to(bundle) for path in bundle.rglob("*")]
    assert not [path for path in files if "torch" in str(path).lower()]
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    largest = BUILD["describe"](BUILD["largest_parts"](bundle))
    assert size <= BUILD["MAX_SIZE_MB"] * 1e6, f"{size / 1e6:.1f} MB; largest parts: {largest}"
    shipped = bundle / "_internal" / "models" / "demo-line" / "model.json"
    assert json.loads(shipped.read_text(encoding="utf-8"))["backend"] == "onnxruntime"
    info = json.loads((bundle / "build-info.json").read_text(encoding="utf-8"))
    assert info["size_bytes"] == size - (bundle / "build-info.json").stat().st_size


def test_a_bundle_over_the_size_limit_fails_the_build_naming_its_largest_parts(bundle):
    too_small = _build("--reuse", "--max-size-mb", "50")
    assert too_small.returncode == 1
    assert "over the 50 MB limit; its largest parts: " in too_small.stderr
    largest_name, largest_bytes = BUILD["largest_parts"](bundle)[0]
    assert f"{largest_name} {largest_bytes / 1e6:.0f} MB" in too_small.stderr
    assert (bundle / "build-info.json").is_file()  # left as it was, for the next --reuse


def test_the_bundled_app_runs_the_demo_line_headless_into_sqlite(bundle, tmp_path):
    db = tmp_path / "line.db"
    args = ("run", "--headless", "--source", "demo", "--rate", "0", "--seed", "5")
    result = _run(bundle, tmp_path / "home", *args, "--frames", str(FRAMES), "--db", str(db))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Inspected {FRAMES} parts" in result.stdout
    assert "ONNX Runtime" in result.stdout
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT part_id, verdict, score, model_version, error, image_path "
            "FROM inspections ORDER BY part_id"
        ).fetchall()
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert [row[0] for row in rows] == list(range(FRAMES))
    assert {row[1] for row in rows} <= {"accept", "reject", "review"}
    assert all(row[2] is not None and row[3].endswith("-onnx") and row[4] is None for row in rows)
    for _, verdict, *_rest, image_path in rows:
        if verdict != "accept":
            assert image_path and (tmp_path / "images" / image_path).is_file()
    # The bundle's own copy of the migrations ran, up to this source tree's newest one.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert revision == ScriptDirectory.from_config(config).get_current_head()


def test_the_bundled_app_writes_the_pdf_report_with_the_fonts_it_keeps(bundle, tmp_path):
    # The spec leaves most of matplotlib's fonts out: the report must still find its own.
    db = tmp_path / "line.db"
    args = ("run", "--headless", "--source", "demo", "--rate", "0", "--seed", "5")
    line = _run(bundle, tmp_path / "home", *args, "--frames", "8", "--db", str(db))
    assert line.returncode == 0, line.stdout + line.stderr
    pdf = tmp_path / "report.pdf"
    today = datetime.now(UTC).date()
    window = ("--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=2)))
    report = _run(bundle, tmp_path / "home", "report", *window, "--pdf", str(pdf), "--db", str(db))
    assert report.returncode == 0, report.stdout + report.stderr
    assert "findfont" not in report.stderr  # matplotlib's warning for a font it lacks
    pages = PdfReader(pdf).pages
    fonts = {
        str(font.get_object()["/BaseFont"]).partition("+")[2]
        for page in pages
        for font in page.get("/Resources", {}).get("/Font", {}).values()
    }
    assert fonts == {"DejaVuSans", "DejaVuSans-Bold"}
    assert "Parts inspected 8" in pages[0].extract_text()


def test_the_bundled_window_opens_offscreen_and_shows_parts(bundle, tmp_path):
    result = _run(bundle, tmp_path / "home", "gui", "--smoke-test", QT_QPA_PLATFORM="offscreen")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test passed" in result.stdout
    assert not (tmp_path / "home" / ".local" / "share" / "inspector").exists()


def test_engineering_commands_in_the_bundle_say_where_they_run(bundle, tmp_path):
    fit = _run(bundle, tmp_path / "home", "fit", "--good", str(tmp_path), "--out", "m")
    assert fit.returncode == 1
    assert "needs torch, which the line-side install leaves out" in fit.stderr
    assert "Traceback" not in fit.stderr
    torch_model = _run(
        bundle,
        tmp_path / "home",
        "run",
        "--headless",
        "--frames",
        "1",
        "--db",
        str(tmp_path / "x.db"),
        "--model",
        str(DEFAULT_MODEL_DIR),
    )
    assert torch_model.returncode == 1
    assert "PyTorch is not installed here" in torch_model.stderr


def test_the_bundled_icu_data_is_reduced_and_qt_answers_as_with_the_original(bundle):
    (bundled,) = (bundle / "_internal" / "PySide6" / "Qt" / "lib").glob("libicudata.so.*")
    original = Path(PySide6.__file__).parent / "Qt" / "lib" / bundled.name
    assert bundled.stat().st_size < original.stat().st_size / 5
    assert BUILD["qt_text"](bundled) == BUILD["qt_text"](original)


def test_the_bundle_reaches_postgresql_through_the_computers_libpq(bundle, tmp_path):
    internal = bundle / "_internal"
    assert not [*internal.glob("psycopg_binary*"), *internal.glob("libpq*")]
    url = "postgresql://inspector:secret@127.0.0.1:1/records"  # nothing listens on port 1
    args = ("run", "--headless", "--frames", "1", "--db", url)
    result = _run(bundle, tmp_path / "home", *args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "secret" not in result.stderr
    if ctypes.util.find_library("pq") is None:
        assert "libpq is not installed" in result.stderr
    else:  # psycopg loaded this computer's libpq, which tried to connect
        assert "Connection refused" in result.stderr
