"""Screenshots of three moments a new annotator meets (docs/app.md, "Before and after").

Drives the real window offscreen with real mouse clicks on a 24-camera synthetic capture:

1. ``third_view``: a joint clicked in two views (auto-advance moves on), then the same joint
   clicked in a third view;
2. ``reopen``: one joint labelled, the project saved, closed and opened again;
3. ``wrong_click``: a second click ~70 px off the joint (far from the epipolar curve).

Only APIs that older versions of the app also have are used, so the same script shows the
behaviour before a change (run it with PYTHONPATH pointing at an older checkout)::

    QT_QPA_PLATFORM=offscreen python docs/images/make_app_scenarios.py OUT_DIR [--tag after]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np


def _project(folder: Path) -> Path:
    from annotator.synth.studio import StudioConfig
    from annotator.synth.writer import write_capture

    out = folder / "capture24"
    write_capture(out, StudioConfig(cameras=24, instants=4, subjects=1, seed=5), workers=1)
    return out


def _window(path: Path):
    from PyQt5.QtWidgets import QApplication

    from annotator.session import AnnotationSession
    from gui.app import MainWindow
    from gui.project_open import open_for_app
    from gui.theme import apply_dark_theme

    store, ro = open_for_app(path)
    session = AnnotationSession(store, annotator="newcomer")
    apply_dark_theme(QApplication.instance())
    win = MainWindow(session, read_only=ro, prefetch=False)
    win.resize(1600, 960)
    win.show()
    QApplication.processEvents()
    return win


def _click(panel, uv, zoom: float = 1.6) -> None:
    from PyQt5.QtCore import QPoint, Qt
    from PyQt5.QtTest import QTest
    from PyQt5.QtWidgets import QApplication

    panel.centre_on(np.asarray(uv, float), zoom)
    xy = panel.viewport.to_widget(np.asarray(uv, float))
    QTest.mouseClick(panel.canvas, Qt.LeftButton, Qt.NoModifier,
                     QPoint(int(round(xy[0])), int(round(xy[1]))))
    QApplication.processEvents()


def _seen(win, j):
    gt = win.store.ground_truth(win.session.instant)
    names = win.store.camera_names
    return [(p, gt.uv_px[names.index(p.camera), j]) for p in win.panels
            if gt.visible[names.index(p.camera), j]]


def _joint(win, n: int) -> int:
    for j in range(41):
        if len(_seen(win, j)) >= n and len(_seen(win, j + 1)) >= 2 and j % 21 != 20:
            return j
    raise RuntimeError("no joint seen in enough panels")


def _start(master: Path, proj: Path, views: int):
    """A fresh copy of the capture in a window, a joint seen in ``views`` panels selected;
    returns the window and (panel, ground-truth uv) of those panels."""
    shutil.copytree(master, proj)
    win = _window(proj)
    j = _joint(win, views)
    win.intent(win.session.select_joint, j)
    return win, _seen(win, j)[:views]


def _close(win) -> None:
    win.close()
    win.store.close()


def _shot(win, path: Path) -> None:
    from PyQt5.QtWidgets import QApplication

    QApplication.processEvents()
    win.flush()
    win.grab().save(str(path))
    print(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--tag", default="after")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from PyQt5.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    try:
        master = _project(tmp)
        # 1. the third-view click
        win, seen = _start(master, tmp / "p1", 3)
        for panel, uv in seen:
            _click(panel, uv)
        _shot(win, args.out / f"app_third_view_{args.tag}.png")
        _close(win)
        # 2. reopening
        win, seen = _start(master, tmp / "p2", 2)
        for panel, uv in seen:
            _click(panel, uv)
        _close(win)
        win = _window(tmp / "p2")
        win.act_fit_images()
        _shot(win, args.out / f"app_reopen_{args.tag}.png")
        _close(win)
        # 3. a clearly wrong second click
        win, ((p1, uv1), (p2, uv2)) = _start(master, tmp / "p3", 2)
        _click(p1, uv1)
        _click(p2, np.asarray(uv2) + np.array([60.0, 36.0]))
        _shot(win, args.out / f"app_wrong_click_{args.tag}.png")
        _close(win)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    app.quit()


if __name__ == "__main__":
    main()
