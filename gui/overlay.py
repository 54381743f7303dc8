"""What a panel draws over its image, as a list of primitives (pure functions, no Qt).

:func:`build_overlay` turns the session's per-camera arrays (clicks, reprojections, the
epipolar curve of the current joint, joint states) into a :class:`DrawList` in *image*
pixels, grouped by style so that the painter issues one call per group. The painter in
:mod:`gui.panel` only maps it to widget pixels and draws it.

Conventions: joints follow :mod:`annotator.skeleton`; arrays are (J, 2) image pixels with
NaN where there is nothing to draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotator import skeleton
from gui import theme

__all__ = [
    "SOURCE_NONE",
    "SOURCE_HUMAN",
    "SOURCE_PROPOSAL",
    "PanelOverlayInput",
    "Lines",
    "Markers",
    "Polyline",
    "DrawList",
    "build_overlay",
]

SOURCE_NONE, SOURCE_HUMAN, SOURCE_PROPOSAL = 0, 1, 2


@dataclass(frozen=True)
class PanelOverlayInput:
    """Everything one panel needs to draw its overlay for the current instant.

    Attributes:
        clicks_px: (J, 2) this camera's clicks, NaN = none.
        reproj_px: (J, 2) the current 3D joints projected into this camera, NaN = none.
        source: (J,) int, SOURCE_* of each joint's 3D (human label or machine proposal).
        current_joint: index of the joint being placed.
        epipolar_px: (N, 2) epipolar curve of the current joint in this camera, or None.
        flagged: (J,) bool, joints whose reprojection error is large (or flagged in the store).
        occluded: (J,) bool, joints marked "not visible here" in this camera.
        locked: (J,) bool, joints whose 3D point is locked to this camera's click.
        show_skeleton / show_epipolar: the toggles of the view menu.
        drag: (joint, (2,) image px) of a click being dragged, drawn at its live position.
    """

    clicks_px: np.ndarray
    reproj_px: np.ndarray
    source: np.ndarray
    current_joint: int
    epipolar_px: np.ndarray | None = None
    flagged: np.ndarray | None = None
    occluded: np.ndarray | None = None
    locked: np.ndarray | None = None
    show_skeleton: bool = True
    show_epipolar: bool = True
    drag: tuple[int, np.ndarray] | None = None


@dataclass(frozen=True)
class Lines:
    """Segments (N, 2, 2) image px, in one colour; ``width`` in screen px."""

    segments_px: np.ndarray
    rgb: theme.RGB
    alpha: int = 255
    width: float = 2.0
    dashed: bool = False


@dataclass(frozen=True)
class Markers:
    """Points (N, 2) image px in one colour; ``shape`` in {disc, ring, cross, square}."""

    points_px: np.ndarray
    rgb: theme.RGB
    shape: str
    size: float = 7.0
    alpha: int = 255


@dataclass(frozen=True)
class Polyline:
    """A connected curve (N, 2) image px (NaN breaks it)."""

    points_px: np.ndarray
    rgb: theme.RGB
    width: float = 1.5
    dashed: bool = False
    alpha: int = 255


@dataclass(frozen=True)
class DrawList:
    """Primitives in drawing order (first drawn first)."""

    items: tuple[Lines | Markers | Polyline, ...] = field(default_factory=tuple)

    def primitive_count(self) -> int:
        """Number of elementary shapes (segments, markers, polyline vertices)."""
        n = 0
        for it in self.items:
            if isinstance(it, Lines):
                n += len(it.segments_px)
            elif isinstance(it, Markers):
                n += len(it.points_px)
            else:
                n += max(len(it.points_px) - 1, 0)
        return n


def _flag(arr: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool) if arr is None else np.asarray(arr, dtype=bool)


def _group_by_colour(idx: np.ndarray) -> dict[theme.RGB, np.ndarray]:
    groups: dict[theme.RGB, list[int]] = {}
    for j in idx:
        groups.setdefault(theme.joint_rgb(int(j)), []).append(int(j))
    return {c: np.asarray(v) for c, v in groups.items()}


_BONES = np.asarray(skeleton.BONES, dtype=np.int64)  # (B, 2) child, parent


def build_overlay(inp: PanelOverlayInput) -> DrawList:
    """The draw list of one panel.

    Drawing order: epipolar curve, skeleton bones (human solid, proposals dashed and
    translucent), residual segments click->reprojection (red when flagged), reprojected
    joints (discs; proposals as rings), clicks (crosses), locked views (squares), the ring
    around the current joint.
    """
    clicks = np.asarray(inp.clicks_px, dtype=np.float64).copy()
    reproj = np.asarray(inp.reproj_px, dtype=np.float64)
    source = np.asarray(inp.source)
    n = clicks.shape[0]
    if clicks.shape != (n, 2) or reproj.shape != (n, 2) or source.shape != (n,):
        raise ValueError(
            f"clicks_px, reproj_px must be (J, 2) and source (J,): got {clicks.shape}, "
            f"{reproj.shape}, {source.shape}"
        )
    if not 0 <= inp.current_joint < n:
        raise ValueError(f"current_joint {inp.current_joint} out of range for {n} joints")
    flagged = _flag(inp.flagged, n)
    occluded = _flag(inp.occluded, n)
    locked = _flag(inp.locked, n)
    if inp.drag is not None:
        j, uv = inp.drag
        clicks[j] = np.asarray(uv, dtype=np.float64)
    # An occluded joint shows neither its reprojection nor its click in this camera.
    reproj = np.where(occluded[:, None], np.nan, reproj)
    have_r = np.isfinite(reproj).all(axis=1)
    have_c = np.isfinite(clicks).all(axis=1)
    items: list[Lines | Markers | Polyline] = []

    if inp.show_epipolar and inp.epipolar_px is not None and len(inp.epipolar_px) >= 2:
        items.append(Polyline(np.asarray(inp.epipolar_px, dtype=np.float64),
                              theme.EPIPOLAR_RGB, width=1.6, dashed=False, alpha=230))

    if inp.show_skeleton:
        child, parent = _BONES[:, 0], _BONES[:, 1]
        ok = have_r[child] & have_r[parent]
        for kind, dashed, alpha, width in (
            (SOURCE_HUMAN, False, 255, 2.2),
            (SOURCE_PROPOSAL, True, theme.PROPOSAL_ALPHA, 1.6),
        ):
            sel = ok & (source[child] == kind) & (source[parent] == kind)
            for rgb, bones in _group_by_colour(child[sel]).items():
                # bones here are child joint indices; each has exactly one parent.
                segs = np.stack([reproj[bones], reproj[skeleton.PARENTS[bones]]], axis=1)
                items.append(Lines(segs, rgb, alpha=alpha, width=width, dashed=dashed))

    # Residuals: where this camera has a click and a 3D reprojection, the segment between
    # them shows the error at a glance (red for flagged joints).
    both = have_c & have_r
    for is_flag in (False, True):
        sel = np.flatnonzero(both & (flagged == is_flag))
        if sel.size:
            segs = np.stack([clicks[sel], reproj[sel]], axis=1)
            items.append(Lines(segs, theme.FLAG_RGB if is_flag else (235, 235, 235),
                               alpha=255 if is_flag else 150, width=1.2))

    for kind, shape, alpha, size in (
        (SOURCE_PROPOSAL, "ring", theme.PROPOSAL_ALPHA, 7.0),
        (SOURCE_HUMAN, "disc", 255, 6.0),
    ):
        sel = np.flatnonzero(have_r & (source == kind))
        for rgb, js in _group_by_colour(sel).items():
            items.append(Markers(reproj[js], rgb, shape, size=size, alpha=alpha))

    for rgb, js in _group_by_colour(np.flatnonzero(have_c & ~occluded)).items():
        items.append(Markers(clicks[js], rgb, "cross", size=11.0))
    flagged_pts = np.flatnonzero(flagged & (have_c | have_r))
    if flagged_pts.size:
        pts = np.where(have_c[flagged_pts, None], clicks[flagged_pts], reproj[flagged_pts])
        items.append(Markers(pts, theme.FLAG_RGB, "ring", size=13.0))
    lk = np.flatnonzero(locked & have_c)
    if lk.size:
        items.append(Markers(clicks[lk], (255, 255, 255), "square", size=14.0))

    cj = inp.current_joint
    at = clicks[cj] if have_c[cj] else (reproj[cj] if have_r[cj] else None)
    if at is not None:
        items.append(Markers(at[None], theme.CURRENT_RGB, "ring", size=18.0))
    return DrawList(tuple(items))
