"""The report charts, drawn with matplotlib on a figure the caller owns.

One drawing function per chart serves both the Reports tab (the figure sits in
a Qt canvas there) and the PDF report, so the chart a QA engineer looked at is
the chart filed in the quality record. Only ``matplotlib.figure`` is used here,
never ``pyplot`` or a backend: no global state, no GUI toolkit, safe in the
headless ``inspector report`` command and in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import FigureBase

from inspector.reports.period import PeriodReport
from inspector.reports.quality import VERDICT_ROWS, ControlChart, MeanDrift

_MAX_TICKS = 12


@dataclass(frozen=True)
class ChartTheme:
    """Colours of one medium: the dark screen or white paper."""

    background: str
    text: str
    grid: str
    good: str = "#2fa862"
    bad: str = "#d9434f"
    warn: str = "#e0a526"
    line: str = "#4c8dd6"
    limit: str = "#9aa4b1"


DARK = ChartTheme(background="#1e2227", text="#e6e9ed", grid="#3a414a")
PAPER = ChartTheme(background="#ffffff", text="#1b1f24", grid="#d5d9de", limit="#59636e")


def draw_yield(fig: FigureBase, report: PeriodReport, theme: ChartTheme = PAPER) -> Axes:
    """Yield per bucket as bars, with the defect rate (rejects + review) on top of each."""
    ax = _axes(fig, theme, f"Yield per {report.bucket}")
    series = report.series
    x = np.arange(len(series.buckets.labels))
    yield_pct = 100 * np.nan_to_num(series.yield_fraction)
    defect_pct = 100 * np.nan_to_num(series.defect_rate)
    ax.bar(x, yield_pct, color=theme.good, label="accepted %")
    ax.bar(x, defect_pct, bottom=yield_pct, color=theme.bad, label="rejected + review %")
    filled = series.inspected > 0
    low = float(yield_pct[filled].min()) if filled.any() else 0.0
    ax.set_ylim(max(0.0, low - 5), 100)
    ax.set_ylabel("% of parts")
    _x_labels(ax, series.buckets.labels)
    _legend(ax, theme)
    return ax


def draw_p_chart(fig: FigureBase, report: PeriodReport, theme: ChartTheme = PAPER) -> Axes:
    """Reject fraction per bucket against its 3-sigma limits; out-of-control points in red."""
    ax = _axes(fig, theme, "p-chart of the reject fraction (3σ limits)")
    if report.p is None:
        return _no_data(ax, theme, "no parts in this period")
    labels = report.series.buckets.labels
    _control_chart(ax, report.p, labels, theme, scale=100.0)
    ax.set_ylabel("% rejected + review")
    return ax


def draw_pareto(fig: FigureBase, report: PeriodReport, theme: ChartTheme = PAPER) -> Axes:
    """Defect classes by count, most frequent first, with the cumulative share."""
    ax = _axes(fig, theme, "Pareto of defect classes")
    pareto = report.pareto
    if not pareto.classes:
        return _no_data(ax, theme, "no defects recorded in this period")
    x = np.arange(len(pareto.classes))
    ax.bar(x, pareto.defects, color=theme.bad)
    ax.set_ylabel("defects")
    ax.set_xticks(x, pareto.classes, rotation=30, ha="right")
    share = ax.twinx()
    share.plot(x, pareto.cumulative_percent, color=theme.warn, marker="o")
    share.set_ylim(0, 105)
    share.set_ylabel("cumulative %", color=theme.text)
    share.tick_params(colors=theme.text)
    for spine in share.spines.values():
        spine.set_color(theme.grid)
    return ax


def draw_drift(fig: FigureBase, report: PeriodReport, theme: ChartTheme = PAPER) -> Axes:
    """Mean anomaly score of accepted parts per bucket, with its limits and alarm.

    The shaded buckets are the baseline that defines normal (see :mod:`period`).
    """
    return _mean_drift_chart(
        fig,
        report,
        report.drift,
        theme,
        ("Score drift of good parts", "scores have shifted", "mean score", "good parts"),
    )


def draw_lighting(fig: FigureBase, report: PeriodReport, theme: ChartTheme = PAPER) -> Axes:
    """Mean grey level of the parts per bucket, with its limits and alarm: a dimming lamp
    shows here even when the model standardises exposure and its scores do not move."""
    return _mean_drift_chart(
        fig,
        report,
        report.lighting,
        theme,
        ("Lighting of the parts", "lighting has shifted", "mean grey (0-255)", "measured parts"),
    )


def _mean_drift_chart(
    fig: FigureBase,
    report: PeriodReport,
    drift: MeanDrift | None,
    theme: ChartTheme,
    words: tuple[str, str, str, str],
) -> Axes:
    """A :class:`MeanDrift` with its baseline shaded; ``words`` = (title, what the alarm
    says, y label, what it needs)."""
    title, alarm_text, ylabel, needs = words
    alarm = drift is not None and drift.chart.alarm
    shown = title + (f"  —  ALARM: {alarm_text}" if alarm else "")
    ax = _axes(fig, theme, shown, colour=theme.bad if alarm else None)
    if drift is None:
        return _no_data(
            ax, theme, f"needs {needs} in two {report.bucket}s\nof the range's first half"
        )
    baseline = sum(s < report.baseline_end for s in drift.buckets.starts)
    if baseline < len(drift.buckets.starts):
        ax.axvspan(-0.5, baseline - 0.5, color=theme.grid, alpha=0.35, label="baseline")
    _control_chart(ax, drift.chart, drift.buckets.labels, theme, scale=1.0)
    ax.set_ylabel(ylabel)
    return ax


def confusion_rows(report: PeriodReport) -> tuple[list[str], list[list[str]]]:
    """The machine-vs-review table: header and one row per machine verdict, as text."""
    header = ["Machine verdict", "Judged good", "Judged defective", "Reviewed"]
    rows = [
        [verdict.value.upper(), f"{good:,}", f"{bad:,}", f"{good + bad:,}"]
        for verdict, (good, bad) in zip(VERDICT_ROWS, report.confusion.matrix, strict=True)
    ]
    return header, rows


def _control_chart(
    ax: Axes, chart: ControlChart, labels: Sequence[str], theme: ChartTheme, *, scale: float
) -> None:
    x = np.arange(len(labels))
    ax.plot(x, chart.values * scale, color=theme.line, marker="o", markersize=3, label="value")
    ax.axhline(chart.centre * scale, color=theme.good, linewidth=1, label="centre")
    ax.step(x, chart.ucl * scale, where="mid", color=theme.limit, linestyle="--", label="UCL/LCL")
    ax.step(x, chart.lcl * scale, where="mid", color=theme.limit, linestyle="--")
    flagged = chart.out_of_control
    if flagged.any():
        ax.scatter(
            x[flagged],
            chart.values[flagged] * scale,
            s=60,
            color=theme.bad,
            zorder=3,
            label=f"out of control ({int(flagged.sum())})",
        )
    _x_labels(ax, labels)
    _legend(ax, theme)


def _axes(fig: FigureBase, theme: ChartTheme, title: str, colour: str | None = None) -> Axes:
    fig.clear()
    fig.set_facecolor(theme.background)
    ax = fig.add_subplot()
    ax.set_facecolor(theme.background)
    ax.set_title(title, color=colour or theme.text, fontsize=10, loc="left", pad=16)
    ax.tick_params(colors=theme.text, labelsize=8)
    ax.yaxis.label.set_color(theme.text)
    ax.grid(True, axis="y", color=theme.grid, linewidth=0.6)
    ax.set_axisbelow(True)
    for spine in ax.spines.values():
        spine.set_color(theme.grid)
    return ax


def _x_labels(ax: Axes, labels: Sequence[str]) -> None:
    step = max(1, int(np.ceil(len(labels) / _MAX_TICKS)))
    ticks = np.arange(0, len(labels), step)
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=30, ha="right", fontsize=7)
    if labels:
        ax.set_xlim(-0.6, len(labels) - 0.4)


def _legend(ax: Axes, theme: ChartTheme) -> None:
    # A row between the title and the plot: never over the data it explains.
    legend = ax.legend(
        fontsize=6.5, loc="lower left", bbox_to_anchor=(0.0, 0.99), ncols=5, frameon=False
    )
    for text in legend.get_texts():
        text.set_color(theme.text)


def _no_data(ax: Axes, theme: ChartTheme, why: str) -> Axes:
    ax.text(0.5, 0.5, why, ha="center", va="center", color=theme.limit, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
