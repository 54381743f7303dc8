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
    ("middle/right drag", "pan (or space + left drag)"),
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
        p.fillRect(self.rect(), QColor(12, 13, 16, 232))
        f = QFont(p.font())
        f.setPointSizeF(10.5)
        p.setFont(f)
        fm = p.fontMetrics()
        rows = help_lines()
        line_h = fm.height() + 3
        margin = 28.0
        col_w = (self.width() - 3 * margin) / 2
        key_w = min(max(fm.horizontalAdvance(k) for _, k, _ in rows) + 18, col_w * 0.45)
        p.setPen(theme.qcolor(theme.FG_TEXT))
        p.drawText(QRectF(margin, 6, self.width() - 2 * margin, line_h + 6), Qt.AlignLeft,
                   "Keyboard and mouse   (F1, ? or Esc closes)")
        # Groups are kept whole; the second column starts at the group that passes half.
        total = len(rows) + 2 * len(GROUPS) + 2
        x, y0 = margin, 10.0 + 2 * line_h
        y, used, group = y0, 0, None
        for g, keys, text in rows:
            if g != group:
                if used > total / 2 and x == margin:
                    x, y = 2 * margin + col_w, y0
                group = g
                y += 4
                p.setPen(theme.qcolor(theme.ACCENT))
                p.drawText(QRectF(x, y, col_w, line_h), Qt.AlignLeft, g)
                y += line_h
                used += 2
            p.setPen(theme.qcolor(theme.EPIPOLAR_RGB))
            p.drawText(QRectF(x + 8, y, key_w - 8, line_h), Qt.AlignLeft,
                       fm.elidedText(keys, Qt.ElideRight, int(key_w - 10)))
            p.setPen(theme.qcolor(theme.FG_TEXT))
            p.drawText(QRectF(x + key_w, y, col_w - key_w, line_h), Qt.AlignLeft,
                       fm.elidedText(text, Qt.ElideRight, int(col_w - key_w)))
            y += line_h
            used += 1
        p.end()
