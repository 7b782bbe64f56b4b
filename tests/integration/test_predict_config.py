"""`inspector predict --config`: the station file's rules judge images as on the line."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2

from inspector.acquisition.demo_line import DemoLine
from inspector.cli import main
from inspector.pipeline.line import DEFAULT_MODEL_DIR


def _defective_parts(folder: Path, count: int = 4) -> Path:
    folder.mkdir(parents=True)
    written = 0
    with DemoLine(rate_hz=0, defect_rate=1.0, seed=21, max_parts=count) as line:
        for frame in line:
            bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(folder / f"part{frame.part_id:02d}.png"), bgr)
            written += 1
    assert written == count
    return folder


def _predict(*args: str) -> list[dict]:
    out = Path(args[args.index("--output") + 1])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["predict", *args]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_the_station_file_zones_and_threshold_apply_in_predict(tmp_path: Path) -> None:
    images = _defective_parts(tmp_path / "parts")
    plain = _predict(
        "--model", str(DEFAULT_MODEL_DIR), "--output", str(tmp_path / "a.jsonl"), str(images)
    )
    assert {line["verdict"] for line in plain} == {"reject"}

    station = tmp_path / "station.toml"
    station.write_text(
        f'[model]\npath = "{DEFAULT_MODEL_DIR}"\n'
        "[decision]\nreview_margin = 0.0\n"
        '[[decision.zones]]\nname = "everything"\nbox = [0.0, 0.0, 1.0, 1.0]\nignore = true\n',
        encoding="utf-8",
    )
    zoned = _predict("--config", str(station), "--output", str(tmp_path / "b.jsonl"), str(images))
    assert [line["score"] for line in zoned] == [line["score"] for line in plain]
    assert {line["verdict"] for line in zoned} == {"accept"}  # nothing found counts there

    lenient = tmp_path / "lenient.toml"
    lenient.write_text(
        f'[model]\npath = "{DEFAULT_MODEL_DIR}"\n[decision]\nthreshold = 1e9\n', encoding="utf-8"
    )
    passed = _predict("--config", str(lenient), "--output", str(tmp_path / "c.jsonl"), str(images))
    assert {line["verdict"] for line in passed} == {"accept"}  # the file's threshold counts
    overridden = _predict(
        "--config",
        str(lenient),
        "--threshold",
        "1",
        "--output",
        str(tmp_path / "d.jsonl"),
        str(images),
    )
    assert {line["verdict"] for line in overridden} == {"reject"}  # --threshold wins


def test_predict_needs_a_model_or_a_station_file(tmp_path: Path) -> None:
    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(["predict", "--output", str(tmp_path / "x.jsonl"), str(tmp_path)])
    assert code == 2 and "--model MODEL_DIR or --config" in err.getvalue()
