"""A bar above the panels that asks about a click whose views disagree (keep it or undo it).

Not a modal dialog: the annotator can answer with a button, with ``Ctrl+K`` (keep) /
``Ctrl+Z`` (undo, as anywhere), or ignore it and go on clicking; a kept click is already
flagged for review by the session, so ignoring the question loses nothing.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

__all__ = ["QuestionBar"]


class QuestionBar(QFrame):
    """Hidden until :meth:`ask`; emits ``kept`` or ``undone`` once per question."""

    kept = pyqtSignal()
    undone = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("questionBar")
        self.setStyleSheet("#questionBar { background: #4a2a2a; border: 1px solid #e06c75; }")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 3, 4, 3)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.RichText)
        self.keep_button = QPushButton("Keep it (flagged for review)  [Ctrl+K]", self)
        self.undo_button = QPushButton("Undo the click  [Ctrl+Z]", self)
        for b in (self.keep_button, self.undo_button):
            b.setFocusPolicy(Qt.NoFocus)
        self.keep_button.clicked.connect(self._keep)
        self.undo_button.clicked.connect(self._undo)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.keep_button)
        lay.addWidget(self.undo_button)
        self.hide()

    def ask(self, html: str) -> None:
        self.text.setText(html)
        self.show()

    def _keep(self) -> None:
        if self.isVisible():
            self.hide()
            self.kept.emit()

    def _undo(self) -> None:
        if self.isVisible():
            self.hide()
            self.undone.emit()
