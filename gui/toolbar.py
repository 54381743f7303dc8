"""The window's toolbar: instant navigation, toggles, brightness/contrast, help."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel, QSlider, QToolBar

from gui.shortcuts import by_action

__all__ = ["build_toolbar"]


def _button(win, bar: QToolBar, action: str, text: str, checkable: bool = False):
    act = bar.addAction(text)
    sc = by_action(action)
    act.setToolTip(f"{sc.text}  [{' / '.join(sc.keys)}]")
    act.setCheckable(checkable)
    act.triggered.connect(lambda *_: getattr(win, f"act_{action}")())
    return act


def build_toolbar(win) -> QToolBar:
    """Build the toolbar of ``win`` (a ``MainWindow``) and a ``sync_toggles`` method on it."""
    bar = QToolBar("main", win)
    bar.setMovable(False)
    bar.setFocusPolicy(Qt.NoFocus)
    win.addToolBar(Qt.TopToolBarArea, bar)
    _button(win, bar, "prev_instant", "◀ prev")
    _button(win, bar, "next_instant", "next ▶")
    _button(win, bar, "next_unlabelled", "next unlabelled")
    _button(win, bar, "goto_instant", "jump…")
    bar.addSeparator()
    _button(win, bar, "undo", "undo")
    _button(win, bar, "redo", "redo")
    _button(win, bar, "save", "save")
    bar.addSeparator()
    toggles = {
        "skeleton": _button(win, bar, "toggle_skeleton", "skeleton", True),
        "epipolar": _button(win, bar, "toggle_epipolar", "epipolar", True),
        "advance": _button(win, bar, "toggle_advance", "auto-advance", True),
    }
    bar.addSeparator()
    _button(win, bar, "fit_hands", "fit hands")
    _button(win, bar, "zoom_joint", "zoom joint")
    _button(win, bar, "auto_views", "best views")
    bar.addSeparator()
    bar.addWidget(QLabel(" brightness "))
    bright = QSlider(Qt.Horizontal)
    bright.setRange(-128, 128)
    bright.setFixedWidth(90)
    bright.setFocusPolicy(Qt.NoFocus)
    bright.valueChanged.connect(lambda v: win.set_levels(brightness=v))
    bar.addWidget(bright)
    bar.addWidget(QLabel(" contrast "))
    contrast = QSlider(Qt.Horizontal)
    contrast.setRange(25, 400)
    contrast.setValue(100)
    contrast.setFixedWidth(90)
    contrast.setFocusPolicy(Qt.NoFocus)
    contrast.valueChanged.connect(lambda v: win.set_levels(contrast=v / 100.0))
    bar.addWidget(contrast)
    bar.addSeparator()
    _button(win, bar, "help", "help (F1)")

    def sync_toggles() -> None:
        toggles["skeleton"].setChecked(win.show_skeleton)
        toggles["epipolar"].setChecked(win.show_epipolar)
        toggles["advance"].setChecked(win.auto_advance)
        for w, v in ((bright, win.brightness), (contrast, int(round(win.contrast * 100)))):
            if w.value() != v:
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)

    win.sync_toggles = sync_toggles
    sync_toggles()
    return bar
