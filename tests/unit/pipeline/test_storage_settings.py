"""Station file ``[storage]``: shared image root and retention, wired into the line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest

from inspector.core import Verdict
from inspector.pipeline.line import build_line
from inspector.pipeline.station_config import ConfigError, load_station_config
from inspector.storage.repository import add_inspections, recent_inspections
from inspector.storage.retention import RetentionPolicy, image_removal
from tests.records import new_record
from tests.unit.pipeline.helpers import ContrastScorer, part


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_keep_goods_30_days_rejects_a_year_and_no_quota(tmp_path):
    settings = load_station_config(write(tmp_path, "")).line_settings()
    assert settings.retention == RetentionPolicy(30, 365, None)
    assert settings.images is None


def test_storage_values_reach_the_settings_and_relative_images_follow_the_file(tmp_path):
    text = """
[storage]
images = "plant-images"
keep_good_days = 7
keep_reject_days = 90
image_quota_gb = 2
"""
    settings = load_station_config(write(tmp_path, text)).line_settings()
    assert settings.images == (tmp_path / "plant-images").resolve()
    assert settings.retention == RetentionPolicy(7, 90, 2 * 1024**3)


def test_zero_means_forever(tmp_path):
    text = "[storage]\nkeep_good_days = 0\nkeep_reject_days = 0\n"
    settings = load_station_config(write(tmp_path, text)).line_settings()
    assert settings.retention == RetentionPolicy(None, None, None)
    assert not settings.retention.does_anything


def test_rejects_kept_shorter_than_goods_is_refused_with_the_reason(tmp_path):
    text = "[storage]\nkeep_good_days = 60\nkeep_reject_days = 30\nimage_quota_gb = -1\n"
    with pytest.raises(ConfigError) as caught:
        load_station_config(write(tmp_path, text))
    message = str(caught.value)
    assert "storage.image_quota_gb = -1" in message
    text = "[storage]\nkeep_good_days = 60\nkeep_reject_days = 30\n"
    with pytest.raises(ConfigError, match="keep_reject_days .30.* at least keep_good_days .60"):
        load_station_config(write(tmp_path, text))


def test_line_writes_to_the_shared_image_root_and_prunes_it(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"p{index}.png"), part(defect=True))
    shared = tmp_path / "plant-images"
    text = f"""
[camera]
source = "{folder}"
rate_hz = 0
[storage]
database = "{tmp_path / "station-1.db"}"
images = "{shared}"
keep_good_days = 1
keep_reject_days = 2
"""
    settings = load_station_config(write(tmp_path, text)).line_settings(max_parts=3)
    line = build_line(settings, scorer=ContrastScorer())
    # A reject stored three days ago, with its image in the shared root.
    old = datetime.now(UTC) - timedelta(days=3)
    relative = line.image_store.save(
        part(defect=True), captured_at=old, station="station-1", part_id=99, verdict="reject"
    )
    [old_id] = add_inspections(
        line.engine,
        [new_record(captured_at=old, verdict=Verdict.REJECT, image_path=relative, part_id=99)],
    )
    line.station.start()
    assert line.station.wait(30)
    line.station.stop()

    assert line.image_store.root == shared
    records = recent_inspections(line.engine, limit=10)
    new = [r for r in records if r.id != old_id]
    assert len(new) == 3 and all(r.verdict is Verdict.REJECT for r in new)
    assert all((shared / r.image_path).is_file() for r in new)  # relative to the shared root
    assert line.retention is not None
    result = line.retention.run_once()
    assert result is not None and result.removed_old_kept == 1
    assert not (shared / relative).exists()
    assert image_removal(line.engine, old_id) is not None
    assert all((shared / r.image_path).is_file() for r in new)
    line.engine.dispose()
