"""Qt's own log lines that mean nothing to an annotator, kept off stderr.

The offscreen platform says "This plugin does not support propagateSizeHints()" for every
window, and QStandardPaths says "XDG_RUNTIME_DIR not set" on a bare machine; both would reach
the terminal ahead of a real one-line error. Every other Qt message is printed as Qt would.
"""

from __future__ import annotations

import sys

__all__ = ["install_quiet_handler", "NOISE"]

#: Substrings of Qt messages that are dropped.
NOISE = ("propagateSizeHints", "XDG_RUNTIME_DIR not set")


def _handler(_mode, _context, message) -> None:
    if any(n in message for n in NOISE):
        return
    print(message, file=sys.stderr)


def install_quiet_handler() -> None:
    """Route Qt's messages through a filter that drops :data:`NOISE` (call before the
    QApplication is made)."""
    from PyQt5.QtCore import qInstallMessageHandler

    qInstallMessageHandler(_handler)
