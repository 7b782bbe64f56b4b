"""Saving a station file: validated, atomic, versioned, audited (real file, real SQLite log)."""

import os

import pytest

from inspector.pipeline.station_config import ConfigError, load_station_config, parse_station_config
from inspector.pipeline.station_file import AUDIT_ACTION, backups_of, save_station_text
from inspector.storage.audit import audit_entries, verify_audit
from inspector.storage.engine import open_database

FIRST = '# press line 2\n[station]\nname = "press-2"  # as on the PLC\n'
SECOND = FIRST.replace("press-2", "press-3")
THIRD = SECOND + "\n[decision]\nthreshold = 4.5\n"


@pytest.fixture
def engine(tmp_path):
    engine = open_database(tmp_path / "line.db")
    yield engine
    engine.dispose()


def test_saves_keep_numbered_backups_and_audit_who_what_why(tmp_path, engine):
    station = tmp_path / "station.toml"
    first = save_station_text(
        station, FIRST, engine=engine, actor="j.okafor", reason="new press", expected_old=None
    )
    assert first.backup is None and station.read_text(encoding="utf-8") == FIRST
    second = save_station_text(
        station, SECOND, engine=engine, actor="j.okafor", reason="renamed", expected_old=FIRST
    )
    third = save_station_text(
        station, THIRD, engine=engine, actor="a.lind", reason="fewer escapes", expected_old=SECOND
    )
    assert backups_of(station) == [second.backup, third.backup]
    assert [p.name for p in backups_of(station)] == [
        "station.toml.v0001.bak",
        "station.toml.v0002.bak",
    ]
    assert second.backup.read_text(encoding="utf-8") == FIRST
    assert third.backup.read_text(encoding="utf-8") == SECOND
    assert load_station_config(station).decision.threshold == 4.5
    assert third.config.station.name == "press-3"
    entries = audit_entries(engine)
    assert [(e.action, e.actor, e.reason) for e in entries] == [
        (AUDIT_ACTION, "j.okafor", "new press"),
        (AUDIT_ACTION, "j.okafor", "renamed"),
        (AUDIT_ACTION, "a.lind", "fewer escapes"),
    ]
    assert entries[2].id == third.audit_id and entries[2].subject == str(station.resolve())
    assert "kept as station.toml.v0002.bak" in entries[2].old_value
    assert "+threshold = 4.5" in entries[2].new_value
    assert '-name = "press-2"  # as on the PLC' in entries[1].new_value
    assert verify_audit(engine).ok
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_invalid_text_is_refused_with_every_problem_and_the_file_is_untouched(tmp_path, engine):
    station = tmp_path / "station.toml"
    station.write_text(FIRST, encoding="utf-8")
    bad = "[decision]\nthreshold = -1\nfail_safe = 'explode'\n[camera]\nsorce = 'demo'\n"
    with pytest.raises(ConfigError) as caught:
        save_station_text(station, bad, engine=engine, actor="a", reason="r", expected_old=FIRST)
    message = str(caught.value)
    assert "decision.threshold = -1" in message
    assert "decision.fail_safe = 'explode'" in message
    assert "camera.sorce: unknown key" in message
    assert station.read_text(encoding="utf-8") == FIRST
    assert backups_of(station) == [] and audit_entries(engine) == []


def test_a_file_changed_on_disk_since_it_was_opened_is_not_overwritten(tmp_path, engine):
    station = tmp_path / "station.toml"
    station.write_text(SECOND, encoding="utf-8")
    with pytest.raises(ConfigError, match="changed on disk since it was opened.*reload"):
        save_station_text(station, THIRD, engine=engine, actor="a", reason="r", expected_old=FIRST)
    assert station.read_text(encoding="utf-8") == SECOND


@pytest.mark.parametrize(
    ("actor", "reason", "text", "expected"),
    [
        ("", "r", SECOND, "needs a user name"),
        ("a", "  ", SECOND, "say why"),
        ("a", "r", FIRST, "nothing to save"),
    ],
)
def test_no_actor_no_reason_or_no_change_is_refused(
    tmp_path, engine, actor, reason, text, expected
):
    station = tmp_path / "station.toml"
    station.write_text(FIRST, encoding="utf-8")
    with pytest.raises(ValueError, match=expected):
        save_station_text(
            station, text, engine=engine, actor=actor, reason=reason, expected_old=FIRST
        )
    assert audit_entries(engine) == []


def test_a_failing_audit_leaves_the_old_file_and_no_backup_or_temporary(tmp_path):
    station = tmp_path / "station.toml"
    station.write_text(FIRST, encoding="utf-8")
    station.chmod(0o640)
    engine = open_database(tmp_path / "line.db")
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE audit_log")
    with pytest.raises(Exception, match="audit_log"):
        save_station_text(station, SECOND, engine=engine, actor="a", reason="r", expected_old=FIRST)
    engine.dispose()
    assert station.read_text(encoding="utf-8") == FIRST
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.db", "station.toml"]
    assert os.stat(station).st_mode & 0o777 == 0o640


def test_permissions_survive_a_save_and_text_validates_like_the_file(tmp_path, engine):
    station = tmp_path / "station.toml"
    station.write_text(FIRST, encoding="utf-8")
    station.chmod(0o640)
    save_station_text(station, SECOND, engine=engine, actor="a", reason="r", expected_old=FIRST)
    assert os.stat(station).st_mode & 0o777 == 0o640
    models = tmp_path / "models"
    models.mkdir()
    text = '[model]\npath = "models"\n'
    assert parse_station_config(text, station).model.path == models.resolve()
    with pytest.raises(ConfigError, match=r"station\.toml is not valid TOML"):
        parse_station_config("[model\n", station)


def test_a_folder_that_cannot_be_written_is_explained(tmp_path, engine):
    station = tmp_path / "missing" / "station.toml"
    with pytest.raises(ConfigError, match="cannot write in .*missing"):
        save_station_text(station, FIRST, engine=engine, actor="a", reason="r", expected_old=None)
    assert not station.parent.exists() and audit_entries(engine) == []
