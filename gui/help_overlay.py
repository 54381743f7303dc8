"""The help overlay: every shortcut, grouped, drawn over the panels (F1 / ? / Esc)."""

from __future__ import annotations

from PyQt5.QtCore import QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QPainter
from PyQt5.QtWidgets import QWidget

from gui import theme
from gui.shortcuts import GROUPS, SHORTCUTS

__all__ = ["HelpOverlay", "help_lines"]

MOUSE_HELP = (
    ("left click", "place the current joint in that view"),
    ("left drag a joint", "move its click (or add one at a reprojected joint)"),
    ("wheel", "zoom about the cursor"),
    ("middle/right drag, space+drag", "pan"),
)


def help_lines() -> list[tuple[str, str, str]]:
    """(group, keys, text) rows of the overlay, in drawing order."""
    rows = [("Mouse", k, t) for k, t in MOUSE_HELP]
    for g in GROUPS:
        rows += [(g, " / ".join(s.keys), s.text) for s in SHORTCUTS if s.group == g]
    return rows


class HelpOverlay(QWidget):
    """A translucent sheet over its parent listing :func:`help_lines` in two columns."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WA_TransparentForMouseEvents, False)

    def mousePressEvent(self, _ev) -> None:  # noqa: N802
        self.hide()

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(12, 13, 16, 225))
        f = QFont(p.font())
        f.setPointSizeF(10.5)
        p.setFont(f)
        rows = help_lines()
        line_h = p.fontMetrics().height() + 3
        col_w = self.width() / 2 - 30
        x0, y0 = 30.0, 24.0
        x, y = x0, y0
        group = None
        p.setPen(theme.qcolor(theme.FG_TEXT))
        p.drawText(QRectF(x0, 4, self.width() - 60, line_h + 6), Qt.AlignLeft,
                   "Keyboard and mouse  (F1, ? or Esc closes)")
        y += line_h
        per_col = (len(rows) + 2 * len(GROUPS)) // 2 + 1
        count = 0
        for g, keys, text in rows:
            if g != group:
                group = g
                if count > per_col and x == x0:
                    x, y = x0 + col_w + 30, y0 + line_h
                    count = 0
                y += 4
                p.setPen(theme.qcolor(theme.ACCENT))
                p.drawText(QRectF(x, y, col_w, line_h), Qt.AlignLeft, g)
                y += line_h
                count += 1
            p.setPen(theme.qcolor(theme.EPIPOLAR_RGB))
            p.drawText(QRectF(x + 8, y, 170, line_h), Qt.AlignLeft, keys)
            p.setPen(theme.qcolor(theme.FG_TEXT))
            p.drawText(QRectF(x + 184, y, col_w - 184, line_h), Qt.AlignLeft, text)
            y += line_h
            count += 1
        p.end()
