"""Drawing decision zones on a reference image of the part, with their rules in a side table.

The engineer picks a reference image (the latest live frame or a file), drags
rectangles on it, and names each zone and sets its rule in the table: ignored,
its own threshold, its own minimum defect area (empty: the station's). The
zones live in the station file's text: :meth:`ZoneDrawer.load_text` reads them
from it and :meth:`ZoneDrawer.write_into` writes them back with tomlkit (see
:mod:`inspector.pipeline.station_zones`), so saving stays the editor's one
validated, audited path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspector.acquisition.image_files import read_image
from inspector.core.errors import InspectorError
from inspector.decision.zones import Zone
from inspector.pipeline.station_zones import box_from_corners, read_zones, write_zones, zone_with
from inspector.ui.zone_canvas import ZoneCanvas

#: Table columns: header text and the zone field it edits.
COLUMNS = (
    ("Name", "name"),
    ("Ignore", "ignore"),
    ("Threshold", "threshold"),
    ("Min area px", "min_defect_area_px"),
    ("x", "x"),
    ("y", "y"),
    ("w", "w"),
    ("h", "h"),
)
SIDE_MIN_WIDTH = 520  # the table's eight columns without a scroll bar
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)"


class ZoneDrawer(QWidget):
    """The canvas, the zone table and the buttons; holds the zones being edited.

    Args:
        latest_frame: Returns the line's newest frame (RGB) or ``None`` when no
            part was seen yet.
    """

    #: The zones were changed by drawing, editing or deleting.
    zones_changed = Signal()

    def __init__(
        self,
        latest_frame: Callable[[], np.ndarray | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._latest_frame = latest_frame
        self.zones: tuple[Zone, ...] = ()
        self.canvas = ZoneCanvas()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([header for header, _ in COLUMNS])
        # Every column in view: the rules matter as much as the names.
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.live_button = QPushButton("Use latest live frame")
        self.file_button = QPushButton("Open image…")
        self.delete_button = QPushButton("Delete zone")
        self.delete_button.setEnabled(False)
        self.message = QLabel(
            "Drag a rectangle on the image to add a zone; name it and set its rule in the table. "
            "Empty threshold or minimum area: the station's."
        )
        self.message.setWordWrap(True)

        buttons = QHBoxLayout()
        for button in (self.live_button, self.file_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        side = QWidget()
        side.setMinimumWidth(SIDE_MIN_WIDTH)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.table, 1)
        side_layout.addWidget(self.delete_button)
        side_layout.addWidget(self.message)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)

        self.live_button.clicked.connect(self.use_latest_frame)
        self.file_button.clicked.connect(self._choose_file)
        self.delete_button.clicked.connect(self.delete_selected)
        self.canvas.rectangle_drawn.connect(self.add_drawn)
        self.canvas.zone_clicked.connect(self.select)
        self.table.itemChanged.connect(self._cell_edited)
        self.table.itemSelectionChanged.connect(self._selection_changed)

    # -- the reference image -----------------------------------------------------------

    def set_reference(self, image: np.ndarray) -> None:
        """Draw on ``image`` (RGB); zones are fractions, so they fit any image of the part."""
        self.canvas.set_image(image)

    def use_latest_frame(self) -> bool:
        """Use the line's newest frame; says so when the line has shown none yet."""
        frame = self._latest_frame()
        if frame is None or not frame.size:
            self._say("No live frame yet: start the line, or open an image file of the part.")
            return False
        self.set_reference(frame)
        self._say("Reference: the latest live frame.")
        return True

    def open_image(self, path: str | Path) -> bool:
        """Use an image file; an unreadable one is explained, the old reference stays."""
        try:
            image = read_image(path)
        except InspectorError as exc:
            self._say(str(exc), error=True)
            return False
        self.set_reference(image)
        self._say(f"Reference: {Path(path).name}.")
        return True

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference image of the part", "", IMAGE_FILTER)
        if path:
            self.open_image(path)

    # -- zones -------------------------------------------------------------------------

    def load_text(self, text: str) -> bool:
        """Show the zones of station-file text.

        A text whose zones cannot be read is explained, and drawing is locked
        until it is fixed, so the engineer's text is never overwritten.
        """
        try:
            zones = read_zones(text)
        except InspectorError as exc:
            # Drawing now would overwrite the zones the text holds: locked until they read.
            self._set_zones((), selected=-1)
            self._lock_zones(True)
            self._say(str(exc), error=True)
            return False
        self._lock_zones(False)
        self._set_zones(zones, selected=-1)
        return True

    def _lock_zones(self, locked: bool) -> None:
        for widget in (self.canvas, self.table):
            widget.setEnabled(not locked)

    def write_into(self, text: str) -> str:
        """``text`` with these zones as its ``[[decision.zones]]`` (the rest kept as it was).

        Raises:
            ConfigError: the text is not TOML or two zones share a name.
        """
        return write_zones(text, self.zones)

    def add_drawn(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """A dragged rectangle (image pixels) becomes a new selected zone, ready to be named."""
        size = self.canvas.image_size()
        try:
            box = box_from_corners(start, end, size.width(), size.height())
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        names = {zone.name for zone in self.zones}
        number = len(self.zones) + 1
        while f"zone {number}" in names:
            number += 1
        self._set_zones((*self.zones, Zone(f"zone {number}", box)), selected=len(self.zones))
        self.zones_changed.emit()
        self._say("Zone added: type its name, then set its rule in the table.")
        self.table.editItem(self.table.item(len(self.zones) - 1, 0))

    def delete_selected(self) -> None:
        """Remove the selected zone."""
        row = self.selected_row()
        if row < 0:
            return
        name = self.zones[row].name
        self._set_zones(self.zones[:row] + self.zones[row + 1 :], selected=-1)
        self.zones_changed.emit()
        self._say(f"Zone {name!r} deleted.")

    def select(self, row: int) -> None:
        """Select the zone at ``row`` in the table and on the image (-1: none)."""
        if row < 0:
            self.table.clearSelection()
        else:
            self.table.selectRow(row)

    def selected_row(self) -> int:
        """The selected zone's index, or -1."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def _selection_changed(self) -> None:
        row = self.selected_row()
        self.delete_button.setEnabled(row >= 0)
        self.canvas.set_zones(self.zones, row)

    def _cell_edited(self, item: QTableWidgetItem) -> None:
        row, field = item.row(), COLUMNS[item.column()][1]
        zone = self.zones[row]
        try:
            if field == "ignore":
                changed = replace(zone, ignore=item.checkState() == Qt.CheckState.Checked)
            else:
                changed = zone_with(zone, field, item.text())
        except ValueError as exc:
            self._say(str(exc), error=True)
            changed = zone
        self.zones = (*self.zones[:row], changed, *self.zones[row + 1 :])
        # Only this cell is rewritten (normalised, or put back after a refused edit): the
        # table's editor is still committing into it.
        fresh = _cell(changed, field)
        self.table.blockSignals(True)
        if field == "ignore":
            item.setCheckState(fresh.checkState())
        else:
            item.setText(fresh.text())
        self.table.blockSignals(False)
        self.canvas.set_zones(self.zones, self.selected_row())
        if changed != zone:
            self.zones_changed.emit()

    def _set_zones(self, zones: tuple[Zone, ...], *, selected: int) -> None:
        self.zones = zones
        self.table.blockSignals(True)
        self.table.setRowCount(len(zones))
        for row, zone in enumerate(zones):
            for column, (_, field) in enumerate(COLUMNS):
                self.table.setItem(row, column, _cell(zone, field))
        self.table.blockSignals(False)
        self.select(selected)
        self._selection_changed()

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #ff8a80;" if error else "")


def _cell(zone: Zone, field: str) -> QTableWidgetItem:
    """One table cell showing a zone field; ``ignore`` is a check box."""
    if field == "ignore":
        item = QTableWidgetItem()
        item.setFlags(
            Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
        )
        item.setCheckState(Qt.CheckState.Checked if zone.ignore else Qt.CheckState.Unchecked)
        return item
    if field in ("x", "y", "w", "h"):
        value: object = zone.box["xywh".index(field)]
    else:
        value = getattr(zone, field)
    return QTableWidgetItem("" if value is None else str(value))
