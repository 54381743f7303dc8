"""The keyboard map: one table, used to install the actions and to draw the help overlay.

Each :class:`Shortcut` names an action of :class:`gui.app.MainWindow` (a method
``act_<name>``); keys are ``QKeySequence`` strings. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Shortcut", "SHORTCUTS", "GROUPS", "by_action"]


@dataclass(frozen=True)
class Shortcut:
    action: str
    keys: tuple[str, ...]
    text: str
    group: str


GROUPS = ("Joints", "Placing", "Instants", "View", "File")

SHORTCUTS: tuple[Shortcut, ...] = (
    # Joints
    Shortcut("next_joint", ("Tab", "J"), "next joint (skips absent hands)", "Joints"),
    Shortcut("prev_joint", ("Shift+Tab", "K"), "previous joint", "Joints"),
    Shortcut("next_finger", ("F",), "first joint of the next finger", "Joints"),
    Shortcut("other_hand", ("H",), "same joint on the other hand", "Joints"),
    Shortcut("toggle_advance", ("Ctrl+J",), "auto-advance to the next joint on/off", "Joints"),
    # Placing
    Shortcut("delete_click", ("Delete", "Backspace"),
             "delete the current joint's click in the hovered view", "Placing"),
    Shortcut("clear_joint", ("Shift+Delete", "Shift+Backspace"),
             "remove the current joint from every view (clicks, marks, 3D)", "Placing"),
    Shortcut("keep_click", ("Ctrl+K",),
             "keep a click that disagrees with the joint's other clicks (flagged for review)",
             "Placing"),
    Shortcut("occluded_here", ("O",), "current joint not visible in the hovered view", "Placing"),
    Shortcut("lock_view", ("L",), "lock the current joint to its click in the hovered view",
             "Placing"),
    Shortcut("hand_absent", ("A",), "current joint's hand absent / present", "Placing"),
    Shortcut("accept_proposal", ("Return", "Enter"),
             "accept the machine proposal of the current joint", "Placing"),
    Shortcut("accept_all", ("Shift+Return",), "accept all machine proposals", "Placing"),
    Shortcut("undo", ("Ctrl+Z",), "undo", "Placing"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "Placing"),
    # Instants
    Shortcut("next_instant", ("D", "PgDown"), "next instant", "Instants"),
    Shortcut("prev_instant", ("S", "PgUp"), "previous instant", "Instants"),
    Shortcut("next_unlabelled", ("N",), "next instant that is not complete", "Instants"),
    Shortcut("goto_instant", ("Ctrl+G",), "jump to an instant", "Instants"),
    Shortcut("next_review", ("R",), "next instant of the review queue", "Instants"),
    # View
    Shortcut("zoom_joint", ("Z",), "zoom every panel onto the current joint", "View"),
    Shortcut("fit_hands", ("X",), "fit every panel to the hands", "View"),
    Shortcut("fit_images", ("Shift+X",), "whole images", "View"),
    Shortcut("toggle_skeleton", ("E",), "skeleton on/off", "View"),
    Shortcut("toggle_epipolar", ("P",), "epipolar curves on/off", "View"),
    Shortcut("auto_views", ("V",), "choose the six best cameras again", "View"),
    Shortcut("brighter", ("]",), "brighter", "View"),
    Shortcut("darker", ("[",), "darker", "View"),
    Shortcut("more_contrast", ("}",), "more contrast", "View"),
    Shortcut("less_contrast", ("{",), "less contrast", "View"),
    Shortcut("reset_image", ("\\",), "reset brightness and contrast", "View"),
    Shortcut("help", ("F1", "?"), "this help", "View"),
    # File
    Shortcut("save", ("Ctrl+S",), "save now (autosave: 3 s after an edit)",
             "File"),
    Shortcut("quit", ("Ctrl+Q",), "save and quit", "File"),
)


def by_action(name: str) -> Shortcut:
    """The shortcut entry of an action (KeyError if none)."""
    for s in SHORTCUTS:
        if s.action == name:
            return s
    raise KeyError(name)
