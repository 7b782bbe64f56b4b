"""``inspector db prune`` and ``inspector user list|set-role`` on real databases and folders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from inspector.cli import main
from inspector.core import Verdict
from inspector.storage.audit import audit_entries
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.storage.retention import image_removal
from inspector.storage.users import Role, add_user
from tests.records import new_record


def test_db_prune_dry_run_then_for_real(database_url, tmp_path, capsys):
    engine = open_database(database_url)
    store = ImageStore(tmp_path / "shared-images")
    old = datetime.now(UTC) - timedelta(days=40)
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    path = store.save(pixels, captured_at=old, station="s", part_id=1, verdict=Verdict.ACCEPT)
    [part] = add_inspections(engine, [new_record(captured_at=old, image_path=path)])
    args = ["db", "prune", "--db", str(database_url), "--images", str(store.root)]

    assert main([*args, "--dry-run"]) == 0
    assert "would remove 1 images" in capsys.readouterr().out
    assert get_inspection(engine, part).image_path == path

    assert main([*args, "--keep-good-days", "50", "--keep-reject-days", "100"]) == 0
    assert "removed 0 images" in capsys.readouterr().out

    assert main(args) == 0
    assert "removed 1 images" in capsys.readouterr().out
    assert get_inspection(engine, part).image_path is None
    assert image_removal(engine, part) is not None and not store.path(path).exists()
    engine.dispose()


def test_db_prune_refuses_evidence_kept_shorter_than_goods(db_path, capsys):
    args = ["db", "prune", "--db", str(db_path), "--keep-good-days", "90"]
    assert main([*args, "--keep-reject-days", "30"]) == 2
    assert "keep_reject_days (30.0) must be at least keep_good_days (90.0)" in (
        capsys.readouterr().err
    )


def test_user_list_and_set_role_are_audited(database_url, capsys):
    engine = open_database(database_url)
    db = str(database_url)
    assert main(["user", "list", "--db", db]) == 0
    assert "no users yet" in capsys.readouterr().out
    add_user(engine, "ana", Role.QA, "s3cret-pass", actor="admin")
    args = ["user", "set-role", "ana", "--role", "engineer", "--reason", "line lead"]
    assert main([*args, "--by", "root", "--db", db]) == 0
    assert main(["user", "list", "--db", db]) == 0
    assert "ana                      engineer" in capsys.readouterr().out
    last = audit_entries(engine)[-1]
    assert (last.actor, last.old_value, last.new_value, last.reason) == (
        "root",
        "qa",
        "engineer",
        "line lead",
    )
    assert (
        main(
            ["user", "set-role", "bo", "--role", "qa", "--reason", "x", "--by", "root", "--db", db]
        )
        == 1
    )
    assert "no user named 'bo'" in capsys.readouterr().err
    engine.dispose()
