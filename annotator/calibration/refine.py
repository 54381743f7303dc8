"""Observations from the labels, the refinement of each capture's rig, and writing it.

- :func:`refine_calibration` (read-only): per calibration (the captures whose rigs are
  identical are the same cameras and are refined together; ``per_capture`` keeps them
  apart), the observations (human clicks of joints clicked in two or more views, views
  marked occluded left out; with ``human+machine`` also the per-view detections of machine
  joints that passed every quality check), :func:`triangulation.refine_rig` on them, and
  one report row per (capture, camera).
- :func:`apply_refinement`: the refined rigs become a new calibration version
  (``ProjectStore.set_calibration``) and every human 3D joint is triangulated again from its
  stored clicks with them (:func:`retriangulate_human`), all in one save.
- :func:`restore_calibration`: an earlier version becomes active again the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from annotator import skeleton
from annotator.session.edits import DISAGREE_PREFIX, disagreement
from annotator.session.instant import triangulate_clicks, usable_clicks
from annotator.session.model import ERROR_FLAG_PX
from triangulation import CameraRig, project, refine_rig

__all__ = [
    "LABEL_SOURCES",
    "CalibrationRefinement",
    "refine_calibration",
    "calibration_groups",
    "apply_refinement",
    "restore_calibration",
    "retriangulate_human",
]

#: Which labels observe the cameras.
LABEL_SOURCES = ("human", "human+machine")
#: Labels are a few clicked views per joint of a hand-sized volume: they fix each camera's
#: view of it but hardly its distance, so the centres are held near the input's
#: (``refine_rig(center_prior_mm=...)``; bench/refine_calibration.py measures the choice).
CENTER_PRIOR_MM = 3.0
#: ... and their axes near the input's (``refine_rig(rotation_prior_deg=...)``): with the
#: centre prior, a MAP estimate of a bump of this size (0.3°, 3 mm); it pins the one motion
#: a hand-sized volume leaves nearly free (the points shift, every camera turns to follow).
ROTATION_PRIOR_DEG = 0.3

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CalibrationRefinement:
    """What :func:`refine_calibration` found (nothing written).

    ``rigs``: capture -> refined rig; ``cameras``: one row per (capture, camera) with
    ``observations``, ``reprojection_before_px``, ``reprojection_after_px`` (medians),
    ``center_moved_mm``, ``axes_moved_deg``, ``focal_ratio``, ``unchanged`` (the reason a
    camera was left as it was, or "") and ``refined_with`` (the captures refined together);
    ``points``: 3D points the capture's rig was refined on (its group's).
    """

    source: str
    intrinsics: str
    rigs: dict[str, CameraRig]
    cameras: list[dict] = field(default_factory=list)
    points: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"source": self.source, "intrinsics": self.intrinsics, "points": self.points,
                "seconds": round(self.seconds, 3), "cameras": self.cameras}


def _human_points(store, capture: str) -> list[np.ndarray]:
    """(C', 2) click arrays, one per (instant, joint) of ``capture`` clicked in >= 2 usable
    views, on the capture rig's camera axis."""
    cols = store.camera_positions(capture)
    caps = store.instants().capture
    out = []
    for i in store.labelled_instants("human").tolist():
        if str(caps[i]) != capture:
            continue
        uv = usable_clicks(store.labels(i).clicks_uv_px[cols], store.view_states(i)[cols])
        usable = np.isfinite(uv[..., 0]).sum(axis=0) >= 2
        out.extend(uv[:, j] for j in np.nonzero(usable)[0])
    return out


def _machine_points(store, capture: str) -> list[np.ndarray]:
    """(C', 2) per-view detections of the machine joints of ``capture`` that passed QC."""
    from annotator.machine_labels.merge import read_detections

    det = read_detections(store.machine_dir)
    if det is None:
        raise ValueError(f"{store.machine_dir}: no merged machine detections "
                         "(run 'annotator machine-label' and 'annotator merge' first)")
    rec = det.records
    names = store.rig(capture).names
    where = {n: k for k, n in enumerate(det.camera_names)}
    missing = [n for n in names if n not in where]
    if missing:
        raise ValueError(f"merged detections lack the cameras {', '.join(missing[:5])}")
    cols = np.array([where[n] for n in names])
    caps = store.instants().capture
    out = []
    for k, i in enumerate(rec.instants.tolist()):
        if str(caps[i]) != capture:
            continue
        good = (rec.quality[k] == 0) & np.isfinite(rec.joints_world_mm[k, :, 0])
        uv = rec.uv_px[k][cols].astype(np.float64)  # (C', J, 2)
        for j in np.nonzero(good)[0]:
            if np.isfinite(uv[:, j, 0]).sum() >= 2:
                out.append(uv[:, j])
    return out


def calibration_groups(store, per_capture: bool = False) -> list[list[str]]:
    """The project's captures grouped by calibration: captures whose rigs are identical
    (``CameraRig`` equality: the same cameras with the same parameters, e.g. all made from
    one calibration file) observe the same cameras and are refined as one rig;
    ``per_capture`` keeps every capture apart."""
    groups: list[list[str]] = []
    for capture in store.captures:
        for g in groups:
            if not per_capture and store.rig(g[0]) == store.rig(capture):
                g.append(capture)
                break
        else:
            groups.append([capture])
    return groups


def refine_calibration(
    store,
    *,
    source: str = "human",
    intrinsics: str = "fixed",
    robust: str | None = "huber",
    threshold_px: float = 2.0,
    center_prior_mm: float | None = CENTER_PRIOR_MM,
    rotation_prior_deg: float | None = ROTATION_PRIOR_DEG,
    per_capture: bool = False,
) -> CalibrationRefinement:
    """Refine the project's rigs from the labels of ``source`` (module docstring); reads
    the store only. Captures that share one calibration (:func:`calibration_groups`) are
    refined together on all their labels and get the same refined rig; ``per_capture``
    refines each capture on its own labels. A group without enough observations is a
    ValueError naming its captures. ``center_prior_mm``, ``rotation_prior_deg``: see
    :func:`triangulation.refine_rig` (None: off)."""
    import time

    if source not in LABEL_SOURCES:
        raise ValueError(f"source must be one of {LABEL_SOURCES}, got {source!r}")
    t0 = time.perf_counter()
    rigs, rows, points = {}, [], {}
    for group in calibration_groups(store, per_capture):
        rig = store.rig(group[0])
        obs: list[np.ndarray] = []
        for capture in group:
            obs += _human_points(store, capture)
            if source == "human+machine":
                obs += _machine_points(store, capture)
        names = ", ".join(repr(c) for c in group)
        where = f"capture {names}" if len(group) == 1 else f"captures {names} (one calibration)"
        if not obs:
            raise ValueError(
                f"{where}: no joint clicked in two views to refine its cameras on "
                f"(label some instants in 'annotator gui' first)")
        uv = np.stack(obs, axis=1)  # (C', N, 2)
        try:
            result = refine_rig(rig, uv, intrinsics=intrinsics, robust=robust,
                                threshold_px=threshold_px, center_prior_mm=center_prior_mm,
                                rotation_prior_deg=rotation_prior_deg)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        reasons = dict(result.unchanged)
        for capture in group:
            rigs[capture] = result.rig
            points[capture] = int(uv.shape[1])
            for c, cam in enumerate(rig):
                rows.append({
                    "capture": capture,
                    "camera": cam.name,
                    "observations": int(result.observations[c]),
                    "reprojection_before_px": _num(result.reprojection_before_px[c]),
                    "reprojection_after_px": _num(result.reprojection_after_px[c]),
                    "center_moved_mm": _num(result.center_shift_mm[c]),
                    "axes_moved_deg": _num(result.rotation_change_deg[c]),
                    "focal_ratio": _num(result.focal_ratio[c]),
                    "unchanged": reasons.get(cam.name, ""),
                    "refined_with": list(group),
                })
    return CalibrationRefinement(source, intrinsics, rigs, rows, points,
                                 time.perf_counter() - t0)


def _num(x) -> float | None:
    x = float(x)
    return round(x, 4) if np.isfinite(x) else None


def retriangulate_human(store, progress: Progress | None = None) -> dict[str, float]:
    """Triangulate every human 3D joint again from its stored clicks with the store's
    current cameras (pending edits; the caller saves). Each joint keeps its annotator and
    time (its provenance); a joint with fewer than two usable clicks keeps its point. The
    "clicks disagree" review flags are judged again with the new points, by the app's rule
    (:func:`annotator.session.edits.disagreement`): set where a click now misses, cleared
    where the clicks now agree.

    Returns ``joints`` (re-triangulated), ``moved_median_mm``, ``moved_max_mm``,
    ``disagree_flags_set`` and ``disagree_flags_cleared``.
    """
    instants = store.labelled_instants("human")
    caps = store.instants().capture
    moved: list[np.ndarray] = []
    flags_set = flags_cleared = 0
    for n, i in enumerate(instants.tolist()):
        lab = store.labels(i)
        capture = str(caps[i])
        cols = store.camera_positions(capture)
        rig = store.rig(capture)
        clicks = usable_clicks(lab.clicks_uv_px[cols], store.view_states(i)[cols])
        new = triangulate_clicks(lab.clicks_uv_px[cols], store.view_states(i)[cols], rig)
        redo = (lab.joint_source == "human") & np.isfinite(new[:, 0])
        errors = np.linalg.norm(project(new, rig).transpose(1, 0, 2) - clicks, axis=-1)
        flags = dict(lab.flags)
        for j in np.nonzero(redo)[0].tolist():
            reason = disagreement(j, errors[:, j], rig.names, ERROR_FLAG_PX)
            current = flags.get(j, "")
            if reason is not None and reason != current:
                store.set_flag(i, j, reason)
                flags_set += 1
            elif reason is None and current.startswith(DISAGREE_PREFIX):
                store.set_flag(i, j, None)
                flags_cleared += 1
        groups = {(str(lab.annotator[j]), float(lab.time[j])) for j in np.nonzero(redo)[0]}
        for who, when in sorted(groups):
            sel = redo & (lab.annotator == who) & (lab.time == when)
            joints = np.full((skeleton.NUM_JOINTS, 3), np.nan)
            joints[sel] = new[sel]
            store.set_joints_3d(i, joints, source="human", annotator=who,
                                time=when if np.isfinite(when) else None)
        moved.append(np.linalg.norm(new[redo] - lab.joints_world_mm[redo], axis=1))
        if progress is not None:
            progress(n + 1, instants.size)
    dist = np.concatenate(moved) if moved else np.empty(0)
    return {"joints": int(dist.size),
            "moved_median_mm": _num(np.median(dist)) if dist.size else 0.0,
            "moved_max_mm": _num(dist.max()) if dist.size else 0.0,
            "disagree_flags_set": flags_set, "disagree_flags_cleared": flags_cleared}


def apply_refinement(store, refinement: CalibrationRefinement, note: str = "") -> dict:
    """Make the refined rigs a new calibration version, re-triangulate the human joints with
    them and save both in one commit. Returns ``version`` plus :func:`retriangulate_human`'s
    counts. ``store`` is open for writing."""
    text = note or (f"refined from the {refinement.source} labels "
                    f"(intrinsics {refinement.intrinsics})")
    version = store.set_calibration(refinement.rigs, text)
    moved = retriangulate_human(store)
    store.save()
    return {"version": version, **moved}


def restore_calibration(store, version: int) -> dict:
    """Make calibration ``version`` active again (as a new version with its cameras, so the
    history only grows) and re-triangulate the human joints with it, in one save."""
    rigs = store.calibration_rigs(int(version))
    new = store.set_calibration(rigs, f"restore of version {int(version)}")
    moved = retriangulate_human(store)
    store.save()
    return {"version": new, "restored": int(version), **moved}
