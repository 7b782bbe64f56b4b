"""The PDF quality report of a time range: summary, charts, worst parts.

Written from the same :class:`PeriodReport` and chart functions as the
Reports tab, as every PDF record is (:mod:`inspector.reports.pdf_pages`:
searchable fonts, a file that appears only once complete).

Pages: 1. summary table, machine-vs-review table, notes; 2. yield and p-chart;
3. Pareto, score drift and lighting; 4. the highest-scoring rejected parts with their defects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from matplotlib.figure import Figure
from sqlalchemy import Engine

from inspector.core.verdict import Verdict
from inspector.reports.charts import (
    PAPER,
    confusion_rows,
    draw_drift,
    draw_lighting,
    draw_p_chart,
    draw_pareto,
    draw_yield,
)
from inspector.reports.part_images import load_part_image, render_stored
from inspector.reports.pdf_pages import A4, draw_table, pdf_document
from inspector.reports.period import PeriodReport, period_report
from inspector.reports.quality import Bucket, ShiftCalendar
from inspector.storage.audit import verify_audit
from inspector.storage.audit_query import AuditFilter, find_audit_entries
from inspector.storage.history import HistoryFilter, history_page
from inspector.storage.image_store import ImageStore

TOP_PARTS = 6
AUDIT_ROWS = 30
"""Changes listed on the report's audit page (the CSV export has them all)."""
_CANDIDATES = 40  # rejects read to find TOP_PARTS with a kept image


def write_pdf_report(
    engine: Engine,
    destination: Path,
    start: datetime,
    end: datetime,
    *,
    image_store: ImageStore | None = None,
    bucket: Bucket = "shift",
    calendar: ShiftCalendar | None = None,
    station: str | None = None,
) -> PeriodReport:
    """Write the report of ``[start, end)`` to ``destination`` and return its figures.

    Args:
        engine: From :func:`inspector.storage.engine.open_database`.
        destination: The PDF file; replaced only once the new one is complete.
        start: First instant of the period (timezone-aware).
        end: End of the period, excluded (timezone-aware).
        image_store: Where the parts' images are; without it the last page is left out.
        bucket: ``"hour"``, ``"shift"`` or ``"day"`` for the charts.
        calendar: Shift starts and the plant's time zone (UTC, 06/14/22 h by default).
        station: Only this station; all by default.

    Raises:
        ValueError: the range is empty, reversed or has no time zone.
        OSError: the file cannot be written.
    """
    calendar = calendar or ShiftCalendar()
    report = period_report(engine, start, end, bucket=bucket, calendar=calendar, station=station)
    title = f"Inspection quality report {_when(start, calendar)} – {_when(end, calendar)}"
    metadata = {"Title": title, "Creator": "Inspector", "Subject": "quality record"}
    with pdf_document(destination, metadata) as pdf:
        pdf.savefig(_summary_page(report, calendar))
        pdf.savefig(_chart_page(report, (draw_yield, draw_p_chart)))
        pdf.savefig(_chart_page(report, (draw_pareto, draw_drift, draw_lighting)))
        if image_store is not None:
            pdf.savefig(_parts_page(engine, image_store, report, calendar))
        pdf.savefig(_audit_page(engine, report, calendar))
    return report


def _summary_page(report: PeriodReport, calendar: ShiftCalendar) -> Figure:
    fig = Figure(figsize=A4)
    fig.text(0.08, 0.94, "Inspection quality report", fontsize=18, weight="bold", parse_math=False)
    scope = report.station or "all stations"
    fig.text(
        0.08,
        0.91,
        f"Period: {_when(report.start, calendar)} to {_when(report.end, calendar)} "
        f"({calendar.tz})   Scope: {scope}",
        fontsize=9,
        parse_math=False,
    )
    fig.text(
        0.08, 0.89, f"Generated {_when(datetime.now(UTC), calendar)}", fontsize=8, parse_math=False
    )
    fig.text(0.08, 0.85, "Summary", fontsize=12, weight="bold", parse_math=False)
    summary = fig.add_axes((0.08, 0.56, 0.84, 0.28))
    draw_table(summary, ["Figure", "Value"], [list(row) for row in report.summary.rows()])
    fig.text(0.08, 0.51, "Machine verdict vs. review", fontsize=12, weight="bold", parse_math=False)
    header, rows = confusion_rows(report)
    confusion = fig.add_axes((0.08, 0.38, 0.84, 0.12))
    draw_table(confusion, header, rows)
    rates = report.confusion
    lines = [
        "Escapes: accepted parts a reviewer found defective; false rejects: rejected or",
        "REVIEW parts a reviewer found good. Rates are over reviewed parts only:",
        f"escape rate {_pct(rates.escape_rate)}, "
        f"false-reject rate {_pct(rates.false_reject_rate)}.",
        *report.notes,
    ]
    fig.text(0.08, 0.34, "\n".join(lines), fontsize=8, va="top", linespacing=1.6, parse_math=False)
    return fig


def _chart_page(report: PeriodReport, drawers: tuple) -> Figure:  # type: ignore[type-arg]
    fig = Figure(figsize=A4)
    for sub, draw in zip(fig.subfigures(len(drawers), 1), drawers, strict=True):
        draw(sub, report, PAPER)
        sub.subplots_adjust(left=0.1, right=0.9, top=0.9, bottom=0.25)
    return fig


def _parts_page(
    engine: Engine, store: ImageStore, report: PeriodReport, calendar: ShiftCalendar
) -> Figure:
    """The highest-scoring rejected and REVIEW parts that still have their image."""
    fig = Figure(figsize=A4)
    fig.text(
        0.08, 0.95, "Highest-scoring rejected parts", fontsize=12, weight="bold", parse_math=False
    )
    filt = HistoryFilter(
        start=report.start,
        end=report.end,
        station=report.station,
        verdicts=frozenset({Verdict.REJECT, Verdict.REVIEW}),
    )
    page = history_page(engine, filt, sort="score", limit=_CANDIDATES)
    shown = 0
    for row in page.rows:
        part = row.inspection
        image, _why = load_part_image(part, store)
        if image is None:
            continue
        ax = fig.add_subplot(3, 2, shown + 1)
        ax.imshow(render_stored(part, image, scale=1.0))
        ax.set_axis_off()
        classes = ", ".join(dict.fromkeys(d.kind for d in part.defects)) or "no defect region"
        score = "–" if part.score is None else f"{part.score:.3f}"
        ax.set_title(
            f"#{part.id} part {part.part_id} · {part.station}\n"
            f"{part.verdict.value.upper()} · score {score} · {classes}\n"
            f"{_when(part.captured_at, calendar)}",
            fontsize=7,
            parse_math=False,
        )
        shown += 1
        if shown == TOP_PARTS:
            break
    if not shown:
        fig.text(
            0.08,
            0.9,
            "No rejected part of this period has a kept image.",
            fontsize=9,
            parse_math=False,
        )
    fig.subplots_adjust(left=0.06, right=0.94, top=0.9, bottom=0.04, hspace=0.35)
    return fig


def _audit_page(engine: Engine, report: PeriodReport, calendar: ShiftCalendar) -> Figure:
    """Who changed how parts are judged in the period, and whether the record is intact."""
    fig = Figure(figsize=A4)
    fig.text(0.08, 0.94, "Audit trail of the period", fontsize=14, weight="bold", parse_math=False)
    check = verify_audit(engine)
    state = (
        f"hash chain verified: {check.entries} entries intact"
        if check.ok
        else f"HASH CHAIN BROKEN at entry {check.first_bad_id}: the audit log was altered"
    )
    filt = AuditFilter(start=report.start, end=report.end)
    entries = find_audit_entries(engine, filt, limit=AUDIT_ROWS + 1)
    more = len(entries) > AUDIT_ROWS
    fig.text(
        0.08, 0.91, state, fontsize=9, color="#1d7a33" if check.ok else "#c0392b", parse_math=False
    )
    if not entries:
        fig.text(0.08, 0.87, "No change was recorded in this period.", fontsize=9, parse_math=False)
        return fig
    rows = [
        [
            _when(e.at, calendar),
            e.actor,
            e.action,
            _short(f"{e.old_value or '–'} -> {e.new_value or '–'}"),
            _short(e.reason or ""),
        ]
        for e in reversed(entries[:AUDIT_ROWS])
    ]
    table = fig.add_axes((0.04, 0.08, 0.92, 0.80))
    draw_table(table, ["When", "Who", "What", "Old -> new", "Reason"], rows)
    if more:
        fig.text(
            0.08,
            0.05,
            f"Only the latest {AUDIT_ROWS} changes are shown: "
            "inspector report --audit-csv FILE writes them all.",
            fontsize=8,
            parse_math=False,
        )
    return fig


def _short(text: str, limit: int = 38) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _when(moment: datetime, calendar: ShiftCalendar) -> str:
    return f"{moment.astimezone(calendar.tz):%Y-%m-%d %H:%M}"


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.1f} %"  # NaN: nobody reviewed
