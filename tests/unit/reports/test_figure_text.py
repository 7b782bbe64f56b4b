"""How reports write figures: rates, scores and the missing ones."""

from __future__ import annotations

import math

import pytest

from inspector.reports.figure_text import NOT_AVAILABLE, number_or_na, percent_or_na
from inspector.reports.robustness_classifier import classifier_attacks_html


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0.0 %"), (0.05, "5.0 %"), (17 / 59, "28.8 %"), (1.0, "100.0 %")],
)
def test_percent_or_na_writes_shares_to_one_decimal(value: float, text: str) -> None:
    assert percent_or_na(value) == text


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_missing_figures_read_n_a(value: float | None) -> None:
    assert percent_or_na(value) == NOT_AVAILABLE == "n/a"
    assert number_or_na(value) == NOT_AVAILABLE


def test_number_or_na_rounds_to_the_digits_asked() -> None:
    assert number_or_na(0.99887) == "0.9989"
    assert number_or_na(3.60943, 2) == "3.61"


def test_the_classifier_attack_table_writes_n_a_for_a_rate_it_could_not_compute() -> None:
    section = {
        "clean_accuracy": 0.9,
        "clean_good_vs_defect_accuracy": math.nan,  # no good images in the sample
        "epsilons": [1.0],
        "results": [
            {"method": m, "epsilon": 1.0, "accuracy": 0.5, "good_vs_defect_accuracy": None}
            for m in ("fgsm", "pgd")
        ],
        "images": [{"class": "crack"}],
        "note": "L-infinity attacks",
        "steps": 5,
    }
    page = classifier_attacks_html(section, None)
    assert "<td>90.0 %</td><td>n/a</td>" in page
    assert "<td>50.0 %</td><td>n/a</td>" in page
    assert "nan" not in page.lower().replace("n/a", "")
