"""Drawing primitives of the panels: a draw list through a viewport, numpy images as QImages.

Pens are cached (a few dozen styles); each draw-list group is one painter call.
"""

from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QLineF, QPointF, QRectF, Qt
from PyQt5.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen

from gui.overlay import DrawList, Lines, Markers, Polyline
from gui.viewport import Viewport

__all__ = ["paint_drawlist", "bgr_to_qimage", "pen"]



def bgr_to_qimage(bgr: np.ndarray) -> QImage:
    """Wrap an (H, W, 3) uint8 BGR array without copying (keep the array alive)."""
    h, w = bgr.shape[:2]
    return QImage(bgr.data, w, h, int(bgr.strides[0]), QImage.Format_BGR888)


_PENS: dict[tuple, QPen] = {}


def pen(rgb, alpha: int, width: float, dashed: bool = False) -> QPen:
    """A cached pen (a few dozen distinct styles; building QPens per frame showed up in
    the click profile)."""
    key = (tuple(rgb), alpha, width, dashed)
    pen = _PENS.get(key)
    if pen is None:
        pen = _PENS[key] = _make_pen(rgb, alpha, width, dashed)
    return pen


def _make_pen(rgb, alpha: int, width: float, dashed: bool) -> QPen:
    pen = QPen(QColor(rgb[0], rgb[1], rgb[2], alpha))
    pen.setWidthF(width)
    pen.setCapStyle(Qt.RoundCap)
    if dashed:
        pen.setStyle(Qt.DashLine)
    return pen


def paint_drawlist(p: QPainter, dl: DrawList, vp: Viewport) -> None:
    """Draw ``dl`` (image px) with ``p`` through the viewport; one call per style group."""
    outline = QPen(QColor(0, 0, 0, 200))
    outline.setWidthF(1.0)
    for it in dl.items:
        if isinstance(it, Lines):
            xy = vp.to_widget(it.segments_px.reshape(-1, 2)).reshape(-1, 4)
            p.setPen(pen(it.rgb, it.alpha, it.width, it.dashed))
            p.drawLines([QLineF(*row) for row in xy.tolist()])
        elif isinstance(it, Polyline):
            xy = vp.to_widget(it.points_px)
            path = QPainterPath()
            pen_down = False
            for x, y in xy.tolist():
                if not (np.isfinite(x) and np.isfinite(y)):
                    pen_down = False
                    continue
                if pen_down:
                    path.lineTo(x, y)
                else:
                    path.moveTo(x, y)
                    pen_down = True
            p.setBrush(Qt.NoBrush)
            p.setPen(pen((0, 0, 0), 140, it.width + 2.0))
            p.drawPath(path)
            p.setPen(pen(it.rgb, it.alpha, it.width, it.dashed))
            p.drawPath(path)
        elif isinstance(it, Markers):
            xy = vp.to_widget(it.points_px)
            r = it.size / 2.0
            col = QColor(it.rgb[0], it.rgb[1], it.rgb[2], it.alpha)
            if it.shape == "disc":
                p.setPen(outline)
                p.setBrush(QBrush(col))
                for x, y in xy.tolist():
                    p.drawEllipse(QPointF(x, y), r, r)
            elif it.shape == "ring":
                p.setBrush(Qt.NoBrush)
                p.setPen(pen(it.rgb, it.alpha, 1.8))
                for x, y in xy.tolist():
                    p.drawEllipse(QPointF(x, y), r, r)
            elif it.shape == "square":
                p.setBrush(Qt.NoBrush)
                p.setPen(pen(it.rgb, it.alpha, 1.4))
                for x, y in xy.tolist():
                    p.drawRect(QRectF(x - r, y - r, 2 * r, 2 * r))
            else:  # cross: dark outline under a bright cross, readable on any background
                lines = []
                for x, y in xy.tolist():
                    lines += [QLineF(x - r, y, x + r, y), QLineF(x, y - r, x, y + r)]
                p.setPen(pen((0, 0, 0), 220, 3.6))
                p.drawLines(lines)
                p.setPen(pen(it.rgb, 255, 1.8))
                p.drawLines(lines)
