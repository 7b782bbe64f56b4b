"""A written compare.json read back: the verdict line, figures side by side, promotion metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.reports.compare_json import read_compare_report
from inspector.reports.compare_report import compare_runs, verdict_line, write_compare_report
from tests.unit.reports.test_compare_report import BASELINE, BETTER, _run


def test_the_report_reads_back_as_the_cli_printed_it(tmp_path: Path) -> None:
    new, old = _run(tmp_path / "data", "new-1", BETTER), _run(tmp_path / "data", "old-1", BASELINE)
    summary = compare_runs(new, old)
    write_compare_report(new, old, summary, tmp_path / "report")

    outcome = read_compare_report(tmp_path / "report")
    assert outcome.verdict_line() == verdict_line(summary, "new-1", "old-1")
    assert (outcome.new_version, outcome.baseline_version) == ("new-1", "old-1")
    assert outcome.html.is_file()
    figures = {name: (ours, theirs) for name, ours, theirs in outcome.key_figures()}
    assert figures["escape rate"] == ("0.0 %", "33.3 %")
    assert figures["false-reject rate"] == ("0.0 %", "16.7 %")
    assert figures["escapes: dent"] == ("0.0 %", "33.3 %")
    metrics = outcome.promotion_metrics()
    assert metrics["verdict"] == "better" and metrics["new"]["version"] == "new-1"
    assert "disagreements" not in metrics  # the bulk stays in the report folder


def test_a_missing_or_foreign_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run the comparison again"):
        read_compare_report(tmp_path)
    (tmp_path / "compare.json").write_text(json.dumps({"schema": "other/1"}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a comparison report"):
        read_compare_report(tmp_path)
