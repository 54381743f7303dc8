"""Benchmark of the annotation app: real widgets offscreen, side by side in one process.

    annotator synth /tmp/g140 --cameras 140 --instants 6 --subjects 1
    python bench/gui.py /tmp/g140 [--repeats 60] [--append-docs]

Measured, interleaved so that machine load hits every column alike:

- click: (a) floor: a bare QPainter redraw of the same six images (same widget sizes,
  same zoom) with the same number of overlay primitives (segments, markers, curve
  vertices), versus (b) the app: a real mouse press/release on a panel moves a click,
  the session re-triangulates the joint, reprojects it into all 140 cameras, the overlays
  are rebuilt and the six panels repainted synchronously (``repaint``). Target
  p95(b) <= 1.5 p95(a).
- instant switch (six 512x334 JPEGs decoded and drawn with overlays): the app without
  prefetch (empty image cache) against a bare decode (``cv2.imdecode`` of the same six
  files) + bare draw (target <= 2x), and the app with neighbour prefetch (the annotator
  spends time on each instant, the decoding of the next finishes meanwhile) against the
  bare redraw of already-decoded images (target <= 1.2x). Instants are visited for the
  first time in each round (a fresh session per round), so the session's per-instant work
  (labels read, reprojection into every camera, view choice) is inside the figure.
  The first switch after a window opens is also reported apart (one per round): it pays
  one-time costs the later switches do not.
- peak memory (VmHWM) of the process.

The session's edits are never saved: the project is left unchanged.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PyQt5.QtCore import QEvent, QLineF, QPointF, QRectF, Qt  # noqa: E402
from PyQt5.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen  # noqa: E402
from PyQt5.QtWidgets import QApplication, QGridLayout, QWidget  # noqa: E402

from annotator.session import AnnotationSession  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402
from gui.app import MainWindow  # noqa: E402
from gui.image_cache import ImageCache, decode_image  # noqa: E402
from gui.overlay import Lines, Markers, Polyline  # noqa: E402
from gui.painting import bgr_to_qimage  # noqa: E402
from gui.screenshot import place_from_ground_truth  # noqa: E402
from gui.theme import apply_dark_theme  # noqa: E402


class FloorCanvas(QWidget):
    """A bare QPainter widget: one image drawn through a fixed transform, then N segments
    in one ``drawLines``, M discs and a K-vertex polyline."""

    def __init__(self):
        super().__init__()
        self.qimage = None
        self.bgr = None
        self.rect_ = QRectF()
        self.segments: list[QLineF] = []
        self.points: list[QPointF] = []
        self.poly = QPainterPath()

    def set_scene(self, bgr, target: QRectF, n_seg: int, n_pts: int, n_poly: int, rng):
        self.bgr = bgr
        self.qimage = bgr_to_qimage(bgr) if bgr is not None else None
        self.rect_ = target
        w, h = max(self.width(), 2), max(self.height(), 2)
        xy = rng.uniform(0, 1, (n_seg, 4)) * [w, h, w, h]
        self.segments = [QLineF(*r) for r in xy.tolist()]
        self.points = [QPointF(x, y) for x, y in (rng.uniform(0, 1, (n_pts, 2)) * [w, h]).tolist()]
        self.poly = QPainterPath()
        if n_poly:
            self.poly.moveTo(0, 0)
            for k in range(1, n_poly + 1):
                self.poly.lineTo(w * k / n_poly, h * k / n_poly)

    def paintEvent(self, _ev):  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(18, 19, 22))
        if self.qimage is not None:
            p.setRenderHint(QPainter.SmoothPixmapTransform, True)
            p.drawImage(self.rect_, self.qimage)
        p.setRenderHint(QPainter.Antialiasing, True)
        pen = QPen(QColor(255, 200, 0))
        pen.setWidthF(2.0)
        p.setPen(pen)
        p.drawLines(self.segments)
        p.drawPath(self.poly)
        p.setBrush(QColor(0, 200, 0))
        for pt in self.points:
            p.drawEllipse(pt, 3.0, 3.0)
        p.end()


def counts(drawlist) -> tuple[int, int, int]:
    """(segments, markers, polyline vertices) of an app draw list."""
    seg = pts = poly = 0
    for it in drawlist.items:
        if isinstance(it, Lines):
            seg += len(it.segments_px)
        elif isinstance(it, Markers):
            pts += len(it.points_px) * (2 if it.shape == "cross" else 1)
        elif isinstance(it, Polyline):
            poly += len(it.points_px)
    return seg, pts, poly


def p50_p95(ms: list[float]) -> tuple[float, float]:
    a = np.asarray(ms)
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def vm_hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def press_release(canvas, xy) -> None:
    pos = QPointF(*xy)
    for kind in (QEvent.MouseButtonPress, QEvent.MouseButtonRelease):
        btns = Qt.LeftButton if kind == QEvent.MouseButtonPress else Qt.NoButton
        QApplication.sendEvent(canvas, QMouseEvent(kind, pos, Qt.LeftButton, btns, Qt.NoModifier))


class Floor:
    """Six bare canvases laid out like the app's panels (same sizes)."""

    def __init__(self, win: MainWindow):
        self.host = QWidget()
        grid = QGridLayout(self.host)
        grid.setContentsMargins(0, 0, 0, 0)
        self.canvases = [FloorCanvas() for _ in win.panels]
        for k, c in enumerate(self.canvases):
            c.setFixedSize(win.panels[k].canvas.size())
            grid.addWidget(c, k // 3, k % 3)
        self.host.show()
        QApplication.processEvents()  # mapped before the first timed repaint
        self.rng = np.random.default_rng(0)

    def mirror(self, win: MainWindow, bgrs=None) -> None:
        """Same images (or ``bgrs``), same zoom, same primitive counts as the app now."""
        for k, (panel, canvas) in enumerate(zip(win.panels, self.canvases, strict=True)):
            vp = panel.viewport
            iw, ih = panel._image_size
            target = QRectF(vp.offset_x - 0.5 * vp.scale, vp.offset_y - 0.5 * vp.scale,
                            iw * vp.scale, ih * vp.scale)
            bgr = panel._image.bgr if bgrs is None else bgrs[k]
            canvas.set_scene(bgr, target, *counts(panel.drawlist), self.rng)

    def repaint(self) -> None:
        for c in self.canvases:
            c.repaint()


def open_window(path, cache=None, prefetch=True, size=(1600, 960)):
    store = ProjectStore.open(path, mode="w")
    session = AnnotationSession(store, annotator="bench", autosave_s=None)
    win = MainWindow(session, cache=cache if cache is not None else ImageCache(),
                     prefetch=prefetch, autosave_ms=10**7)
    win.resize(*size)
    win.show()
    QApplication.processEvents()
    return win


def dispose(win: MainWindow) -> None:
    """Close a bench window without saving and free it (one window at a time, as in use)."""
    win.store.discard_changes()
    win.close()
    win.store.close(save=False)
    win.cache.close()
    win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.DeferredDelete)


def bench_click(win: MainWindow, floor: Floor, repeats: int) -> tuple[list, list]:
    s = win.session
    win.auto_advance = False
    place_from_ground_truth(s, fraction=0.8, views=2)
    win.flush()
    win.act_fit_hands()
    # joints clicked in a shown panel: (joint, panel, click uv)
    targets = []
    for p in win.panels:
        c = s.clicks(p.camera)
        for j in np.flatnonzero(np.isfinite(c).all(axis=1)):
            if s.joint_state(int(j)).n_views >= 2:
                targets.append((int(j), p, c[j].copy()))
    if not targets:
        raise SystemExit("no clicked joint to move: the project needs ground truth")
    floor_ms, app_ms = [], []
    for r in range(repeats):
        j, panel, uv = targets[r % len(targets)]
        if s.joint != j:
            win.intent(s.select_joint, j)
        floor.mirror(win)
        t0 = time.perf_counter()
        floor.repaint()
        floor_ms.append((time.perf_counter() - t0) * 1e3)
        new_uv = uv + (0.6 if r % 2 == 0 else 0.0)
        xy = panel.viewport.to_widget(new_uv)
        t0 = time.perf_counter()
        press_release(panel.canvas, xy)  # mouse logic -> session.click -> flush -> repaint
        app_ms.append((time.perf_counter() - t0) * 1e3)
        assert np.allclose(s.clicks(panel.camera)[j], panel.viewport.to_image(xy), atol=1e-3)
    return floor_ms, app_ms


def bench_switch(path, floor_of, rounds: int, prefetch: bool) -> tuple[list, list]:
    """App instant switches (fresh session per round) and the bare figure for the same
    images: bare decode+draw (no prefetch) or bare redraw of decoded images (prefetch)."""
    app_ms, bare_ms, first = [], [], []
    hits = [0, 0]
    for _ in range(rounds):
        cache = ImageCache()
        win = open_window(path, cache=cache, prefetch=prefetch)
        floor = floor_of(win)
        n = win.store.num_instants
        for _i in range(n - 1):
            if prefetch:
                QApplication.processEvents()  # the deferred prefetch is queued from the loop
                cache.wait_idle(timeout=30)  # the annotator works on this instant meanwhile
            else:
                cache.clear()
            t0 = time.perf_counter()
            win.act_next_instant()  # session.goto -> views -> decode -> overlays -> repaint
            app_ms.append((time.perf_counter() - t0) * 1e3)
            first.append(_i == 0)
            paths = [win._paths[win._cam_index[c]] for c in win.session.views]
            if prefetch:
                bgrs = [decode_image(p).bgr for p in paths]
                floor.mirror(win, bgrs)
                t0 = time.perf_counter()
                floor.repaint()
            else:
                floor.mirror(win, [None] * len(paths))
                t0 = time.perf_counter()
                bgrs = [decode_image(p).bgr for p in paths]
                floor.mirror(win, bgrs)
                floor.repaint()
            bare_ms.append((time.perf_counter() - t0) * 1e3)
        hits[0] += cache.hits
        hits[1] += cache.misses
        dispose(win)
    if prefetch:
        print(f"prefetch: {hits[0]} cache hits, {hits[1]} misses")
    return bare_ms, app_ms, first


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project", help="e.g. a 140-camera synthetic project (annotator synth)")
    ap.add_argument("--repeats", type=int, default=80, help="timed clicks (80)")
    ap.add_argument("--rounds", type=int, default=6, help="passes over the instants (6)")
    ap.add_argument("--append-docs", action="store_true", help="append to docs/benchmarks.md")
    args = ap.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_dark_theme(app)
    win = open_window(args.project)
    cams = len(win.store.camera_names)
    floor = Floor(win)
    floor_ms, app_ms = bench_click(win, floor, args.repeats)
    prims = sum(sum(counts(p.drawlist)) for p in win.panels)
    dispose(win)
    floor.host.deleteLater()
    floors = {}

    def floor_of(w):
        if "f" not in floors:
            floors["f"] = Floor(w)
        return floors["f"]

    nb_bare, nb_app, _ = bench_switch(args.project, floor_of, args.rounds, prefetch=False)
    pf_bare, pf_app, pf_first = bench_switch(args.project, floor_of, args.rounds, prefetch=True)
    steady = [ms for ms, f in zip(pf_app, pf_first, strict=True) if not f]
    opening = [ms for ms, f in zip(pf_app, pf_first, strict=True) if f]
    peak = vm_hwm_mb()

    rows = [
        ("click: bare redraw, six images + same primitives (a)", floor_ms, None),
        ("click: app click -> triangulate -> reproject all cameras -> redraw (b)", app_ms,
         (floor_ms, 1.5)),
        ("switch: bare decode + draw of the six JPEGs", nb_bare, None),
        ("switch: app, no prefetch (cold image cache)", nb_app, (nb_bare, 2.0)),
        ("switch: bare redraw of decoded images", pf_bare, None),
        ("switch: app, neighbour prefetch", pf_app, (pf_bare, 1.2)),
        ("  of which the first switch after the window opened", opening, (pf_bare, 1.2)),
        ("  of which every later switch", steady, (pf_bare, 1.2)),
    ]
    when = datetime.date.today().isoformat()
    head = (f"{cams} cameras, window 1600x960 offscreen, {prims} overlay primitives on the "
            f"six panels; {platform.machine()} {os.cpu_count()}-core CPU, no GPU, {when}")
    lines = [head, "", "| measurement | p50 ms | p95 ms | p95 ratio (target) |",
             "|---|---|---|---|"]
    for name, ms, ref in rows:
        p50, p95 = p50_p95(ms)
        ratio = ""
        if ref is not None:
            r = p95 / p50_p95(ref[0])[1]
            ratio = f"{r:.2f}x (<= {ref[1]}x) {'met' if r <= ref[1] else 'NOT met'}"
        lines.append(f"| {name} | {p50:.1f} | {p95:.1f} | {ratio} |")
    lines.append(f"| peak memory (VmHWM) | {peak:.0f} MB | | (< 1024 MB) "
                 f"{'met' if peak < 1024 else 'NOT met'} |")
    print("\n".join(lines))
    if args.append_docs:
        doc = REPO / "docs" / "benchmarks.md"
        with open(doc, "a", encoding="utf-8") as f:
            f.write("\n## Annotation app (bench/gui.py)\n\n    annotator synth /tmp/g140 "
                    "--cameras 140 --instants 6 --subjects 1\n    python bench/gui.py /tmp/g140"
                    "\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
