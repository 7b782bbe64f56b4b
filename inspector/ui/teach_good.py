"""'This is OK — teach the model': the button that makes a false reject part of the good memory.

It sits in the Review tab (key ``O``) and in the enlarged reject of the Live
tab. It is enabled only where a lesson makes sense (a rejected or REVIEW part
whose image was kept, a known model folder), and its tooltip says why not
otherwise. The lesson runs on :class:`~inspector.ui.good_teacher.GoodPartTeacher`'s
worker; the panel shows a busy bar meanwhile and then the result or the error.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget
from sqlalchemy import Engine

from inspector.core.inspection import Inspection
from inspector.core.record import StoredInspection
from inspector.core.verdict import Verdict
from inspector.storage.history import HistoryFilter, history_page
from inspector.storage.image_store import ImageStore
from inspector.storage.retention import ImageRemoval, image_removal
from inspector.ui.good_teacher import GoodPartTeacher, TeachOutcome

BUTTON_TEXT = "This is OK — teach the model"
#: How long a click on a live reject waits for the record writer to commit the part.
RECORD_WAIT_S = 5.0
_TEACHABLE = (Verdict.REJECT, Verdict.REVIEW)
#: Learning runs the torch backbone; the line-side bundle ships without torch.
NEEDS_ENGINEERING_INSTALL = (
    "teaching the model needs PyTorch, which this line-side install leaves out: teach the part "
    "on an engineering install (this Review tab there, or 'inspector learn-good'), export the "
    "new model with 'inspector export' and load that here"
)


def why_not_teachable(
    verdict: Verdict,
    has_image: bool,
    model_dir: Path | None,
    removed: ImageRemoval | None = None,
) -> str | None:
    """Why a part cannot be taught as OK now, or ``None`` when it can."""
    if importlib.util.find_spec("torch") is None:
        return NEEDS_ENGINEERING_INSTALL
    if model_dir is None:
        return "no model folder is known for this line: start the line on a model first"
    if verdict not in _TEACHABLE:
        return "only rejected or REVIEW parts can be taught as OK"
    if not has_image and removed is not None:
        return f"this part's {removed.describe()}: the model can only learn from kept images"
    if not has_image:
        return "this part's image was not kept: the model can only learn from kept images"
    return None


def stored_id_of(
    engine: Engine, inspection: Inspection, station: str, *, wait_s: float = RECORD_WAIT_S
) -> int:
    """The database id of a live inspection, waiting up to ``wait_s`` for its record.

    The line's writer commits records in batches, so a reject clicked the moment
    it appears may not be stored yet.

    Raises:
        ValueError: no record of the part appeared in time.
    """
    frame = inspection.frame
    around = timedelta(milliseconds=1)
    filt = HistoryFilter(
        start=frame.captured_at - around,
        end=frame.captured_at + around,
        station=station,
        camera_id=frame.camera_id,
    )
    deadline = time.monotonic() + wait_s
    while True:
        rows = history_page(engine, filt, limit=50).rows
        found = [row.inspection.id for row in rows if row.inspection.part_id == frame.part_id]
        if found:
            return found[0]
        if time.monotonic() >= deadline:
            msg = (
                f"part {frame.part_id} of station {station} is not in the database: the line "
                "has not stored it (see Alarms for storage trouble); teach it later from the "
                "Review tab"
            )
            raise ValueError(msg)
        time.sleep(0.2)


class TeachGoodPanel(QWidget):
    """The button, a busy bar while the model learns, and the result.

    Args:
        teacher: The window's teacher; ``None`` leaves the button disabled.
        engine: The database the part is stored in.
        image_store: Where its image was kept.
        actor: Returns who is teaching (the logged-in engineer, asking for a
            login when needed), or ``None`` after telling
            the user to give a name.
        shortcut: Key shown on the button (the Review tab's ``O``).
    """

    taught = Signal(object)  # TaughtPart, when this panel's lesson succeeded

    def __init__(
        self,
        teacher: GoodPartTeacher | None,
        engine: Engine | None,
        image_store: ImageStore | None,
        *,
        actor: Callable[[], str | None],
        shortcut: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.teacher = teacher
        self.engine = engine
        self.image_store = image_store
        self._actor = actor
        self._resolve: Callable[[], int] | None = None
        self._why_not: str | None = "no part shown"
        self._job: int | None = None
        self.record_wait_s = RECORD_WAIT_S
        self.button = QPushButton(f"{BUTTON_TEXT}  [{shortcut}]" if shortcut else BUTTON_TEXT)
        self.button.setObjectName("teachGoodButton")
        self.button.setMinimumHeight(34)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # no known length: a moving busy indicator
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(8)
        self.busy_bar.hide()
        self.result = QLabel()
        self.result.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.result)
        self.button.clicked.connect(self.teach)
        if teacher is not None:
            teacher.busy_changed.connect(self._busy_changed)
            teacher.finished.connect(self._finished)
        self._refresh()

    def show_stored(self, part: StoredInspection | None) -> None:
        """Offer the button for a stored part (the Review tab)."""
        if part is None:
            self._set_target(None, "no part shown")
            return
        model_dir = self.teacher.model_dir() if self.teacher else None
        removed = None
        if part.image_path is None and self.engine is not None:
            removed = image_removal(self.engine, part.id)
        why = why_not_teachable(part.verdict, part.image_path is not None, model_dir, removed)
        self._set_target(lambda: part.id, why)

    def show_live(self, inspection: Inspection, station: str) -> None:
        """Offer the button for a part of the running line (its record is found on the worker)."""
        model_dir = self.teacher.model_dir() if self.teacher else None
        why = why_not_teachable(inspection.verdict, bool(inspection.frame.image.size), model_dir)
        engine = self.engine
        self._set_target(
            lambda: stored_id_of(engine, inspection, station, wait_s=self.record_wait_s), why
        )

    def teach(self) -> bool:
        """Start the lesson for the part shown; says why when it cannot (``False``)."""
        teacher, engine, store, resolve = self.teacher, self.engine, self.image_store, self._resolve
        if self._why_not is not None or not (teacher and engine and store and resolve):
            self._say(f"Cannot teach: {self._why_not or 'no part shown'}.", error=True)
            return False
        if teacher.busy:
            self._say("The model is still learning the last part: wait for it.", error=True)
            return False
        actor = self._actor()
        if not actor:
            return False
        self._job = teacher.teach(engine, store, resolve, actor)
        self._refresh()
        self._say("Learning… (the model runs the part through its backbone)", error=False)
        return True

    def _set_target(self, resolve: Callable[[], int] | None, why_not: str | None) -> None:
        if why_not is None and (self.engine is None or self.image_store is None):
            why_not = "the records cannot be opened, so the part cannot be found"
        self._resolve = resolve
        self._why_not = why_not
        self._refresh()

    def _refresh(self) -> None:
        busy = self.teacher is not None and self.teacher.busy
        self.button.setEnabled(self._why_not is None and not busy)
        tip = "the model learns this part as good at once: a new model version, audited"
        if busy:
            tip = "the model is learning a part…"
        elif self._why_not is not None:
            tip = self._why_not
        self.button.setToolTip(tip)
        self.busy_bar.setVisible(busy and self._job is not None)

    def _busy_changed(self, _busy: bool) -> None:
        self._refresh()

    def _finished(self, outcome: TeachOutcome) -> None:
        if outcome.job != self._job:
            return  # another panel's lesson
        self._job = None
        self._refresh()
        if outcome.taught is None:
            self._say(outcome.error or "the model did not learn the part", error=True)
            return
        self._say(outcome.taught.summary, error=False)
        self.taught.emit(outcome.taught)

    def _say(self, text: str, *, error: bool) -> None:
        self.result.setStyleSheet("color: #e5535e;" if error else "color: #2fa862;")
        self.result.setText(text)
