"""The history as a Qt table model that reads one page at a time as the table scrolls.

Qt asks ``canFetchMore`` / ``fetchMore`` when the view nears the bottom; each
call runs one keyset page query (:func:`inspector.storage.history.history_page`,
a single index seek however deep the page), so a table over millions of
records opens at once and never holds more than what was scrolled through.
The total count can take longer on broad filters, so it runs on a worker
thread and arrives later through a queued signal.
"""

from __future__ import annotations

import threading
from datetime import tzinfo
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor
from sqlalchemy import Engine

from inspector.core.verdict import Verdict
from inspector.storage.history import (
    HistoryCursor,
    HistoryFilter,
    HistoryRow,
    SortKey,
    count_history,
    history_page,
)

PAGE_SIZE = 200
COLUMNS = (
    "Time",
    "Station",
    "Camera",
    "Part",
    "Verdict",
    "Score",
    "Threshold",
    "Defects",
    "Model",
    "Review",
)
VERDICT_COLOURS = {
    Verdict.ACCEPT: QColor("#2fa862"),
    Verdict.REJECT: QColor("#e5535e"),
    Verdict.REVIEW: QColor("#e0a526"),
}


# Tables of the QA tabs in the dark theme (until resources/style.qss covers QTableView).
TABLE_STYLE = (
    "QTableView { background: #15181c; alternate-background-color: #1b1f24;"
    " gridline-color: #2a3037; selection-background-color: #2d5a88; }"
    " QHeaderView::section { background: #262b31; color: #c3c9d1; border: none;"
    " border-right: 1px solid #3a414a; padding: 4px; }"
)


class HistoryTableModel(QAbstractTableModel):
    """Rows of the filtered history, newest (or highest score) first, fetched lazily.

    Args:
        engine: The station's database (the same one the line writes to).
        page_size: Rows per query; small, so the GUI thread never waits long.
        tz: The zone times are shown in (the plant's); ``None``: this computer's.
    """

    count_ready = Signal(int, int)  # generation, count: only the latest generation counts
    total_known = Signal(int)  # the count of the current query

    def __init__(
        self,
        engine: Engine,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
        *,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.page_size = page_size
        self.tz = tz
        self.filter = HistoryFilter()
        self.sort_key: SortKey = "captured_at"
        self.descending = True
        self.total: int | None = None
        self._rows: list[HistoryRow] = []
        self._cursor: HistoryCursor | None = None
        self._exhausted = False
        self._generation = 0
        self.count_ready.connect(self._take_count)

    # -- what to show ------------------------------------------------------------

    def set_query(
        self, filt: HistoryFilter, sort: SortKey = "captured_at", descending: bool = True
    ) -> None:
        """Show another filter or order: drop the rows, read the first page, count anew."""
        self.beginResetModel()
        self.filter, self.sort_key, self.descending = filt, sort, descending
        self._rows, self._cursor, self._exhausted = [], None, False
        self.total = None
        self._generation += 1
        self.endResetModel()
        self.fetchMore(QModelIndex())
        generation = self._generation
        threading.Thread(
            target=self._count, args=(filt, generation), name="history-count", daemon=True
        ).start()

    def row_at(self, row: int) -> HistoryRow:
        """The stored part and its review shown on ``row``."""
        return self._rows[row]

    def refresh_review(self, row: int, updated: HistoryRow) -> None:
        """Replace one row after a review, without reloading the listing."""
        self._rows[row] = updated
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # -- lazy loading ------------------------------------------------------------

    def canFetchMore(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: N802, B008
        """More rows exist below the last one read."""
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: QModelIndex = QModelIndex()) -> None:  # noqa: N802, B008
        """Read the next page (one indexed query) and append it."""
        if parent.isValid() or self._exhausted:
            return
        page = history_page(
            self.engine,
            self.filter,
            sort=self.sort_key,
            descending=self.descending,
            after=self._cursor,
            limit=self.page_size,
        )
        self._cursor = page.next_cursor
        self._exhausted = page.next_cursor is None
        if page.rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
            self._rows.extend(page.rows)
            self.endInsertRows()

    def _count(self, filt: HistoryFilter, generation: int) -> None:
        """Worker thread: count the matches; a newer query makes the answer stale."""
        try:
            total = count_history(self.engine, filt)
        except Exception:  # noqa: BLE001 - a failed count only leaves "counting…" shown
            return
        try:
            self.count_ready.emit(generation, total)
        except RuntimeError:  # the model was closed meanwhile
            return

    def _take_count(self, generation: int, total: int) -> None:
        if generation == self._generation:
            self.total = total
            self.total_known.emit(total)

    # -- Qt model interface ------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        """Rows read so far (not the total: that is :attr:`total`)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        """The fixed columns of :data:`COLUMNS`."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, verdict colours, right-aligned numbers."""
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(row, column, self.tz)
        if role == Qt.ItemDataRole.ForegroundRole and column == COLUMNS.index("Verdict"):
            return VERDICT_COLOURS[row.inspection.verdict]
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[column] in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == COLUMNS.index("Review"):
            review = row.review
            if review is not None:
                return f"{review.reviewer}, {review.reviewed_at.astimezone(self.tz):%Y-%m-%d %H:%M}"
        return None


_NUMERIC = {"Part", "Score", "Threshold"}


def _cell(row: HistoryRow, column: int, tz: tzinfo | None) -> str:
    part = row.inspection
    name = COLUMNS[column]
    if name == "Time":
        return f"{part.captured_at.astimezone(tz):%Y-%m-%d %H:%M:%S}"
    if name == "Station":
        return part.station
    if name == "Camera":
        return part.camera_id
    if name == "Part":
        return str(part.part_id)
    if name == "Verdict":
        return part.verdict.value.upper() + (" (error)" if part.error else "")
    if name == "Score":
        return "–" if part.score is None else f"{part.score:.3f}"
    if name == "Threshold":
        return f"{part.threshold:.3f}"
    if name == "Defects":
        return ", ".join(dict.fromkeys(d.kind for d in part.defects))
    if name == "Model":
        return part.model_version
    return review_text(row)


def review_text(row: HistoryRow) -> str:
    """The review that counts, in a few words ("" when not reviewed)."""
    review = row.review
    if review is None:
        return ""
    words = {"confirm": "confirmed", "false_reject": "good (false reject)"}
    text = words.get(review.decision.value, "reclassified")
    return f"{text} {review.defect_class}" if review.defect_class else text
