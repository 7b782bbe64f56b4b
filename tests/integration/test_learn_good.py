"""'This is OK': a false reject is learned at once as a new, audited model version."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from inspector.acquisition.demo_line import DemoLine
from inspector.core import Verdict
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.package import load_package
from inspector.pipeline.line import DEFAULT_MODEL_DIR
from inspector.storage.audit import audit_entries, verify_audit
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.storage.reviews import latest_reviews
from inspector.training.learn_good import learn_good_parts
from tests.records import new_record

pytestmark = pytest.mark.slow


def _parts(kind: str, count: int, seed: int):
    with DemoLine(rate_hz=0, defect_rate=1.0, kinds=(kind,), seed=seed, max_parts=count) as line:
        return [frame.image for frame in line]


def test_a_part_marked_ok_passes_afterwards_and_other_defects_still_fail(tmp_path):
    engine = open_database(tmp_path / "line.db")
    store = ImageStore(tmp_path / "images")
    [spotted] = _parts("spot", 1, seed=5)  # an "acceptable" cosmetic spot, say
    relative = store.save(
        spotted, captured_at=datetime.now(UTC), station="s", part_id=1, verdict="reject"
    )
    record = replace(new_record(verdict=Verdict.REJECT, score=40.0), image_path=relative)
    [inspection_id] = add_inspections(engine, [record])

    before = AnomalyInferencer(DEFAULT_MODEL_DIR, device="cpu")
    cracks = _parts("crack", 3, seed=9)
    score_before = before.predict([store.load(relative)])[0].score
    assert score_before > before.default_threshold

    result = learn_good_parts(
        engine, store, DEFAULT_MODEL_DIR, [inspection_id], tmp_path / "model-v2", actor="qa.kim"
    )
    after = AnomalyInferencer(result.package_dir, device="cpu")
    assert result.new_version != result.old_version == before.version
    assert after.predict([store.load(relative)])[0].score < after.default_threshold
    assert all(o.score > after.default_threshold for o in after.predict(cracks))
    package = load_package(result.package_dir)
    assert package.training["learned_good_inspections"] == [inspection_id]
    assert (
        package.memory_bank.shape[0] == load_package(DEFAULT_MODEL_DIR).memory_bank.shape[0] + 128
    )
    assert latest_reviews(engine, [inspection_id])[inspection_id].decision.value == "false_reject"
    entry = audit_entries(engine)[-1]
    assert (entry.action, entry.actor, entry.old_value, entry.new_value) == (
        "model.learn_good",
        "qa.kim",
        result.old_version,
        result.new_version,
    )
    assert verify_audit(engine).ok
