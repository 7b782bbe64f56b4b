"""The Review tab: judge rejected and REVIEW parts one after the other, by keyboard.

Built for speed (a QA engineer should do 20+ parts a minute): one key per
decision, the next part appears the moment a review is stored (its image is
prepared while the reviewer looks at the current one), and the queue is read
in batches so a decision never waits for a query. Keys:

====================  ==============================================
1 – 9                 pick the defect class from the list
C or Enter            a defect of the picked class (confirm; reclassify if
                      the machine named another class)
G                     overrule: the part is good (a false reject)
R                     reclassify: a defect of another class than the machine's
O                     "this is OK": the model learns the part as good at once
                      (a new model version; see :mod:`inspector.ui.teach_good`)
→ / N, ← / P          next / previous part (skip without a decision)
B                     box mode: drag a rectangle around the real defect
M                     brush mode: paint the defect; E eraser, + / − brush size
Esc                   clear the drawn correction
====================  ==============================================

A drawn correction (box and/or brush mask, see
:mod:`inspector.ui.region_editor`) is stored with the C or R decision that
follows. Every decision goes through
:func:`inspector.storage.review_masks.add_corrected_review`, which appends a
review and never touches the machine's verdict or defects; going back to a
part and deciding again appends another review (the last one counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.core.record import StoredInspection
from inspector.storage.image_store import ImageStore
from inspector.storage.review_export import DatasetExport, export_reviewed_dataset
from inspector.storage.review_masks import add_corrected_review
from inspector.storage.reviews import Review, ReviewDecision
from inspector.ui.good_teacher import GoodPartTeacher, TaughtPart
from inspector.ui.region_editor import DrawMode, RegionEditor
from inspector.ui.review_queue import ReviewQueue
from inspector.ui.review_widgets import NameEdit, button, heading, part_facts
from inspector.ui.teach_good import TeachGoodPanel

DEFAULT_CLASSES = ("scratch", "spot", "crack", "chip", "dent", "stain", "anomaly")
REVIEWER_KEY = "review/reviewer"


class ReviewView(QWidget):
    """One queued part large, its facts, the class list and the decision buttons.

    Args:
        engine: The station's database.
        image_store: Where the parts' images are kept.
        classes: Defect classes offered, in the order of the digit keys (9 at most).
        settings: Where the reviewer's name is remembered; the application's by default.
        station: Review only this station's parts; all by default.
        teacher: Teaches the line's model a part marked OK (key O); without one
            (no line, no model folder) that button stays disabled.
        actor: Supplies the signed-in reviewer's name (``None``: nobody signed in);
            when given it replaces the typed-name field.
    """

    def __init__(
        self,
        engine: Engine,
        image_store: ImageStore,
        parent: QWidget | None = None,
        *,
        classes: Sequence[str] = DEFAULT_CLASSES,
        settings: QSettings | None = None,
        station: str | None = None,
        teacher: GoodPartTeacher | None = None,
        actor: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        if not 1 <= len(classes) <= 9:
            msg = f"the review view offers 1 to 9 classes (one per digit key), got {len(classes)}"
            raise ValueError(msg)
        self.engine = engine
        self.image_store = image_store
        self.classes = tuple(classes)
        self.settings = settings if settings is not None else QSettings()
        self.queue = ReviewQueue(engine, image_store, station)
        self.actor = actor
        self._chosen: str | None = None  # class picked with a digit for the current part

        self.reviewer = NameEdit(str(self.settings.value(REVIEWER_KEY, "") or ""))
        self.reviewer.setPlaceholderText("your user name (asked once)")
        self.reviewer.setMaximumWidth(220)
        self.progress = QLabel()
        self.progress.setObjectName("heading")
        self.editor = RegionEditor("No parts waiting for review")
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.class_list = QListWidget()
        self.class_list.addItems([f"{i}   {name}" for i, name in enumerate(self.classes, 1)])
        self.class_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.class_list.currentRowChanged.connect(self._class_clicked)
        self.message = QLabel()
        self.message.setObjectName("error")
        self.message.setWordWrap(True)
        self.confirm_button = button("Confirm defect  [C]", "confirmButton")
        self.good_button = button("Good – false reject  [G]", "goodButton")
        self.reclassify_button = button("Reclassify as picked class  [R]", "")
        self.teach_panel = TeachGoodPanel(
            teacher, engine, image_store, actor=self._reviewer_name, shortcut="O"
        )
        self.teach_panel.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.previous_button = button("◀ Previous  [←]", "")
        self.next_button = button("Next  [→] ▶", "")
        self.export_button = button("Export reviewed dataset…", "")
        self.reload_button = button("Reload queue", "")

        top = QHBoxLayout()
        if actor is None:  # a signed-in user needs no name field
            top.addWidget(QLabel("Reviewer"))
            top.addWidget(self.reviewer)
        else:
            self.reviewer.hide()
        top.addWidget(self.progress, 1)
        top.addWidget(self.reload_button)
        top.addWidget(self.export_button)
        side = QVBoxLayout()
        side.addWidget(self.facts)
        side.addWidget(heading("Defect class (keys 1–9)"))
        side.addWidget(self.class_list, 1)
        side.addWidget(self.confirm_button)
        side.addWidget(self.good_button)
        side.addWidget(self.reclassify_button)
        side.addWidget(self.teach_panel)
        steps = QHBoxLayout()
        steps.addWidget(self.previous_button)
        steps.addWidget(self.next_button)
        side.addLayout(steps)
        side.addWidget(self.message)
        body = QHBoxLayout()
        body.addWidget(self.editor, 3)
        body.addLayout(side, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.reviewer.editingFinished.connect(self._remember_reviewer)
        self.reviewer.returnPressed.connect(self.setFocus)
        self.confirm_button.clicked.connect(self.confirm)
        self.good_button.clicked.connect(self.overrule_good)
        self.reclassify_button.clicked.connect(self.reclassify)
        self.teach_panel.taught.connect(self._taught)
        self.previous_button.clicked.connect(self.previous)
        self.next_button.clicked.connect(self.next)
        self.reload_button.clicked.connect(self.reload)
        self.export_button.clicked.connect(self._ask_export)
        self.reload()

    # -- the queue ---------------------------------------------------------------

    @property
    def current(self) -> StoredInspection | None:
        """The part shown, or ``None`` when the queue is empty."""
        return self.queue.current

    @property
    def items(self) -> list[StoredInspection]:
        """The parts listed so far, newest first."""
        return self.queue.items

    @property
    def picked_class(self) -> str | None:
        """The class a decision stores: the one picked with a digit, else the machine's."""
        part = self.current
        if self._chosen is not None or part is None:
            return self._chosen
        return next((d.kind for d in part.defects), None)

    def reload(self) -> None:
        """Read the newest unreviewed parts and add those not listed yet."""
        self.queue.reload()
        self._show()

    def next(self) -> None:
        """Show the next part (without deciding); reads more of the queue at the end."""
        self.queue.forward()
        self._show()

    def previous(self) -> None:
        """Go back one part, e.g. to change a decision (a new review is appended)."""
        if self.queue.back():
            self._show()

    # -- decisions ---------------------------------------------------------------

    def confirm(self) -> Review | None:
        """A defect of the picked class.

        Stored as a reclassification when the class picked with a digit is not one
        the machine named: that is what the review means, whichever key was pressed.
        """
        decision = ReviewDecision.RECLASSIFY if self._differs() else ReviewDecision.CONFIRM
        return self._decide(decision, self.picked_class)

    def overrule_good(self) -> Review | None:
        """The part is good: a false reject."""
        return self._decide(ReviewDecision.FALSE_REJECT, None)

    def reclassify(self) -> Review | None:
        """A defect, but of the class picked with a digit rather than the machine's."""
        part = self.current
        machine = {d.kind for d in part.defects} if part else set()
        if self._chosen is None or self._chosen in machine:
            self.message.setText("Pick the right class with 1–9 first, then press R.")
            return None
        return self._decide(ReviewDecision.RECLASSIFY, self._chosen)

    def pick_class(self, number: int) -> None:
        """Pick class ``number`` (1-based, as the digit keys) for the current part."""
        if 1 <= number <= len(self.classes):
            self._chosen = self.classes[number - 1]
            self._show_class()

    def _differs(self) -> bool:
        """Whether the class picked with a digit is not among the machine's classes."""
        part = self.current
        machine = {d.kind for d in part.defects} if part else set()
        return self._chosen is not None and bool(machine) and self._chosen not in machine

    def _decide(self, decision: ReviewDecision, defect_class: str | None) -> Review | None:
        part = self.current
        if part is None:
            return None
        reviewer = self._reviewer_name()
        if not reviewer:
            return None
        if decision is not ReviewDecision.FALSE_REJECT and defect_class is None:
            self.message.setText("This part has no machine class: pick one with 1–9.")
            return None
        correction = self.editor.correction
        drawn = correction is not None and not correction.is_empty
        if decision is ReviewDecision.FALSE_REJECT and drawn:
            self.message.setText("A good part has no defect region: Esc clears it, then G.")
            return None
        try:
            review = add_corrected_review(
                self.engine,
                self.image_store,
                part.id,
                reviewer=reviewer,
                decision=decision,
                defect_class=defect_class,
                box=correction.box if drawn else None,  # type: ignore[union-attr]
                mask=correction.mask if drawn else None,  # type: ignore[union-attr]
            )
        except (ValueError, InspectorError) as exc:
            self.message.setText(str(exc))
            return None
        self.queue.record(review)
        self.next()
        return review

    def _reviewer_name(self) -> str | None:
        """Who decides; ``None`` after asking for the name (stored with every review)."""
        if self.actor is not None:
            reviewer = (self.actor() or "").strip()
            if not reviewer:
                self.message.setText("Sign in first: the reviewer is stored with each review.")
            return reviewer or None
        reviewer = self.reviewer.text().strip()
        if not reviewer:
            self.message.setText("Type your user name first (it is stored with each review).")
            self.reviewer.setFocus()
        return reviewer or None

    def _taught(self, taught: TaughtPart) -> None:
        """The model learned a part: it is reviewed (a false reject), so move on if shown."""
        if taught.review is not None:
            self.queue.record(taught.review)
        if self.current is not None and self.current.id == taught.inspection_id:
            self.next()

    # -- keys --------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """One key per action (see the module docstring); other keys go to Qt."""
        key = Qt.Key(event.key())
        if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self.pick_class(key - Qt.Key.Key_0)
        elif key in (Qt.Key.Key_C, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.confirm()
        elif key == Qt.Key.Key_G:
            self.overrule_good()
        elif key == Qt.Key.Key_R:
            self.reclassify()
        elif key == Qt.Key.Key_O:
            self.teach_panel.teach()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_N):
            self.next()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_P):
            self.previous()
        elif not self._draw_key(key):
            super().keyPressEvent(event)
            return
        event.accept()

    def _draw_key(self, key: Qt.Key) -> bool:
        """B, M, E, +/−, Esc drive the region editor; ``False`` for any other key."""
        if key == Qt.Key.Key_B:
            self.editor.set_mode(DrawMode.BOX)
        elif key == Qt.Key.Key_M:
            self.editor.set_mode(DrawMode.BRUSH)
        elif key == Qt.Key.Key_E:
            self.editor.toggle_eraser()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_BracketRight):
            self.editor.resize_brush(+1)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_BracketLeft):
            self.editor.resize_brush(-1)
        elif key == Qt.Key.Key_Escape:
            self.editor.clear_correction()
        else:
            return False
        return True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Take the keyboard when the tab opens, so the first key already decides."""
        super().showEvent(event)
        if self.actor is not None or self.reviewer.text().strip():
            QTimer.singleShot(0, self.setFocus)
        else:
            QTimer.singleShot(0, self.reviewer.setFocus)

    # -- showing -----------------------------------------------------------------

    def _show(self) -> None:
        self._chosen = None
        self.message.clear()
        part = self.current
        self.progress.setText(self.queue.progress())
        for decision in (self.confirm_button, self.good_button, self.reclassify_button):
            decision.setEnabled(part is not None)
        self.previous_button.setEnabled(self.queue.index > 0)
        self.teach_panel.show_stored(part)
        if part is None:
            self.editor.set_part(None, None)
            self.facts.setText("")
            self._show_class()
            return
        self.editor.set_part(*self.queue.picture(part))
        self.facts.setText(part_facts(part, self.queue.decided.get(part.id)))
        self._show_class()
        QTimer.singleShot(0, self.queue.prepare_upcoming)

    def _show_class(self) -> None:
        picked = self.picked_class
        self.class_list.blockSignals(True)
        row = self.classes.index(picked) if picked in self.classes else -1
        self.class_list.setCurrentRow(row)
        self.class_list.blockSignals(False)
        label = f"Confirm: {picked}" if picked else "Confirm defect"
        if self._differs():
            label = f"Reclassify as {picked}"
        self.confirm_button.setText(f"{label}  [C]")

    def _class_clicked(self, row: int) -> None:
        if row >= 0:
            self.pick_class(row + 1)

    def _remember_reviewer(self) -> None:
        self.settings.setValue(REVIEWER_KEY, self.reviewer.text().strip())

    # -- export ------------------------------------------------------------------

    def export_dataset(self, out_dir: Path) -> DatasetExport:
        """Write every reviewed part as a folder-per-class training set into ``out_dir``."""
        return export_reviewed_dataset(self.engine, self.image_store, out_dir)

    def _ask_export(self) -> None:
        parent = QFileDialog.getExistingDirectory(self, "Folder to put the dataset in")
        if not parent:
            return
        out_dir = Path(parent) / f"reviewed-{datetime.now():%Y%m%d-%H%M%S}"
        try:
            result = self.export_dataset(out_dir)
        except (ValueError, OSError) as exc:
            self.message.setText(str(exc))
            return
        counts = ", ".join(f"{name} {n}" for name, n in result.per_class.items()) or "nothing"
        skipped = f"; {len(result.skipped)} skipped (see manifest)" if result.skipped else ""
        self.message.setText(f"Exported to {result.out_dir}: {counts}{skipped}")
        self.setFocus()
