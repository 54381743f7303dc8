"""The bone chart under the joint list: the current instant's bones against its subject's.

One column per hand (right, left), one row per bone of that hand, grouped by finger (tip
bone first, as the joint list), then its four palm spans (knuckle to knuckle), then its
five finger planes (each tip's offset from the plane of its finger's other joints). Each row
is drawn on a common relative axis: the centre line is the subject's median length, the
shaded band its threshold (median ± threshold, :mod:`annotator.team.bone_check`), the
marker the bone's length now; beyond twice the threshold the marker sits on the edge as an
arrow. Deviant bones are drawn in the flag colour and named below the chart. A hand with no
labelled bone is left out.

:func:`chart_rows` (pure) turns ``bone_check.InstantBones`` into what is drawn;
:class:`BoneChart` paints it with QPainter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QFont, QPainter, QPen, QPolygonF
from PyQt5.QtWidgets import QSizePolicy, QToolTip, QWidget

from annotator import skeleton
from annotator.team.bone_check import (
    BONE_NAMES,
    NUM_FINGER_PLANES,
    NUM_SKELETON_BONES,
    PALM_SPANS,
)
from gui import theme

__all__ = ["ChartRow", "chart_rows", "BoneChart", "AXIS_LIMIT"]

#: The axis spans ± this many thresholds around the median.
AXIS_LIMIT = 2.0
#: Rows per hand: its bones (20: by finger, 4 rows each), its palm spans, its finger planes.
_BONE_ROWS = NUM_SKELETON_BONES // len(skeleton.HANDS)
_PLANE_ROWS = NUM_FINGER_PLANES // len(skeleton.HANDS)
_FIRST_SPAN, _FIRST_PLANE = NUM_SKELETON_BONES, len(BONE_NAMES) - NUM_FINGER_PLANES
ROWS_PER_HAND = _BONE_ROWS + len(PALM_SPANS) + _PLANE_ROWS
_ROW_H = 7
_TITLE_H = 16
_LABEL_W = 44


def _group_rows(row: int) -> int:
    """Rows in the labelled group starting at ``row`` (a finger's 4 bones, the 4 palm
    spans, the 5 finger planes), 0 where no group starts."""
    planes = _BONE_ROWS + len(PALM_SPANS)
    if row == planes:
        return _PLANE_ROWS
    return 4 if row < planes and row % 4 == 0 else 0


@dataclass(frozen=True)
class ChartRow:
    """One bone as drawn: hand column, row, child joint, finger label, relative position
    (length - median) / threshold (NaN: not measured or not judged), tooltip, deviant,
    colour."""

    hand: int
    row: int
    child: int
    label: str
    rel: float
    tooltip: str
    deviant: bool
    rgb: theme.RGB


def chart_rows(bones) -> list[ChartRow]:
    """Rows of the chart for ``bone_check.InstantBones`` (hands with a measured bone only)."""
    rows = []
    measured = set()
    for b in range(len(bones.bone)):
        child = int(bones.child[b])
        hand = int(skeleton.HAND_INDEX[child])
        length, med = float(bones.length_mm[b]), float(bones.median_mm[b])
        thr = float(bones.high_mm[b]) - med
        rel = (length - med) / thr if math.isfinite(thr) and thr > 0 else float("nan")
        tip = [bones.names[b]]
        tip.append(f"now {length:.1f} mm" if math.isfinite(length) else "not measured here")
        tip.append(f"subject {med:.1f} mm ± {thr:.1f}" if math.isfinite(thr)
                   else "subject: too few labelled instants to judge")
        deviant = bool(bones.deviant[b])
        if deviant:
            tip.append("⚑ outside the subject's band")
        if math.isfinite(length):
            measured.add(hand)
        if b < _FIRST_SPAN:
            row = child - int(skeleton.hand_joints(skeleton.HANDS[hand])[0])
            label = skeleton.FINGER_OF_JOINT[child]
        elif b < _FIRST_PLANE:  # the palm spans, after the hand's bones
            row = _BONE_ROWS + (b - _FIRST_SPAN) % len(PALM_SPANS)
            label = "palm"
        else:  # the finger planes, last
            row = _BONE_ROWS + len(PALM_SPANS) + (b - _FIRST_PLANE) % _PLANE_ROWS
            label = "plane"
        rows.append(ChartRow(hand, row, child, label, rel,
                             "\n".join(tip), deviant,
                             theme.FLAG_RGB if deviant else theme.joint_rgb(child)))
    return [r for r in rows if r.hand in measured]


class BoneChart(QWidget):
    """Compact chart of the current instant's bones against its subject's lengths."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[ChartRow] = []
        self._title = "bone lengths"
        self._note = ""
        self._deviant_names: list[str] = []
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.setMinimumWidth(200)
        self.setFixedHeight(_TITLE_H + ROWS_PER_HAND * _ROW_H + 26)
        self.setToolTip("this instant's bones against the subject's: centre line = median "
                        "length, band = ± threshold, marker = now (red: outside the band)")

    # --- data -----------------------------------------------------------------------------
    def set_bones(self, bones, subject=None) -> None:
        """Show ``bone_check.InstantBones`` (None: nothing labelled / no statistics)."""
        rows = [] if bones is None else chart_rows(bones)
        judged = any(math.isfinite(r.rel) for r in rows)
        self._rows = rows
        who = "" if subject is None else f" · subject {subject}"
        self._title = f"bone lengths{who}"
        if not rows:
            self._note = "no bone labelled on this instant"
        elif not judged:
            self._note = "too few labelled instants of this subject to judge its bones"
        else:
            self._note = ""
        self._deviant_names = [r.tooltip.splitlines()[0] for r in rows if r.deviant]
        self.update()

    def rows(self) -> list[ChartRow]:
        """The rows shown (tests)."""
        return list(self._rows)

    def deviant_names(self) -> list[str]:
        return list(self._deviant_names)

    # --- painting -------------------------------------------------------------------------
    def _columns(self) -> list[int]:
        return sorted({r.hand for r in self._rows})

    def _geometry(self, col: int, n_cols: int) -> QRectF:
        w = (self.width() - 4) / max(n_cols, 1)
        return QRectF(2 + col * w, _TITLE_H, w - 6, ROWS_PER_HAND * _ROW_H)

    def paintEvent(self, _ev) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), theme.qcolor(theme.BG_WIDGET))
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.72))
        p.setPen(theme.qcolor(theme.FG_DIM))
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.drawText(QRectF(4, 0, self.width() - 8, _TITLE_H), Qt.AlignLeft | Qt.AlignVCenter,
                   self._title)
        p.setFont(small)
        cols = self._columns()
        for k, hand in enumerate(cols):
            area = self._geometry(k, len(cols))
            p.setPen(theme.qcolor(theme.FG_DIM))
            p.drawText(QRectF(area.left(), 0, area.width(), _TITLE_H),
                       Qt.AlignRight | Qt.AlignVCenter, skeleton.HANDS[hand])
            self._paint_hand(p, area, [r for r in self._rows if r.hand == hand])
        foot = QRectF(4, _TITLE_H + ROWS_PER_HAND * _ROW_H + 2, self.width() - 8, 22)
        if self._note:
            p.setPen(theme.qcolor(theme.FG_DIM))
            p.drawText(foot, Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, self._note)
        elif self._deviant_names:
            p.setPen(theme.qcolor(theme.FLAG_RGB))
            # one line, cut with an ellipsis: each row's tooltip names its length in full
            text = f"⚑ {len(self._deviant_names)} off: " + ", ".join(self._deviant_names)
            p.drawText(foot, Qt.AlignLeft | Qt.AlignTop,
                       p.fontMetrics().elidedText(text, Qt.ElideRight, int(foot.width())))
        else:
            p.setPen(theme.qcolor(theme.FG_DIM))
            p.drawText(foot, Qt.AlignLeft | Qt.AlignTop, "every bone within its band")
        p.end()

    def _bar_span(self, area: QRectF) -> tuple[float, float]:
        x0 = area.left() + _LABEL_W
        return x0, area.right() - 4

    def _x(self, area: QRectF, rel: float) -> float:
        x0, x1 = self._bar_span(area)
        t = (max(-AXIS_LIMIT, min(AXIS_LIMIT, rel)) + AXIS_LIMIT) / (2 * AXIS_LIMIT)
        return x0 + t * (x1 - x0)

    def _paint_hand(self, p: QPainter, area: QRectF, rows: list[ChartRow]) -> None:
        band_l, band_r = self._x(area, -1.0), self._x(area, 1.0)
        p.setPen(Qt.NoPen)
        p.setBrush(theme.qcolor(theme.ACCENT, 60))
        p.drawRect(QRectF(band_l, area.top(), band_r - band_l, area.height()))
        mid = self._x(area, 0.0)
        p.setPen(QPen(theme.qcolor(theme.FG_DIM), 1))
        p.drawLine(QPointF(mid, area.top()), QPointF(mid, area.bottom()))
        for r in rows:
            y = area.top() + r.row * _ROW_H
            cy = y + _ROW_H / 2
            group = _group_rows(r.row)
            if group and r.row:
                p.setPen(QPen(theme.qcolor(theme.BG_WINDOW), 1))
                p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            if group:
                p.setPen(theme.qcolor(theme.joint_rgb(r.child)))
                p.drawText(QRectF(area.left() + 2, y, _LABEL_W - 4, group * _ROW_H),
                           Qt.AlignLeft | Qt.AlignVCenter, r.label)
            if not math.isfinite(r.rel):
                continue
            x = self._x(area, r.rel)
            color = theme.qcolor(r.rgb)
            p.setPen(QPen(color, 2 if r.deviant else 1))
            p.drawLine(QPointF(mid, cy), QPointF(x, cy))
            p.setPen(Qt.NoPen)
            p.setBrush(color)
            if abs(r.rel) > AXIS_LIMIT:
                s = 1 if r.rel > 0 else -1
                p.drawPolygon(QPolygonF([QPointF(x + 4 * s, cy), QPointF(x - 2 * s, cy - 3.5),
                                         QPointF(x - 2 * s, cy + 3.5)]))
            else:
                p.drawEllipse(QPointF(x, cy), 2.6, 2.6)

    def row_at(self, x: float, y: float) -> ChartRow | None:
        """The bone row under widget point (x, y), or None."""
        cols = self._columns()
        for k, hand in enumerate(cols):
            area = self._geometry(k, len(cols))
            if area.left() <= x <= area.right() and area.top() <= y < area.bottom():
                row = int((y - area.top()) // _ROW_H)
                hit = [r for r in self._rows if r.hand == hand and r.row == row]
                return hit[0] if hit else None
        return None

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        r = self.row_at(ev.x(), ev.y())
        if r is not None:
            QToolTip.showText(ev.globalPos(), r.tooltip, self)
        super().mouseMoveEvent(ev)
