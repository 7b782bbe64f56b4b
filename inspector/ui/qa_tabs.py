"""The QA workstation's tabs beside the operator's live view: History, Review, Reports.

The tabs read the database the line writes to (``LineSettings.database_target``)
through their own engine: SQLite in WAL mode lets them read while the line's
writer commits, and every query they run is a small page or an aggregate over
an index, so the line never waits on them. A tab is built the first time it is
opened, so an operator who never leaves the live view pays nothing for them,
and a database that cannot be opened is explained in the tab, not at start-up.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.pipeline.line import LineSettings
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.ui.history_view import HistoryView
from inspector.ui.reports_view import ReportsView
from inspector.ui.review_view import ReviewView

ViewFactory = Callable[[Engine, ImageStore], QWidget]
TABS: dict[str, ViewFactory] = {
    "History": lambda engine, store: HistoryView(engine, store),
    "Review": lambda engine, store: ReviewView(engine, store),
    "Reports": lambda engine, store: ReportsView(engine, store),
}


class QaTabs(QObject):
    """Adds the QA tabs to ``tabs`` and builds each view when it is first shown.

    Args:
        tabs: The main window's tab widget; the live view is already its first tab.
        settings: The line's settings, for the database location.
        factories: Builders replacing some of :data:`TABS` (the main window's
            Review view gets the window's model teacher).
    """

    def __init__(
        self,
        tabs: QTabWidget,
        settings: LineSettings,
        *,
        factories: dict[str, ViewFactory] | None = None,
    ) -> None:
        super().__init__(tabs)
        self.tabs = tabs
        self.settings = settings
        self.factories = {**TABS, **(factories or {})}
        self.engine: Engine | None = None
        self.image_store: ImageStore | None = None
        self.views: dict[str, QWidget] = {}
        self._holders: dict[str, QWidget] = {}
        for name in TABS:
            holder = QWidget()
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self._holders[name] = holder
            tabs.addTab(holder, name)
        tabs.currentChanged.connect(self._tab_opened)

    def view(self, name: str) -> QWidget:
        """The view of tab ``name``, built now if it was not yet (for tests and shortcuts)."""
        if name not in self.views:
            holder = self._holders[name]
            try:
                engine, store = self.storage()
                widget = self.factories[name](engine, store)
            except InspectorError as exc:
                widget = QLabel(f"The records cannot be opened:\n{exc}")
                widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
                widget.setWordWrap(True)
            holder.layout().addWidget(widget)
            self.views[name] = widget
        return self.views[name]

    def close(self) -> None:
        """Release the database connections (the window is closing)."""
        if self.engine is not None:
            self.engine.dispose()

    def _tab_opened(self, index: int) -> None:
        name = self.tabs.tabText(index)
        if name in TABS:
            self.view(name)

    def storage(self) -> tuple[Engine, ImageStore]:
        """The line's database and image store, opened once for all QA tabs."""
        if self.engine is None or self.image_store is None:
            engine = open_database(self.settings.database_target)
            # The same rule as the line's build_line: [storage] images, else beside the database.
            self.image_store = ImageStore.for_database(engine, self.settings.images)
            self.engine = engine
        return self.engine, self.image_store
