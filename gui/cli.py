"""``annotator gui [PROJECT]``: the six-view annotation app (PyQt5).

Imports nothing heavy at module level (``annotator --help`` must stay light); Qt, numpy and
the store are imported in :func:`run`.
"""

from __future__ import annotations

import argparse
import getpass
import re

from annotator.cli.support import CliError, check_output_file, int_at_least, tqdm_progress

#: Picture formats ``--screenshot`` writes (Qt's image writers that need no plugin).
_SHOT_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm")
#: Instants are numbered from 1 on the command line.
_instant = int_at_least(1, "an instant number")


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)[xX](\d+)", text.strip())
    if not m or int(m.group(1)) < 320 or int(m.group(2)) < 240:
        raise argparse.ArgumentTypeError(f"expected WxH of at least 320x240, got {text!r}")
    return int(m.group(1)), int(m.group(2))


#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 40


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "gui",
        help="the six-view annotation app (click a joint in two views, see it in 3D)",
        description="Open PROJECT in the annotation app. Without PROJECT, opens the embedded "
        "default: a small synthetic studio capture generated once into the user cache folder.",
    )
    p.add_argument("project", nargs="?", help="project folder (default: the embedded project)")
    p.add_argument("--read-only", action="store_true", help="browse without editing")
    p.add_argument("--annotator", default=None,
                   help="name stored with your labels (login; a work package: its annotator)")
    p.add_argument("--instant", type=_instant, default=None, help="instant to open (from 1)")
    p.add_argument("--screenshot", metavar="PATH",
                   help="draw the window offscreen with some joints placed, save PATH, exit")
    p.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help="window size (default 1600x960 for --screenshot)")
    return p


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                       or os.environ.get("QT_QPA_PLATFORM"))
    if args.screenshot and not has_display:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif not has_display:

        # Qt would abort the process without a display; say what to do instead.
        raise CliError("no display (DISPLAY is not set): run it on a desktop, under "
                       "`xvfb-run`, or with --screenshot PATH")

    # Arguments first: a bad one is one line, before Qt prints anything.
    from annotator.store.layout import is_project
    from gui.platform_check import startup_problem

    if args.project is not None and not is_project(args.project):
        raise CliError(f"{args.project}: not a project (no project.toml)")
    if args.screenshot:

        shot = check_output_file(args.screenshot, "--screenshot", suffixes=_SHOT_FORMATS)
        shot.parent.mkdir(parents=True, exist_ok=True)
    problem = startup_problem()
    if problem:
        # Qt would abort with "could not load the Qt platform plugin": say what is missing.
        raise CliError(problem)
    from PyQt5.QtWidgets import QApplication

    from gui.qt_messages import install_quiet_handler

    install_quiet_handler()

    from gui.project_open import default_project, default_project_dir
    from gui.theme import apply_dark_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_dark_theme(app)
    project = args.project
    if project is None:
        folder = default_project_dir()
        if not is_project(folder):

            print(f"generating the embedded default project in {folder} (once)...",
                  file=sys.stderr)
            with tqdm_progress("rendering", "instant") as progress:
                dialog = None if args.screenshot else _progress_dialog(folder)

                def both(done: int, total: int) -> None:
                    progress(done, total)
                    if dialog is not None:
                        dialog(done, total)

                default_project(progress=both, folder=folder)
        project = folder
    return launch(app, project, read_only=args.read_only, annotator=args.annotator,
                  instant=args.instant, screenshot=args.screenshot, size=args.size,
                  ask_read_only=None if args.screenshot else _dialog)


def _progress_dialog(folder):
    """A progress dialog for the first start (the terminal may not be visible)."""
    from PyQt5.QtCore import Qt
    from PyQt5.QtWidgets import QApplication, QProgressDialog

    dlg = QProgressDialog(f"Generating the embedded default project in\n{folder}\n(once)",
                          None, 0, 1)
    dlg.setWindowTitle("annotator")
    dlg.setWindowModality(Qt.ApplicationModal)
    dlg.setMinimumDuration(0)
    dlg.show()
    QApplication.processEvents()

    def update(done: int, total: int) -> None:
        dlg.setMaximum(max(total, 1))
        dlg.setValue(done)
        if done >= total:
            dlg.close()
        QApplication.processEvents()

    return update


def _dialog(message: str) -> bool:
    from gui.project_open import ask_read_only_dialog

    return ask_read_only_dialog(message)


def launch(app, project, *, read_only=False, annotator=None, instant=None, screenshot=None,
           size=None, ask_read_only=None) -> int:
    """Open ``project`` in a window on ``app``; run it, or save a screenshot and return."""
    from annotator.session import AnnotationSession
    from annotator.team.package import package_info
    from gui.app import MainWindow
    from gui.project_open import open_for_app
    from gui.screenshot import take_screenshot
    from gui.theme import apply_dark_theme

    store, ro = open_for_app(project, read_only=read_only,
                             ask_read_only=ask_read_only if ask_read_only else
                             (lambda _m: True) if screenshot else None)
    try:
        if instant is not None and instant > store.num_instants:
            raise CliError(f"--instant {instant}: {store.path} has {store.num_instants} instants")
        package = package_info(store)  # a work package labels under its annotator's name
        name = annotator or (package["annotator"] if package else getpass.getuser())
        session = AnnotationSession(store, annotator=name,
                                    instant=(instant - 1) if instant else 0)
        apply_dark_theme(app)
        win = MainWindow(session, read_only=ro)
        w, h = size or (1600, 960)
        win.resize(w, h)
        if screenshot:
            win.show()
            app.processEvents()
            take_screenshot(win, screenshot)
            print(f"screenshot: {screenshot}")
            win.close()
            return 0
        win.show()
        _close_on_signals(app, win)
        return int(app.exec_())
    finally:
        win_cache = locals().get("win")
        if win_cache is not None:
            win_cache.cache.close()
        store.close(save=False)


def _close_on_signals(app, win) -> None:
    """SIGTERM / SIGINT close the window like Ctrl+Q (pending edits saved), instead of
    killing the process mid-edit. Python runs signal handlers only when it has control, so
    a timer hands it control a few times a second."""
    import signal

    from PyQt5.QtCore import QTimer

    def quit_now() -> None:
        win.close()
        app.quit()

    def handler(_sig, _frame) -> None:
        # From the event loop: a signal that lands before exec_() starts must not be lost.
        QTimer.singleShot(0, quit_now)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    timer = QTimer(win)
    timer.timeout.connect(lambda: None)
    timer.start(250)
