"""Automatic choice of the camera views that see the hands best (no Qt; numpy only).

Every camera of the instant's rig gets a score from a 3D estimate of the hands (the
instant's own joints, or a neighbouring labelled instant's):

- coverage: the fraction of the estimated joints that project inside the image, in front;
- size: how large the hands appear (focal length over depth of the hand centre), relative
  to the best camera, so close-ups win over distant views;
- occlusion by the other hand, where both hands are estimated: the overlap of the two
  hands' image boxes as a fraction of the farther hand's box.

With no estimate at all the score is how squarely a camera faces the rig centre (the point
nearest all optical axes). Cameras are then picked greedily: first the best score, then
each time the best score damped by how close its viewing direction is to the nearest
camera already chosen (max-min angle spread), so the views surround the hands instead of
crowding one side. Everything is vectorised over cameras; picking n views is O(n C).
Deterministic: ties go to the lower camera index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator import skeleton
from triangulation import CameraRig, in_front, in_image, project

__all__ = ["ViewScores", "rig_centre", "score_cameras", "pick_spread", "choose_views"]

#: Views closer than this (radians) to an already chosen one are damped (60 degrees).
SPREAD_ANGLE_RAD = np.deg2rad(60.0)
#: Share of a candidate's score kept when its direction coincides with a chosen view.
SPREAD_FLOOR = 0.2
#: How much a fully occluded farther hand lowers a camera's score.
OCCLUSION_PENALTY = 0.6


@dataclass(frozen=True)
class ViewScores:
    """Per-camera scores (all (C,) float in [0, 1]) and the target the views look at.

    score = coverage * (0.5 + 0.5 * size) * (1 - OCCLUSION_PENALTY * occlusion); with no
    estimate (``estimated`` False) score is the facing term alone.
    """

    score: np.ndarray
    coverage: np.ndarray
    size: np.ndarray
    occlusion: np.ndarray
    target_world_mm: np.ndarray
    estimated: bool


def rig_centre(rig: CameraRig) -> np.ndarray:
    """(3,) world mm: least-squares point nearest every camera's optical axis."""
    axes = rig.R[:, 2, :]  # (C, 3) optical axis in world coordinates
    proj = np.eye(3)[None] - axes[:, :, None] * axes[:, None, :]  # (C, 3, 3) I - a a^T
    A = proj.sum(0)
    b = np.einsum("cij,cj->i", proj, rig.centers_world)
    if np.linalg.cond(A) > 1e12:  # all axes parallel: the mean of the centres, ahead
        return rig.centers_world.mean(0) + axes.mean(0) * 1000.0
    return np.linalg.solve(A, b)


def _facing(rig: CameraRig, target: np.ndarray) -> np.ndarray:
    to_target = target[None] - rig.centers_world
    to_target /= np.linalg.norm(to_target, axis=1, keepdims=True) + 1e-12
    return np.clip(np.einsum("ci,ci->c", rig.R[:, 2, :], to_target), 0.0, 1.0)


def _hand_boxes(uv: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(C, 4) x0, y0, x1, y1 over the valid points of one hand; NaN when none."""
    lo = np.where(ok[..., None], uv, np.inf).min(0)
    hi = np.where(ok[..., None], uv, -np.inf).max(0)
    box = np.concatenate([lo, hi], axis=-1)
    box[~ok.any(0)] = np.nan
    return box


def score_cameras(rig: CameraRig, points_world_mm: np.ndarray | None) -> ViewScores:
    """Score every camera of ``rig`` for an estimate ``points_world_mm`` (J, 3), NaN = unknown."""
    C = len(rig)
    pts = None if points_world_mm is None else np.asarray(points_world_mm, dtype=np.float64)
    valid = np.zeros(0, bool) if pts is None else np.isfinite(pts).all(axis=1)
    if pts is None or not valid.any():
        centre = rig_centre(rig)
        facing = _facing(rig, centre)
        ones, zeros = np.ones(C), np.zeros(C)
        return ViewScores(facing, ones, ones, zeros, centre, False)
    P = pts[valid]
    target = P.mean(0)
    uv = project(P, rig)  # (M, C, 2)
    seen = in_image(uv, rig) & in_front(P, rig)  # (M, C)
    coverage = seen.mean(0)
    depth = target @ rig.R[:, 2, :].T + rig.t[:, 2]  # (C,) depth of the hand centre
    scale = np.where(depth > 1.0, rig.K[:, 0, 0] / np.maximum(depth, 1.0), 0.0)
    size = scale / scale.max() if scale.max() > 0 else np.zeros(C)
    occlusion = np.zeros(C)
    if pts.shape[0] == skeleton.NUM_JOINTS:
        hands = [skeleton.hand_joints(h) for h in skeleton.HANDS]
        ok = [valid[idx] for idx in hands]
        if all(k.sum() >= 3 for k in ok):
            boxes, depths = [], []
            for idx, k in zip(hands, ok, strict=True):
                Q = pts[idx[k]]
                uq = project(Q, rig)
                boxes.append(_hand_boxes(uq, in_front(Q, rig)))
                depths.append(Q.mean(0) @ rig.R[:, 2, :].T + rig.t[:, 2])
            a, b = boxes
            iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
            ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
            far = np.where((depths[0] > depths[1])[:, None], a, b)
            area = np.maximum((far[:, 2] - far[:, 0]) * (far[:, 3] - far[:, 1]), 1.0)
            occlusion = np.nan_to_num(np.clip(iw * ih / area, 0.0, 1.0))
    score = coverage * (0.5 + 0.5 * size) * (1.0 - OCCLUSION_PENALTY * occlusion)
    return ViewScores(score, coverage, size, occlusion, target, True)


def pick_spread(
    score: np.ndarray, directions: np.ndarray, n: int, candidates: np.ndarray | None = None,
    chosen: list[int] | None = None,
) -> np.ndarray:
    """Greedy max-min angle choice of ``n`` camera indices (best first).

    Args:
        score: (C,) non-negative camera scores.
        directions: (C, 3) unit viewing directions (target to camera).
        candidates: optional (C,) bool mask of the cameras allowed.
        chosen: cameras already shown; new picks spread away from them too.
    Returns:
        (k,) int64 indices, k = min(n, number of candidates), not including ``chosen``.
    """
    C = score.shape[0]
    allowed = np.ones(C, bool) if candidates is None else np.asarray(candidates, bool).copy()
    min_angle = np.full(C, np.pi)
    for c in chosen or ():
        allowed[c] = False
        min_angle = np.minimum(min_angle, np.arccos(np.clip(directions @ directions[c], -1, 1)))
    n = int(min(n, allowed.sum()))
    chosen = []
    # a tiny rank term so cameras with an equal (e.g. zero) score still spread deterministically
    base = np.maximum(score, 0.0) + 1e-9
    for _ in range(n):
        damp = SPREAD_FLOOR + (1 - SPREAD_FLOOR) * np.minimum(1.0, min_angle / SPREAD_ANGLE_RAD)
        value = np.where(allowed, base * damp, -np.inf)
        c = int(np.argmax(value))
        chosen.append(c)
        allowed[c] = False
        cosang = np.clip(directions @ directions[c], -1.0, 1.0)
        min_angle = np.minimum(min_angle, np.arccos(cosang))
    return np.asarray(chosen, dtype=np.int64)


def choose_views(
    rig: CameraRig,
    points_world_mm: np.ndarray | None,
    n: int = 6,
    candidates: np.ndarray | None = None,
    chosen: list[int] | None = None,
) -> np.ndarray:
    """Indices into ``rig`` of the ``n`` cameras that see the estimate best, spread apart.

    Args:
        rig: the instant's cameras (C).
        points_world_mm: (J, 3) estimate of the joints, NaN = unknown (None: no estimate).
        n: views wanted (fewer when the rig or ``candidates`` has fewer).
        candidates: optional (C,) bool mask restricting the choice.
        chosen: indices already shown; the new ones spread away from them.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    scores = score_cameras(rig, points_world_mm)
    d = rig.centers_world - scores.target_world_mm[None]
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-12
    return pick_spread(scores.score, d, int(n), candidates, chosen)
