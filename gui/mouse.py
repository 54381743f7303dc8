"""Mouse logic of an image panel as plain functions over small event dataclasses.

:func:`handle` takes the interaction state, a :class:`Pointer` event and what is under the
cursor (the panel's clicks and reprojections in widget pixels) and returns the new state and
a tuple of actions for the panel to carry out. No Qt here, so every gesture is tested
without a window.

Gestures:

- left press + release: place the current joint there (``Click``; on another placed
  joint's marker the session gives the click to that joint, Shift+click never does);
- left press near a click or a reprojected joint, drag, release: move that joint's click in
  this view (``Click`` with ``joint``); while dragging, ``DragPreview`` shows it live;
- middle or right drag, or space + left drag: pan; the wheel zooms about the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gui.viewport import Viewport

__all__ = [
    "Pointer",
    "Interaction",
    "Click",
    "DragPreview",
    "Pan",
    "Zoom",
    "handle",
    "hit_test",
    "PICK_RADIUS",
    "CLICK_SLOP",
]

#: A press this close (widget px) to a drawn joint grabs it instead of placing a new click.
PICK_RADIUS = 9.0
#: A left press that moves less than this before release is a click, not a drag.
CLICK_SLOP = 4.0
#: Zoom per wheel notch (120 units).
WHEEL_STEP = 1.2


@dataclass(frozen=True)
class Pointer:
    """One mouse event in widget pixels.

    kind: "press", "move", "release" or "wheel"; button: "left", "middle", "right" or ""
    (moves, wheel); space: whether the space bar is held; wheel_delta: angle delta (120 per
    notch, positive = away from the user); shift: whether Shift is held (a Shift+click
    places the selected joint even on another joint's marker).
    """

    kind: str
    x: float
    y: float
    button: str = ""
    space: bool = False
    wheel_delta: float = 0.0
    shift: bool = False


@dataclass(frozen=True)
class Interaction:
    """State between events: mode in {"idle", "press", "drag", "pan"}."""

    mode: str = "idle"
    start_x: float = 0.0
    start_y: float = 0.0
    last_x: float = 0.0
    last_y: float = 0.0
    joint: int | None = None  # joint grabbed by a press (None: a press on empty image)
    shift: bool = False  # Shift held at the press


@dataclass(frozen=True)
class Click:
    """Place (joint None: the current joint, or the placed joint whose marker it is on)
    or move a joint's click at ``uv_px``; ``force``: place the current joint regardless
    of markers (Shift+click)."""

    uv_px: tuple[float, float]
    joint: int | None = None
    force: bool = False


@dataclass(frozen=True)
class DragPreview:
    """A grabbed joint is being dragged; draw it at ``uv_px`` (nothing committed yet)."""

    joint: int
    uv_px: tuple[float, float]


@dataclass(frozen=True)
class Pan:
    dx: float
    dy: float


@dataclass(frozen=True)
class Zoom:
    factor: float
    x: float
    y: float


Action = Click | DragPreview | Pan | Zoom


def hit_test(x: float, y: float, clicks_xy: np.ndarray, reproj_xy: np.ndarray,
             prefer: int | None = None, radius: float = PICK_RADIUS) -> int | None:
    """Joint whose click (first) or reprojection lies within ``radius`` of (x, y), or None.

    Args:
        clicks_xy, reproj_xy: (J, 2) widget pixels, NaN = not drawn.
        prefer: joint to pick when it is within the radius (the current joint), so that
            overlapping joints do not steal the one being worked on.
    """
    p = np.array([x, y], dtype=np.float64)
    for pts in (np.asarray(clicks_xy, float), np.asarray(reproj_xy, float)):
        if pts.size == 0:
            continue
        d = np.linalg.norm(pts - p, axis=-1)
        d = np.where(np.isfinite(d), d, np.inf)
        if prefer is not None and d[prefer] <= radius:
            return int(prefer)
        j = int(np.argmin(d))
        if d[j] <= radius:
            return j
    return None


def handle(state: Interaction, ev: Pointer, viewport: Viewport,
           clicks_xy: np.ndarray, reproj_xy: np.ndarray, current_joint: int | None = None
           ) -> tuple[Interaction, tuple[Action, ...]]:
    """Advance the interaction by one event; returns (new state, actions to carry out)."""
    if ev.kind == "wheel":
        if ev.wheel_delta == 0:
            return state, ()
        return state, (Zoom(WHEEL_STEP ** (ev.wheel_delta / 120.0), ev.x, ev.y),)

    if ev.kind == "press":
        if state.mode != "idle":
            return state, ()
        if ev.button in ("middle", "right") or (ev.button == "left" and ev.space):
            return Interaction("pan", ev.x, ev.y, ev.x, ev.y), ()
        if ev.button == "left":
            grabbed = hit_test(ev.x, ev.y, clicks_xy, reproj_xy, prefer=current_joint)
            return Interaction("press", ev.x, ev.y, ev.x, ev.y, grabbed, ev.shift), ()
        return state, ()

    if ev.kind == "move":
        if state.mode == "pan":
            new = Interaction("pan", state.start_x, state.start_y, ev.x, ev.y)
            return new, (Pan(ev.x - state.last_x, ev.y - state.last_y),)
        if state.mode in ("press", "drag"):
            moved = np.hypot(ev.x - state.start_x, ev.y - state.start_y) >= CLICK_SLOP
            if state.mode == "press" and not moved:
                return state, ()
            if state.joint is None:
                # Dragging from empty image does nothing but cancel the click.
                return Interaction("drag", state.start_x, state.start_y, ev.x, ev.y), ()
            uv = viewport.to_image((ev.x, ev.y))
            new = Interaction("drag", state.start_x, state.start_y, ev.x, ev.y, state.joint)
            return new, (DragPreview(state.joint, (float(uv[0]), float(uv[1]))),)
        return state, ()

    if ev.kind == "release":
        if state.mode == "pan":
            return Interaction(), ()
        if state.mode == "press":
            # A click without motion: the session decides which joint it places (the
            # current one, or a placed joint whose marker it is on); Shift: the current one.
            uv = viewport.to_image((state.start_x, state.start_y))
            return Interaction(), (Click((float(uv[0]), float(uv[1])), force=state.shift),)
        if state.mode == "drag":
            if state.joint is None:
                return Interaction(), ()
            uv = viewport.to_image((ev.x, ev.y))
            return Interaction(), (Click((float(uv[0]), float(uv[1])), state.joint),)
        return Interaction(), ()
    raise ValueError(f"unknown pointer event kind {ev.kind!r}")
