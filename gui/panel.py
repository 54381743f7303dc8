"""One image panel: a camera picker over a canvas that draws the image and its overlay.

The panel is a view: it shows what the window pushes into it (image, overlay input) and
emits what the user did (``clicked``, ``cameraChosen``); all mouse logic is
:func:`gui.mouse.handle`, all overlay geometry :func:`gui.overlay.build_overlay`.
"""

from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PyQt5.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui import mouse, theme
from gui.image_cache import ImageCache, LoadedImage
from gui.overlay import DrawList, PanelOverlayInput, build_overlay
from gui.painting import bgr_to_qimage, paint_drawlist, pen
from gui.viewport import Viewport, fit, fit_rect

__all__ = ["ImagePanel", "Canvas"]

_BUTTONS = {Qt.LeftButton: "left", Qt.MiddleButton: "middle", Qt.RightButton: "right"}


class Canvas(QWidget):
    """The drawing surface of a panel; forwards pointer events to its panel."""

    def __init__(self, panel: ImagePanel):
        super().__init__(panel)
        self._panel = panel
        # Tracking on: moves arrive even when the platform reports no button held (offscreen
        # test input); idle moves cost one early return in ImagePanel.pointer.
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(120, 90)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.ClickFocus)

    def paintEvent(self, _ev) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        try:
            self._panel.paint(p, self.width(), self.height())
        finally:
            p.end()

    def resizeEvent(self, _ev) -> None:  # noqa: N802
        self._panel.canvas_resized()

    def _pointer(self, kind: str, ev) -> mouse.Pointer:
        pos = ev.localPos()  # sub-pixel where the platform gives it (high-DPI screens, tablets)
        return mouse.Pointer(kind, pos.x(), pos.y(), _BUTTONS.get(ev.button(), ""),
                             space=self._panel.space_held(),
                             shift=bool(ev.modifiers() & Qt.ShiftModifier))

    def mousePressEvent(self, ev) -> None:  # noqa: N802
        self._panel.pointer(self._pointer("press", ev))

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802
        self._panel.pointer(self._pointer("move", ev))

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802
        self._panel.pointer(self._pointer("release", ev))

    def wheelEvent(self, ev) -> None:  # noqa: N802
        pos = ev.posF()
        self._panel.pointer(mouse.Pointer("wheel", pos.x(), pos.y(),
                                          wheel_delta=ev.angleDelta().y()))

    def enterEvent(self, _ev) -> None:  # noqa: N802
        self._panel.hovered.emit(self._panel.index)


class ImagePanel(QWidget):
    """Camera picker + canvas for one of the six views.

    Signals: ``clicked(panel, u, v, joint)`` (joint -1: the current joint or the placed
    joint whose marker the click is on, -2: the current joint whatever the markers),
    ``dragged(panel, joint, u, v)`` while a click is dragged, ``cameraChosen(panel,
    camera)``, ``hovered(panel)``.
    """

    #: ``clicked`` joint values: the session picks the joint / the current joint (Shift).
    PLACE, PLACE_CURRENT = -1, -2

    clicked = pyqtSignal(int, float, float, int)
    dragged = pyqtSignal(int, int, float, float)
    cameraChosen = pyqtSignal(int, str)
    hovered = pyqtSignal(int)
    resized = pyqtSignal(int)

    def __init__(self, index: int, cameras: list[str], parent: QWidget | None = None,
                 space_held=lambda: False):
        super().__init__(parent)
        self.index = index
        self.camera = ""
        self.space_held = space_held
        self._image: LoadedImage | None = None
        self._qimage: QImage | None = None
        self._shown_bgr: np.ndarray | None = None
        self._image_size = (1, 1)
        self._lut: np.ndarray | None = None
        self._overlay_in: PanelOverlayInput | None = None
        self._drawlist = DrawList()
        self._state = mouse.Interaction()
        self._previewing = False
        self._backdrop: QPixmap | None = None
        self.cache: ImageCache | None = None
        self._small_key: tuple | None = None
        self._small_arr: np.ndarray | None = None
        self._qsmall: QImage | None = None
        self._backdrop_key: tuple | None = None
        self._fitted = True
        self.viewport = Viewport()
        self.active = False
        self._click_counts: dict[str, int] = {}
        self._picker_names: list[str] = []

        self.picker = QComboBox(self)
        self._fill_picker(cameras, {})
        self.picker.setFocusPolicy(Qt.NoFocus)
        self.picker.setToolTip(
            "camera shown in this panel (your choice is saved with the project; V goes back "
            "to the automatic choice). ● n: that camera holds n clicks at this instant")
        self.picker.activated.connect(self._picked)
        self.title = QLabel(self)
        self.title.setObjectName("panelTitle")
        head = QHBoxLayout()
        head.setContentsMargins(2, 0, 2, 0)
        head.setSpacing(6)
        num = QLabel(f"<b>{index + 1}</b>", self)
        head.addWidget(num)
        head.addWidget(self.picker)
        head.addWidget(self.title, 1)
        self.canvas = Canvas(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(1)
        lay.addLayout(head)
        lay.addWidget(self.canvas, 1)

    # --- what the window pushes in --------------------------------------------------------
    def set_camera(self, camera: str, size_px: tuple[int, int]) -> None:
        """Show ``camera`` (image size (w, h) from its calibration); refits on a change."""
        if camera != self.camera:
            self.camera = camera
            self._image_size = (int(size_px[0]), int(size_px[1]))
            self._fitted = True
            self.fit_image()
        # Also after a refused choice: the picker shows what the panel shows.
        idx = self.picker.findData(camera)
        if idx >= 0 and idx != self.picker.currentIndex():
            self.picker.setCurrentIndex(idx)

    def set_cameras(self, cameras: list[str], clicks: dict[str, int] | None = None) -> None:
        """The cameras the picker offers (the current instant's rig), each marked with the
        number of clicks it holds at this instant (``clicks``: camera -> count)."""
        clicks = clicks or {}
        if self._picker_names != list(cameras):
            self._fill_picker(cameras, clicks)
            self.camera = ""  # re-selected by the next set_camera
        elif clicks != self._click_counts:
            for cam in set(clicks) | set(self._click_counts):
                k = self._picker_names.index(cam)
                self.picker.setItemText(k, _picker_text(cam, clicks.get(cam, 0)))
        self._click_counts = dict(clicks)

    def _fill_picker(self, cameras: list[str], clicks: dict[str, int]) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for cam in cameras:
            self.picker.addItem(_picker_text(cam, clicks.get(cam, 0)), cam)
        self.picker.blockSignals(False)
        self._click_counts = dict(clicks)
        self._picker_names = list(cameras)

    def set_image(self, img: LoadedImage) -> None:
        self._image = img
        self._update_shown()

    def set_levels(self, lut: np.ndarray | None) -> None:
        """Brightness/contrast as a (256,) uint8 lookup table (None: unchanged pixels)."""
        if lut is None and self._lut is None:
            return
        self._lut = lut
        self._update_shown()

    def display_size(self) -> tuple[int, int] | None:
        """(w, h) the image is drawn at when shrunk (zoom < 1), else None."""
        s = self.viewport.scale
        if s >= 1.0:
            return None
        iw, ih = self._image_size
        return max(1, int(round(iw * s))), max(1, int(round(ih * s)))

    def _display_image(self, size: tuple[int, int]) -> QImage | None:
        """The shown image shrunk to ``size`` with brightness/contrast applied, when the
        prefetch threads prepared it (None otherwise: Qt scales it while drawing)."""
        key = (id(self._image), id(self._lut), size)
        if self._small_key == key and self._qsmall is not None:
            return self._qsmall
        img = self._image
        arr = self.cache.shrunk(img.path, size) if self.cache is not None else None
        if arr is None:
            return None
        if self._lut is not None:
            import cv2

            arr = cv2.LUT(arr, self._lut)
        self._small_arr = arr
        self._qsmall = QImage(arr.data, arr.shape[1], arr.shape[0], int(arr.strides[0]),
                              QImage.Format_RGB32)
        self._small_key = key
        return self._qsmall

    def _update_shown(self) -> None:
        img = self._image
        if img is None or img.bgr is None:
            self._qimage, self._shown_bgr = None, None
            return
        if self._lut is not None:
            import cv2

            self._shown_bgr = cv2.LUT(img.bgr, self._lut)
        else:
            self._shown_bgr = img.bgr
        self._qimage = bgr_to_qimage(self._shown_bgr)
        h, w = img.bgr.shape[:2]
        if (w, h) != self._image_size:
            self._image_size = (w, h)
            if self._fitted:
                self.fit_image()

    def set_overlay(self, inp: PanelOverlayInput | None) -> None:
        self._overlay_in = inp
        self._drawlist = build_overlay(inp) if inp is not None else DrawList()

    def preview_joint(self, joint: int, uv_px) -> None:
        """Draw ``joint``'s reprojection at ``uv_px`` (image px; NaN hides it) until the
        next :meth:`set_overlay`: the live view of a click dragged in another panel."""
        from dataclasses import replace

        inp = self._overlay_in
        if inp is None:
            return
        reproj = np.array(inp.reproj_px, dtype=np.float64, copy=True)
        reproj[joint] = np.asarray(uv_px, dtype=np.float64)
        self._drawlist = build_overlay(replace(inp, reproj_px=reproj))
        self.canvas.update()

    def set_title(self, text: str) -> None:
        self.title.setText(text)

    # --- zoom / pan -------------------------------------------------------------------------
    def fit_image(self) -> None:
        self.viewport = fit(*self._image_size, self.canvas.width(), self.canvas.height())
        self._fitted = True

    def fit_points(self, uv_px: np.ndarray, margin: float = 0.25) -> bool:
        """Fit the bounding box of the finite (N, 2) points; False when there are none."""
        pts = np.asarray(uv_px, dtype=np.float64).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts) == 0:
            return False
        u0, v0 = pts.min(axis=0)
        u1, v1 = pts.max(axis=0)
        pad = 12.0
        self.viewport = fit_rect((u0 - pad, v0 - pad, u1 + pad, v1 + pad), self.canvas.width(),
                                 self.canvas.height(), margin=margin)
        self._fitted = False
        return True

    def centre_on(self, uv_px: np.ndarray, scale: float) -> None:
        self.viewport = self.viewport.centred_on(uv_px, self.canvas.width(),
                                                 self.canvas.height(), scale)
        self._fitted = False

    def canvas_resized(self) -> None:
        if self._fitted:
            self.fit_image()
        self.resized.emit(self.index)

    # --- events ------------------------------------------------------------------------------
    def _picked(self, idx: int) -> None:
        cam = self.picker.itemData(idx)
        if cam and cam != self.camera:
            self.cameraChosen.emit(self.index, cam)

    def pointer(self, ev: mouse.Pointer) -> None:
        if ev.kind == "move" and self._state.mode == "idle":
            return
        inp = self._overlay_in
        n = 0 if inp is None else len(inp.clicks_px)
        clicks_xy = self.viewport.to_widget(inp.clicks_px) if n else np.zeros((0, 2))
        reproj_xy = self.viewport.to_widget(inp.reproj_px) if n else np.zeros((0, 2))
        if inp is not None and inp.occluded is not None:
            reproj_xy = np.where(np.asarray(inp.occluded)[:, None], np.nan, reproj_xy)
        cur = inp.current_joint if inp is not None else None
        self._state, actions = mouse.handle(self._state, ev, self.viewport, clicks_xy,
                                            reproj_xy, cur)
        for act in actions:
            if isinstance(act, mouse.Zoom):
                self.viewport = self.viewport.zoom_at(act.factor, act.x, act.y)
                self._fitted = False
                self.canvas.update()
            elif isinstance(act, mouse.Pan):
                self.viewport = self.viewport.panned(act.dx, act.dy)
                self._fitted = False
                self.canvas.update()
            elif isinstance(act, mouse.DragPreview) and inp is not None:
                self._drawlist = build_overlay(_with_drag(inp, act.joint, act.uv_px))
                self._previewing = True
                self.canvas.update()
                self.dragged.emit(self.index, act.joint, act.uv_px[0], act.uv_px[1])
            elif isinstance(act, mouse.Click):
                if act.joint is not None:
                    joint = act.joint
                else:
                    joint = self.PLACE_CURRENT if act.force else self.PLACE
                self.clicked.emit(self.index, act.uv_px[0], act.uv_px[1], joint)
        if ev.kind == "release" and self._previewing:
            # A cancelled drag (or one the session refused) goes back to the model's state.
            self._previewing = False
            self._drawlist = build_overlay(self._overlay_in) if self._overlay_in else DrawList()
            self.canvas.update()

    # --- painting -----------------------------------------------------------------------------
    def paint(self, p: QPainter, w: int, h: int) -> None:
        # The image, scaled to the current zoom, is kept as a pixmap of the canvas size and
        # only redrawn when the image, levels, zoom/pan or size change: a click redraws the
        # overlay over a 1:1 blit instead of rescaling six images.
        size = self.display_size()
        if self._qimage is not None and size and self._display_image(size) is not None:
            # A prepared display-size image: drawing it is a 1:1 copy anyway.
            self._paint_image(p, w, h)
            self._backdrop_key = None
        else:
            self._paint_backdrop(p, w, h)
        p.setRenderHint(QPainter.Antialiasing, True)
        paint_drawlist(p, self._drawlist, self.viewport)
        if self.active:
            p.setPen(pen(theme.ACCENT, 255, 2.0))
            p.setBrush(Qt.NoBrush)
            p.drawRect(QRectF(1, 1, w - 2, h - 2))

    def _paint_backdrop(self, p: QPainter, w: int, h: int) -> None:
        key = (id(self._qimage), id(self._image), self.viewport, w, h)
        if self._backdrop is None or self._backdrop_key != key:
            self._backdrop = QPixmap(w, h)
            bp = QPainter(self._backdrop)
            try:
                self._paint_image(bp, w, h)
            finally:
                bp.end()
            self._backdrop_key = key
        p.drawPixmap(0, 0, self._backdrop)

    def _paint_image(self, p: QPainter, w: int, h: int) -> None:
        p.fillRect(0, 0, w, h, theme.qcolor(theme.BG_PANEL))
        vp = self.viewport
        iw, ih = self._image_size
        target = QRectF(vp.offset_x - 0.5 * vp.scale, vp.offset_y - 0.5 * vp.scale,
                        iw * vp.scale, ih * vp.scale)
        size = self.display_size()
        small = self._display_image(size) if self._qimage is not None and size else None
        if small is not None:
            # Shrunk ahead of time by the prefetch threads (area averaging): drawn 1:1.
            p.drawImage(QPointF(target.x(), target.y()), small)
        elif self._qimage is not None:
            # Zoomed in: smooth up to 2x, then nearest pixels, so the annotator sees real
            # pixels at a fingertip.
            p.setRenderHint(QPainter.SmoothPixmapTransform, vp.scale < 2.0)
            p.drawImage(target, self._qimage)
        else:
            p.fillRect(target, QColor(40, 30, 30))
            p.setPen(QColor(255, 160, 160))
            f = QFont(p.font())
            f.setPointSizeF(10.0)
            p.setFont(f)
            reason = self._image.error if self._image is not None else "loading…"
            p.drawText(QRectF(8, 8, w - 16, h - 16), Qt.AlignCenter | Qt.TextWordWrap,
                       f"⚠ {reason}")

    @property
    def drawlist(self) -> DrawList:
        return self._drawlist


def _picker_text(camera: str, clicks: int) -> str:
    return f"{camera}   ● {clicks}" if clicks else camera


def _with_drag(inp: PanelOverlayInput, joint: int, uv_px) -> PanelOverlayInput:
    from dataclasses import replace

    return replace(inp, drag=(joint, np.asarray(uv_px, dtype=np.float64)))
