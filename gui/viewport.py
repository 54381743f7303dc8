"""Zoom and pan of one image panel as a pure value: image pixels <-> widget pixels.

``widget = image * scale + offset`` (both in pixels; image pixel centres at integer
coordinates as everywhere in the project). No Qt, so the mouse logic and its tests use it
directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Viewport", "fit", "fit_rect", "MIN_SCALE", "MAX_SCALE"]

MIN_SCALE = 0.05
MAX_SCALE = 64.0


@dataclass(frozen=True)
class Viewport:
    """Similarity transform from image pixels to widget pixels.

    Attributes:
        scale: widget pixels per image pixel.
        offset_x, offset_y: widget position of image pixel (0, 0).
    """

    scale: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_widget(self, uv_px) -> np.ndarray:
        """(..., 2) image pixels -> (..., 2) widget pixels."""
        uv = np.asarray(uv_px, dtype=np.float64)
        return uv * self.scale + np.array([self.offset_x, self.offset_y])

    def to_image(self, xy) -> np.ndarray:
        """(..., 2) widget pixels -> (..., 2) image pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy - np.array([self.offset_x, self.offset_y])) / self.scale

    def zoom_at(self, factor: float, x: float, y: float) -> Viewport:
        """Zoom by ``factor`` keeping the image point under widget point (x, y) fixed."""
        new_scale = float(np.clip(self.scale * factor, MIN_SCALE, MAX_SCALE))
        k = new_scale / self.scale
        return Viewport(new_scale, x - (x - self.offset_x) * k, y - (y - self.offset_y) * k)

    def panned(self, dx: float, dy: float) -> Viewport:
        """Moved by (dx, dy) widget pixels."""
        return Viewport(self.scale, self.offset_x + dx, self.offset_y + dy)

    def centred_on(self, uv_px, widget_w: float, widget_h: float, scale: float | None = None
                   ) -> Viewport:
        """The image point ``uv_px`` at the widget centre, at ``scale`` (default: unchanged)."""
        s = float(np.clip(scale if scale is not None else self.scale, MIN_SCALE, MAX_SCALE))
        u, v = float(uv_px[0]), float(uv_px[1])
        return Viewport(s, widget_w / 2 - u * s, widget_h / 2 - v * s)


def fit(image_w: int, image_h: int, widget_w: int, widget_h: int) -> Viewport:
    """The whole image centred in the widget, as large as fits."""
    return fit_rect((-0.5, -0.5, image_w - 0.5, image_h - 0.5), widget_w, widget_h, margin=0.0)


def fit_rect(rect_px, widget_w: int, widget_h: int, margin: float = 0.08,
             max_scale: float = 8.0) -> Viewport:
    """The image rectangle ``(u0, v0, u1, v1)`` centred in the widget with a relative margin.

    Used by fit-to-hands; ``max_scale`` keeps a single point from zooming in absurdly.
    """
    u0, v0, u1, v1 = (float(c) for c in rect_px)
    if not all(np.isfinite([u0, v0, u1, v1])) or u1 < u0 or v1 < v0:
        raise ValueError(f"rect_px must be finite (u0, v0, u1, v1) with u0<=u1, v0<=v1: {rect_px}")
    w = max(u1 - u0, 1.0) * (1 + 2 * margin)
    h = max(v1 - v0, 1.0) * (1 + 2 * margin)
    scale = float(np.clip(min(widget_w / w, widget_h / h), MIN_SCALE, max_scale))
    return Viewport(1.0).centred_on(((u0 + u1) / 2, (v0 + v1) / 2), widget_w, widget_h, scale)
