"""Fixtures of the app tests: one tiny synthetic studio project per session, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_project_master(tmp_path_factory) -> Path:
    """8 cameras x 3 instants, one subject, ground truth included (~2 s to render)."""
    from annotator.synth.studio import StudioConfig
    from annotator.synth.writer import write_capture

    out = tmp_path_factory.mktemp("gui_synth") / "proj"
    write_capture(out, StudioConfig(cameras=8, instants=3, subjects=1, seed=3), workers=1)
    return out


@pytest.fixture
def project(synth_project_master: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic project (tests edit and save it)."""
    dst = tmp_path / "proj"
    shutil.copytree(synth_project_master, dst)
    return dst


@pytest.fixture
def open_window(qtbot):
    """``open_window(path, **kw)`` -> MainWindow on a write (or read-only) store, shown."""
    from annotator.session import AnnotationSession
    from gui.app import MainWindow
    from gui.project_open import open_for_app
    from gui.theme import apply_dark_theme

    stores = []

    def make(path, read_only=False, ask_read_only=None, **kw):
        store, ro = open_for_app(path, read_only=read_only, ask_read_only=ask_read_only)
        stores.append(store)
        session = AnnotationSession(store, annotator="tester")
        from PyQt5.QtWidgets import QApplication

        apply_dark_theme(QApplication.instance())
        win = MainWindow(session, read_only=ro, **kw)
        win.resize(1280, 800)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        # Shortcuts fire in the active window only (offscreen has no window manager).
        QApplication.setActiveWindow(win)
        win.activateWindow()
        qtbot.waitUntil(win.isActiveWindow, timeout=2000)
        return win

    yield make
    for s in stores:
        s.close(save=False)
