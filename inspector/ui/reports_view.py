"""The Reports tab: yield, p-chart, Pareto, score drift, lighting and review confusion of a period.

Charts are matplotlib figures in Qt canvases (``backend_qtagg``), drawn by
:mod:`inspector.reports.charts`, the same functions that draw the PDF report.
Why matplotlib rather than QtCharts or pyqtgraph, the two the issue names:

- QtCharts is not importable here: it ships in PySide6-Addons (a second, much
  larger wheel), while the application depends on PySide6-Essentials only.
- pyqtgraph would be a second charting library next to the one the PDF needs
  anyway (a headless ``inspector report`` cannot use a Qt widget library), and
  two implementations of each chart would drift apart. A quality file must
  show the chart the QA engineer looked at; one implementation guarantees it.
- These charts have tens to hundreds of points and are redrawn on demand,
  where matplotlib is fast enough; pyqtgraph's strength (live, high-rate
  plotting) is not needed here.

The figures are computed in one go by :func:`inspector.reports.period.period_report`
(a few aggregated, indexed queries), so the tab never reads individual records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.shifts import ShiftCalendar, local_zone
from inspector.reports.charts import (
    DARK,
    confusion_rows,
    draw_drift,
    draw_lighting,
    draw_p_chart,
    draw_pareto,
    draw_yield,
)
from inspector.reports.pdf_report import write_pdf_report
from inspector.reports.period import PeriodReport, period_report
from inspector.storage.image_store import ImageStore
from inspector.ui.history_model import TABLE_STYLE

QUICK_RANGES = {"Last 24 hours": 1, "Last 7 days": 7, "Last 30 days": 30}
BUCKETS = {"per hour": "hour", "per shift": "shift", "per day": "day"}
CHARTS = (draw_yield, draw_p_chart, draw_pareto, draw_drift, draw_lighting)


class ReportsView(QWidget):
    """Period and bucket choice, summary and confusion tables, four charts, PDF export.

    Args:
        engine: The station's database.
        image_store: For the PDF's pictures of the worst parts.
        calendar: Shift starts and the plant's time zone (this computer's zone by
            default); the range fields and every label are in that zone.
    """

    def __init__(
        self,
        engine: Engine,
        image_store: ImageStore,
        parent: QWidget | None = None,
        *,
        calendar: ShiftCalendar | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.image_store = image_store
        self.calendar = calendar or ShiftCalendar(tz=local_zone())
        self.report: PeriodReport | None = None

        now = QDateTime(datetime.now(self.calendar.tz).replace(tzinfo=None, microsecond=0))
        self.start_edit = _datetime_edit(now.addDays(-7))
        self.end_edit = _datetime_edit(now)
        self.quick = QComboBox()
        self.quick.addItems(["Choose a range…", *QUICK_RANGES])
        self.bucket = QComboBox()
        self.bucket.addItems(list(BUCKETS))
        self.bucket.setCurrentText("per shift")
        self.station = QLineEdit()
        self.station.setPlaceholderText("all stations")
        self.station.setMaximumWidth(160)
        self.refresh_button = QPushButton("Show")
        self.refresh_button.setObjectName("primaryButton")
        self.pdf_button = QPushButton("Export PDF report…")
        self.message = QLabel()
        self.message.setObjectName("error")

        self.summary = _table(["Figure", "Value"])
        self.shifts = _table(["Shift", "Parts", "Yield"])
        self.zone = QLabel(f"Times in {self.calendar.tz}")
        self.confusion = _table(["Machine", "Good", "Defective", "Reviewed"])
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.canvases = [FigureCanvasQTAgg(Figure(figsize=(5, 3), dpi=90)) for _ in CHARTS]
        for canvas in self.canvases:
            canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            canvas.setMinimumSize(300, 220)

        controls = QHBoxLayout()
        for label, widget in (
            ("From", self.start_edit),
            ("To", self.end_edit),
            ("", self.quick),
            ("Buckets", self.bucket),
            ("Station", self.station),
        ):
            if label:
                controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.zone)
        controls.addWidget(self.refresh_button)
        controls.addWidget(self.message, 1)
        controls.addWidget(self.pdf_button)
        tables = QVBoxLayout()
        tables.addWidget(_heading("Summary"))
        tables.addWidget(self.summary)
        tables.addWidget(_heading("Per shift"))
        tables.addWidget(self.shifts)
        tables.addWidget(_heading("Machine verdict vs. review"))
        tables.addWidget(self.confusion)
        tables.addWidget(self.notes)
        tables.addStretch(1)
        charts = QGridLayout()
        for i, canvas in enumerate(self.canvases):
            charts.addWidget(canvas, i // 2, i % 2)
        body = QHBoxLayout()
        body.addLayout(tables, 2)
        body.addLayout(charts, 5)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(body, 1)

        self.quick.activated.connect(self._quick_range)
        self.refresh_button.clicked.connect(self.refresh)
        self.station.returnPressed.connect(self.refresh)
        self.bucket.currentIndexChanged.connect(self.refresh)
        self.pdf_button.clicked.connect(self._ask_pdf)

    # -- actions -----------------------------------------------------------------

    def period(self) -> tuple[datetime, datetime]:
        """The chosen range as timezone-aware instants; the fields hold the plant's wall time."""
        tz = self.calendar.tz
        start = self.start_edit.dateTime().toPython().replace(tzinfo=tz).astimezone(UTC)
        end = self.end_edit.dateTime().toPython().replace(tzinfo=tz).astimezone(UTC)
        return start, end

    def set_period(self, start: datetime, end: datetime) -> None:
        """Show ``[start, end)`` (timezone-aware) in the range fields, in the plant's zone."""
        tz = self.calendar.tz
        self.start_edit.setDateTime(QDateTime(start.astimezone(tz).replace(tzinfo=None)))
        self.end_edit.setDateTime(QDateTime(end.astimezone(tz).replace(tzinfo=None)))

    def refresh(self) -> PeriodReport | None:
        """Compute and show the report of the chosen range; a bad range is shown, not raised."""
        start, end = self.period()
        try:
            report = period_report(
                self.engine,
                start,
                end,
                bucket=BUCKETS[self.bucket.currentText()],  # type: ignore[arg-type]
                calendar=self.calendar,
                station=self.station.text().strip() or None,
            )
        except ValueError as exc:
            self.message.setText(str(exc))
            return None
        self.message.clear()
        self.report = report
        _fill(self.summary, [list(row) for row in report.summary.rows()])
        _fill(
            self.shifts,
            [
                [
                    s.name,
                    f"{s.parts:,}",
                    "–" if s.yield_percent is None else f"{s.yield_percent:.2f} %",
                ]
                for s in report.per_shift
            ],
        )
        _fill(self.confusion, confusion_rows(report)[1])
        rate = report.confusion
        lines = [
            f"Escape rate {_pct(rate.escape_rate)} · false-reject rate "
            f"{_pct(rate.false_reject_rate)} (over reviewed parts).",
            "Drift baseline: the first half of the range.",
            *report.notes,
        ]
        self.notes.setText("\n".join(lines))
        for draw, canvas in zip(CHARTS, self.canvases, strict=True):
            draw(canvas.figure, report, DARK)
            canvas.figure.subplots_adjust(left=0.15, right=0.9, top=0.84, bottom=0.28)
            canvas.draw_idle()
        return report

    def export_pdf(self, path: Path) -> PeriodReport:
        """Write the PDF report of the chosen range (the figures shown, on paper)."""
        start, end = self.period()
        return write_pdf_report(
            self.engine,
            Path(path),
            start,
            end,
            image_store=self.image_store,
            bucket=BUCKETS[self.bucket.currentText()],  # type: ignore[arg-type]
            calendar=self.calendar,
            station=self.station.text().strip() or None,
        )

    # -- reactions ---------------------------------------------------------------

    def _quick_range(self, index: int) -> None:
        days = QUICK_RANGES.get(self.quick.itemText(index))
        if days is None:
            return
        end = datetime.now(UTC)
        self.set_period(end - timedelta(days=days), end)
        self.quick.setCurrentIndex(0)
        self.refresh()

    def _ask_pdf(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export PDF report", "quality-report.pdf", "PDF files (*.pdf)"
        )
        if not name:
            return
        try:
            self.export_pdf(Path(name))
        except (ValueError, OSError) as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"Report written to {name}")


def _datetime_edit(value: QDateTime) -> QDateTimeEdit:
    edit = QDateTimeEdit(value)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    edit.setCalendarPopup(True)
    return edit


def _table(header: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(header))
    table.setHorizontalHeaderLabels(header)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setStyleSheet(TABLE_STYLE)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            table.setItem(r, c, QTableWidgetItem(text))
    # As tall as its rows: the tables stack without scroll bars of their own.
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    table.setFixedHeight(height + sum(table.rowHeight(r) for r in range(len(rows))))


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    return label


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.1f} %"  # NaN: nobody reviewed
