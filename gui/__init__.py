"""The six-view annotation app (PyQt5): a thin view over ``annotator.session``.

Entry point: ``annotator gui`` (:mod:`gui.cli`); the window is :class:`gui.app.MainWindow`.
Pure, Qt-free logic lives in :mod:`gui.overlay`, :mod:`gui.mouse`, :mod:`gui.viewport`,
:mod:`gui.epipolar` and :mod:`gui.shortcuts`. Nothing is imported here, so ``import gui``
stays light (the CLI's ``--help`` must not load Qt).
"""

__all__: list[str] = []
