"""A line with a classifier beside its anomaly model: configuration, start checks, records."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from sqlalchemy import text

from inspector.core import Verdict
from inspector.core.errors import ModelPackageError
from inspector.decision import DecisionRules
from inspector.decision.class_rules import ClassRule
from inspector.pipeline.line import LineSettings, build_line
from inspector.pipeline.station_config import ConfigError, load_station_config
from tests.biased_classifier import save_biased_classifier
from tests.unit.pipeline.helpers import ContrastScorer, part

CLASSES = ("crack", "good", "spot")


@pytest.fixture(scope="module")
def crack_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Says crack (0.8) about every image."""
    folder = tmp_path_factory.mktemp("classifiers") / "crack"
    return save_biased_classifier(folder, CLASSES, "crack", 0.8)


@pytest.fixture(scope="module")
def good_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Says good (0.9) about every image."""
    folder = tmp_path_factory.mktemp("classifiers") / "good"
    return save_biased_classifier(folder, CLASSES, "good", 0.9)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_classifier_and_class_rules_reach_the_line_settings(tmp_path):
    body = """
[model]
classifier = "models/classifier"
[decision]
on_classifier_good = "reject"
[[decision.classes]]
name = "crack"
threshold = 2.5
min_defect_area_px = 40
[[decision.classes]]
name = "spot"
min_confidence = 0.6
"""
    settings = load_station_config(write(tmp_path, body)).line_settings()
    assert settings.classifier_dir == (tmp_path / "models" / "classifier").resolve()
    assert settings.class_rules == (
        ClassRule("crack", threshold=2.5, min_defect_area_px=40),
        ClassRule("spot", min_confidence=0.6),
    )
    assert settings.on_classifier_good is Verdict.REJECT
    plain = load_station_config(write(tmp_path, "")).line_settings()
    assert (plain.classifier_dir, plain.class_rules) == (None, ())
    assert plain.on_classifier_good is Verdict.REVIEW


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[[decision.classes]]\nname = 'crack'", "set [model] classifier"),
        (
            "[model]\nclassifier = 'c'\n[[decision.classes]]\nname = 'good'",
            "on_classifier_good",
        ),
        (
            "[model]\nclassifier = 'c'\n[[decision.classes]]\nname = 'crack'\n"
            "[[decision.classes]]\nname = 'crack'",
            "crack named more than once",
        ),
        (
            "[model]\nclassifier = 'c'\n[[decision.classes]]\nname = 'crack'\nmin_confidence = 1.5",
            "decision.classes.0.min_confidence = 1.5",
        ),
        (
            "[model]\nclassifier = 'c'\n[[decision.classes]]\nname = 'crack'\nthreshhold = 1",
            "decision.classes.0.threshhold: unknown key",
        ),
        ("[decision]\non_classifier_good = 'maybe'", "decision.on_classifier_good = 'maybe'"),
    ],
)
def test_bad_class_settings_are_refused_with_key_and_reason(tmp_path, body, expected):
    with pytest.raises(ConfigError) as caught:
        load_station_config(write(tmp_path, body))
    assert expected in str(caught.value)


def test_a_class_rule_for_a_class_the_classifier_lacks_stops_the_line_start(
    tmp_path, crack_classifier
):
    settings = LineSettings(
        source=str(tmp_path),
        database=tmp_path / "db.sqlite",
        classifier_dir=crack_classifier,
        class_rules=(ClassRule("crack"), ClassRule("scratch", threshold=1.0)),
    )
    with pytest.raises(ModelPackageError) as caught:
        build_line(settings, scorer=ContrastScorer())
    message = str(caught.value)
    assert "'scratch'" in message and "'crack'" not in message
    assert "its defect classes are: crack, spot" in message
    no_classifier = LineSettings(source=str(tmp_path), class_rules=(ClassRule("crack"),))
    with pytest.raises(ModelPackageError, match=r"need a defect classifier.*\[model\] classifier"):
        build_line(no_classifier, scorer=ContrastScorer())


def _run(tmp_path: Path, classifier: Path, **rules) -> tuple[list[tuple], DecisionRules]:
    """Five parts (0, 2, 4 defective) through a built line; the stored rows."""
    images = tmp_path / "parts"
    images.mkdir()
    for index in range(5):
        cv2.imwrite(str(images / f"part-{index}.png"), part(defect=index % 2 == 0))
    settings = LineSettings(
        source=str(images),
        database=tmp_path / "line.sqlite",
        classifier_dir=classifier,
        min_defect_area_px=4,
        review_margin=0.0,
        device="cpu",
        **rules,
    )
    line = build_line(settings, scorer=ContrastScorer())
    line.station.start()
    assert line.station.wait(30), "the line did not finish"
    line.station.stop()
    with line.engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT i.part_id, i.verdict, i.model_version, i.rules_version, "
                "d.kind, d.confidence FROM inspections i "
                "LEFT JOIN defects d ON d.inspection_id = i.id ORDER BY i.part_id"
            )
        ).all()
    line.engine.dispose()
    return [tuple(row) for row in rows], line.station.rules


def test_a_line_names_defects_by_the_classifier_and_stores_them(tmp_path, crack_classifier):
    rows, rules = _run(tmp_path, crack_classifier, class_rules=(ClassRule("crack"),))
    assert [(r[0], r[1], r[4]) for r in rows] == [
        (0, "reject", "crack"),
        (1, "accept", None),
        (2, "reject", "crack"),
        (3, "accept", None),
        (4, "reject", "crack"),
    ]
    assert [r[5] for r in rows if r[4]] == pytest.approx([0.8] * 3)
    (model_version,) = {r[2] for r in rows}
    assert model_version.startswith("contrast-1+tiny-crack-")  # both models, as one version
    assert {r[3] for r in rows} == {rules.version}
    assert rules.classes == (ClassRule("crack"),)


def test_a_part_the_classifier_calls_good_is_reviewed_not_accepted(tmp_path, good_classifier):
    rows, _ = _run(tmp_path, good_classifier)
    defective = [r for r in rows if r[0] % 2 == 0]
    assert {(r[1], r[4]) for r in defective} == {("review", "crack")}  # crack: best non-good
    assert {r[1] for r in rows if r[0] % 2} == {"accept"}
