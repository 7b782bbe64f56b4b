"""The small pieces of the Review tab: the name field, decision buttons, the facts text.

Kept apart from :mod:`inspector.ui.review_view` so that the view itself holds
only the flow (keys, decisions, queue); nothing here knows about the database.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from inspector.core.record import StoredInspection
from inspector.storage.reviews import Review


class NameEdit(QLineEdit):
    """The reviewer's name field; the Return that finishes the name stops here.

    A plain QLineEdit passes Return on to its parent, where it would confirm a part.
    """

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Keep Return here: it finishes the name, it does not decide."""
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()


def part_facts(part: StoredInspection, review: Review | None) -> str:
    """What the reviewer reads beside the part: verdict, score, classes, where, when, review."""
    score = "not scored" if part.score is None else f"{part.score:.3f}"
    classes = ", ".join(dict.fromkeys(d.kind for d in part.defects)) or "none"
    lines = [
        f"<b style='font-size:14pt; color:{_VERDICT_COLOURS[part.verdict.value]}'>"
        f"{part.verdict.value.upper()}</b> &nbsp; score {score} "
        f"(threshold {part.threshold:.3f})",
        f"<b>Machine class:</b> {classes}",
        f"<b>Part</b> {part.part_id} · record {part.id}",
        f"<b>{part.station}</b> / {part.camera_id}",
        f"{part.captured_at.astimezone():%Y-%m-%d %H:%M:%S}",
        f"<b>Model:</b> {part.model_version}",
    ]
    if review is not None:
        what = review.decision.value.replace("_", " ")
        drawn = " and ".join(
            name for name, kept in (("box", review.box), ("mask", review.mask_path)) if kept
        )
        lines.append(
            f"<span style='color:#e0a526'><b>Reviewed:</b> {what} "
            f"{review.defect_class or ''} by {review.reviewer}"
            f"{f' (corrected {drawn})' if drawn else ''}</span>"
        )
    return "<br>".join(lines)


def button(text: str, name: str) -> QPushButton:
    """A decision button that leaves the keyboard to the view; ``name`` picks a colour."""
    widget = QPushButton(text)
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the view, not a button
    widget.setMinimumHeight(34)
    if name:
        widget.setObjectName(name)
        widget.setStyleSheet(_BUTTON_STYLES[name])
    return widget


_BUTTON_STYLES = {
    "confirmButton": "QPushButton { background: #7a2630; border-color: #99323e; }",
    "goodButton": "QPushButton { background: #1f6f43; border-color: #2a8c57; }",
}
_VERDICT_COLOURS = {"accept": "#2fa862", "reject": "#e5535e", "review": "#e0a526"}


def heading(text: str) -> QLabel:
    """A section heading, styled by the application's style sheet."""
    label = QLabel(text)
    label.setObjectName("heading")
    return label
