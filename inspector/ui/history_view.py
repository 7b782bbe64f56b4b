"""The History tab: filter the station's records, page through them, open one, export CSV.

A thin view: the widgets build a :class:`~inspector.storage.history.HistoryFilter`,
the :class:`~inspector.ui.history_model.HistoryTableModel` pages through the
matches, and a double-click opens the stored part. Nothing here writes to the
database, so the tab can stay open beside the running line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QDateTime, QModelIndex, Qt
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.shifts import ShiftCalendar, local_zone
from inspector.core.verdict import Verdict
from inspector.reports.csv_export import write_history_csv
from inspector.storage.history import HistoryFilter, SortKey
from inspector.storage.image_store import ImageStore
from inspector.ui.history_model import TABLE_STYLE, HistoryTableModel
from inspector.ui.stored_inspection_dialog import StoredInspectionDialog

PERIODS: dict[str, timedelta | None] = {
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
    "Custom": None,
}
VERDICTS: dict[str, frozenset[Verdict]] = {
    "Any verdict": frozenset(),
    "Accepted": frozenset({Verdict.ACCEPT}),
    "Rejected": frozenset({Verdict.REJECT}),
    "Review": frozenset({Verdict.REVIEW}),
    "Rejected or review": frozenset({Verdict.REJECT, Verdict.REVIEW}),
}
REVIEWED: dict[str, bool | None] = {
    "Reviewed or not": None,
    "Reviewed": True,
    "Not reviewed": False,
}
SORTS: dict[str, tuple[SortKey, bool]] = {
    "Newest first": ("captured_at", True),
    "Oldest first": ("captured_at", False),
    "Highest score first": ("score", True),
    "Lowest score first": ("score", False),
}


class HistoryView(QWidget):
    """Filter bar, lazily paged table and export of the filtered records.

    Args:
        engine: The station's database.
        image_store: Where the records' images are kept.
        page_size: Rows read per page as the table scrolls.
        classifier: The line's defect classifier package, for the viewer's
            "Why?" (Grad-CAM); ``None`` shows the anomaly map only.
        calendar: The plant's time zone (this computer's zone by default), as
            the Reports tab has it: the From/To fields and every time shown are
            in that zone, so both tabs count the same parts for the same day.
        actor: The signed-in QA user's name (asking for a sign-in), so a part's
            dialog can record a review of it, an escape above all; ``None``: no form.
    """

    def __init__(
        self,
        engine: Engine,
        image_store: ImageStore,
        parent: QWidget | None = None,
        *,
        page_size: int = 200,
        classifier: Path | None = None,
        calendar: ShiftCalendar | None = None,
        actor: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.actor = actor
        self.image_store = image_store
        self.classifier = classifier
        self.tz = calendar.tz if calendar is not None else local_zone()
        self.model = HistoryTableModel(engine, page_size=page_size, parent=self, tz=self.tz)

        self.period = _combo(PERIODS, "Last 24 hours")
        now = QDateTime(datetime.now(self.tz).replace(tzinfo=None, microsecond=0))
        self.start_edit = _datetime_edit(now.addDays(-1))
        self.end_edit = _datetime_edit(now.addSecs(3600))
        self.verdict = _combo(VERDICTS)
        self.reviewed = _combo(REVIEWED)
        self.sort = _combo(SORTS)
        self.serial = _text("exact serial or lot")
        self.station = _text("any station")
        self.camera = _text("any camera")
        self.defect_class = _text("any class")
        self.model_version = _text("any model")
        self.score_min = _text("min", number=True)
        self.score_max = _text("max", number=True)
        self.apply_button = QPushButton("Apply filter")
        self.apply_button.setObjectName("primaryButton")
        self.reset_button = QPushButton("Reset")
        self.export_button = QPushButton("Export CSV…")
        self.count_label = QLabel()
        self.count_label.setObjectName("heading")
        self.zone = QLabel(f"Times in {self.tz}")
        self.message = QLabel()
        self.message.setObjectName("error")

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setStyleSheet(TABLE_STYLE)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((150, 90, 80, 80, 80, 70, 80, 150, 160)):
            self.table.setColumnWidth(column, width)

        filters = QGridLayout()
        row1 = [
            ("Period", self.period),
            ("From", self.start_edit),
            ("To", self.end_edit),
            ("Verdict", self.verdict),
            ("Review", self.reviewed),
            ("Sort", self.sort),
        ]
        row2 = [
            ("Serial", self.serial),
            ("Station", self.station),
            ("Camera", self.camera),
            ("Class", self.defect_class),
            ("Model", self.model_version),
            ("Score ≥", self.score_min),
            ("Score ≤", self.score_max),
        ]
        for row, pairs in enumerate((row1, row2)):
            for i, (label, widget) in enumerate(pairs):
                filters.addWidget(QLabel(label), row, 2 * i, Qt.AlignmentFlag.AlignRight)
                filters.addWidget(widget, row, 2 * i + 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label)
        buttons.addWidget(self.zone)
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)

        self.period.currentTextChanged.connect(self._period_changed)
        self.apply_button.clicked.connect(self.apply_filter)
        self.reset_button.clicked.connect(self.reset_filter)
        self.export_button.clicked.connect(self._ask_export)
        for edit in (
            self.serial,
            self.station,
            self.camera,
            self.defect_class,
            self.model_version,
            self.score_min,
            self.score_max,
        ):
            edit.returnPressed.connect(self.apply_filter)
        for combo in (self.verdict, self.reviewed, self.sort):
            combo.currentIndexChanged.connect(self.apply_filter)
        self.table.doubleClicked.connect(self._open_index)
        self.model.total_known.connect(self._show_count)
        self._period_changed(self.period.currentText())  # runs the first query

    # -- actions -----------------------------------------------------------------

    def current_filter(self) -> HistoryFilter:
        """The filter the widgets describe.

        Raises:
            ValueError: a score is not a number, or a range is reversed; the
                message names the field.
        """
        start = end = None
        span = PERIODS[self.period.currentText()]
        if self.period.currentText() == "Custom":
            start = self.start_edit.dateTime().toPython().replace(tzinfo=self.tz).astimezone(UTC)
            end = self.end_edit.dateTime().toPython().replace(tzinfo=self.tz).astimezone(UTC)
        elif span is not None:
            end = datetime.now(UTC) + timedelta(minutes=1)  # parts stored this very minute
            start = end - span - timedelta(minutes=1)
        return HistoryFilter(
            start=start,
            end=end,
            serial=self.serial.text().strip() or None,
            station=self.station.text().strip() or None,
            camera_id=self.camera.text().strip() or None,
            verdicts=VERDICTS[self.verdict.currentText()],
            defect_class=self.defect_class.text().strip() or None,
            model_version=self.model_version.text().strip() or None,
            score_min=_number(self.score_min, "Score ≥"),
            score_max=_number(self.score_max, "Score ≤"),
            reviewed=REVIEWED[self.reviewed.currentText()],
        )

    def apply_filter(self) -> bool:
        """Run the query the widgets describe; a bad field is shown, not raised."""
        try:
            filt = self.current_filter()
        except ValueError as exc:
            self.message.setText(str(exc))
            return False
        self.message.clear()
        sort, descending = SORTS[self.sort.currentText()]
        self.count_label.setText("Counting…")
        self.model.set_query(filt, sort, descending)
        return True

    def reset_filter(self) -> None:
        """Back to the last 24 hours, newest first, no other criterion."""
        for edit in (
            self.serial,
            self.station,
            self.camera,
            self.defect_class,
            self.model_version,
            self.score_min,
            self.score_max,
        ):
            edit.clear()
        for combo in (self.verdict, self.reviewed, self.sort):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.period.blockSignals(True)
        self.period.setCurrentText("Last 24 hours")
        self.period.blockSignals(False)
        self._period_changed(self.period.currentText())

    def open_row(self, row: int) -> StoredInspectionDialog:
        """Open the stored part shown on ``row`` (non-modal: the history stays usable)."""
        stored = self.model.row_at(row).inspection
        dialog = StoredInspectionDialog(
            stored,
            self.engine,
            self.image_store,
            self,
            classifier=self.classifier,
            tz=self.tz,
            actor=self.actor,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def export_csv(self, path: Path) -> int:
        """Write every record of the current filter (not only the rows read) as CSV."""
        sort, descending = SORTS[self.sort.currentText()]
        return write_history_csv(
            self.engine, self.model.filter, Path(path), sort=sort, descending=descending
        )

    # -- reactions ---------------------------------------------------------------

    def _ask_export(self) -> None:
        if not self.apply_filter():  # export what the fields show, typed but not applied too
            return
        name, _ = QFileDialog.getSaveFileName(
            self, "Export filtered records", "inspections.csv", "CSV files (*.csv)"
        )
        if not name:
            return
        try:
            written = self.export_csv(Path(name))
        except OSError as exc:
            self.message.setText(f"cannot write {name}: {exc.strerror or exc}")
            return
        self.message.setText(f"{written:,} records written to {name}")

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_row(index.row())

    def _period_changed(self, text: str) -> None:
        custom = text == "Custom"
        self.start_edit.setEnabled(custom)
        self.end_edit.setEnabled(custom)
        self.apply_filter()

    def _show_count(self, total: int) -> None:
        self.count_label.setText(f"{total:,} parts match")


def _combo(choices: dict, current: str | None = None) -> QComboBox:  # type: ignore[type-arg]
    combo = QComboBox()
    combo.addItems(list(choices))
    if current is not None:
        combo.setCurrentText(current)
    return combo


def _datetime_edit(value: QDateTime) -> QDateTimeEdit:
    edit = QDateTimeEdit(value)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    edit.setCalendarPopup(True)
    return edit


def _text(placeholder: str, *, number: bool = False) -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    if number:
        edit.setValidator(QDoubleValidator())
        edit.setMaximumWidth(80)
    return edit


def _number(edit: QLineEdit, name: str) -> float | None:
    text = edit.text().strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        msg = f"{name}: {text!r} is not a number; type e.g. 0.5 or leave it empty"
        raise ValueError(msg) from None
