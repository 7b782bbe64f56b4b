"""Record a review of any stored part from its dialog: above all, an escape.

The review queue lists the parts the line rejected or sent to review; a part it
accepted and that turned out bad downstream (a customer return, an audit) is
found in History instead, and this form is where a QA engineer says so. The
rules of what a review may say stay in :func:`inspector.storage.reviews.add_review`;
the form only offers the choices that fit the machine's verdict.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.core.record import StoredInspection
from inspector.core.verdict import Verdict
from inspector.storage.reviews import Review, ReviewDecision, add_review

ACCEPTED_CHOICES = {
    "good (the line was right)": ReviewDecision.CONFIRM,
    "a defect the line let through (escape)": ReviewDecision.RECLASSIFY,
}
NOT_ACCEPTED_CHOICES = {
    "a defect (the line was right)": ReviewDecision.CONFIRM,
    "good (false reject)": ReviewDecision.FALSE_REJECT,
    "a defect of another class": ReviewDecision.RECLASSIFY,
}


class ReviewForm(QWidget):
    """What the part really was, its class, a note, and who says so.

    Args:
        stored: The part.
        engine: The records' database.
        actor: The signed-in QA user's name, asking for a sign-in when needed
            (``None``: the user declined, nothing is stored).
    """

    reviewed = Signal(object)  # the Review stored

    def __init__(
        self,
        stored: StoredInspection,
        engine: Engine,
        actor: Callable[[], str | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.stored = stored
        self.engine = engine
        self.actor = actor
        accepted = stored.verdict is Verdict.ACCEPT
        self.choices = ACCEPTED_CHOICES if accepted else NOT_ACCEPTED_CHOICES
        self.decision = QComboBox()
        self.decision.addItems(list(self.choices))
        self.defect_class = QLineEdit(stored.defects[0].kind if stored.defects else "")
        self.defect_class.setPlaceholderText("defect class, e.g. crack")
        self.note = QLineEdit()
        self.note.setPlaceholderText("optional: where it was found, by whom")
        self.save = QPushButton("Record review")
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout = QFormLayout(self)
        layout.addRow("This part is", self.decision)
        layout.addRow("Class", self.defect_class)
        layout.addRow("Note", self.note)
        layout.addRow(self.save, self.message)
        self.decision.currentTextChanged.connect(self._class_needed)
        self.save.clicked.connect(self.record)
        self._class_needed(self.decision.currentText())

    def record(self) -> Review | None:
        """Store the review as chosen; the message says what went wrong, if anything."""
        decision = self.choices[self.decision.currentText()]
        reviewer = self.actor()
        if reviewer is None:
            self._say("not stored: a QA user must sign in to review parts", error=True)
            return None
        defect_class = self.defect_class.text().strip() if self._is_defect(decision) else None
        try:
            review = add_review(
                self.engine,
                self.stored.id,
                reviewer=reviewer,
                decision=decision,
                defect_class=defect_class or None,
                note=self.note.text().strip() or None,
            )
        except (ValueError, InspectorError) as exc:
            self._say(f"not stored: {exc}", error=True)
            return None
        self._say(f"stored: review {review.id} by {review.reviewer}", error=False)
        self.reviewed.emit(review)
        return review

    def _is_defect(self, decision: ReviewDecision) -> bool:
        """Whether the choice says the part is a defect (then it needs a class)."""
        if decision is ReviewDecision.RECLASSIFY:
            return True
        return decision is ReviewDecision.CONFIRM and self.stored.verdict is not Verdict.ACCEPT

    def _class_needed(self, text: str) -> None:
        self.defect_class.setEnabled(self._is_defect(self.choices[text]))

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setObjectName("error" if error else "note")
        self.message.setText(text)
        self.message.style().polish(self.message)
