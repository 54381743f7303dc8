"""Accuracy of the labels against ground truth (``annotator evaluate``).

All errors are Euclidean distances in world millimetres between a labelled 3D joint and the
true one, over the joints of the hands that are present (ground truth ``hand_present``):

- ``machine``: the machine joints (source "machine") of the machine-labelled instants; also
  split into ``single`` (one hand present) and ``interacting`` (both); ``coverage`` is the
  share of those instants' true joints that got a machine label, ``unflagged`` the error of
  the joints that passed every quality check; ``hands`` counts the labelling run's hand
  slots against the truth: ``found`` (present and labelled), ``missed``, and ``extra`` (a
  hand labelled that is not there, or a hand put in the other hand's slot: one missed plus
  one extra);
- ``human``: the human joints of the human-labelled instants;
- ``baseline``: the mean root-relative pose of each hand over the human-labelled instants,
  placed at the TRUE root of every evaluated hand (same joints as ``machine``). A detector
  that learns nothing scores this; it shows how much the detector adds;
- ``views_curve``: the paper's Fig. 4 method. For v views, each machine-labelled instant's
  stored per-view detections are restricted to v views drawn at random (among the views
  with an image), re-triangulated with ``triangulate_ransac`` (stored confidences, the run's
  threshold), and the mean error over all joints is taken; mean and standard deviation over
  ``repeats`` random draws. A joint whose v detections hold no RANSAC consensus (any two
  views within the threshold) is triangulated from all v by the confidence-weighted DLT,
  so every point of the curve is over the same joints (those seen in >= 2 of the v views);
  without that, few views would be scored on the easy joints only. A fallback point behind
  one of the cameras whose detections made it (near-parallel rays through disagreeing
  detections) is no label and counts as not triangulated (``triangulated``, the share of
  evaluated joints that got a point, says how many). ``single_mean_mm`` and
  ``interacting_mean_mm`` split each point by one / two hands present.
- ``qc``: how the review flags split the machine joints (:func:`qc_split`): the share
  flagged, the median error of flagged and unflagged joints, the share of joints off by
  more than 20 mm that are flagged; and ``selected_precision``, the share of the joints
  the training selection rule keeps (``annotator.machine_labels.selection``) that lie within
  5 mm of the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from annotator import skeleton
from annotator.machine_labels.merge import read_detections
from triangulation import in_front, triangulate, triangulate_ransac

__all__ = ["ErrorStats", "ViewsPoint", "evaluate_project", "error_stats", "views_curve",
           "mean_pose_baseline", "label_errors_mm", "NoGroundTruthError"]

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


class NoGroundTruthError(ValueError):
    """The project has no ground truth to evaluate against."""


@dataclass(frozen=True)
class ErrorStats:
    """Summary of per-joint 3D errors in mm (NaN when there are none)."""

    joints: int
    median_mm: float
    mean_mm: float
    p90_mm: float


@dataclass(frozen=True)
class ViewsPoint:
    views: int
    mean_mm: float  # mean over repeats of the mean joint error
    std_mm: float  # standard deviation over repeats
    median_mm: float  # median joint error over all repeats
    triangulated: float  # share of evaluated joints that triangulated
    single_mean_mm: float = float("nan")  # mean joint error, instants with one hand present
    interacting_mean_mm: float = float("nan")  # ... with both hands present
    ransac_share: float = float("nan")  # share of triangulated joints with a RANSAC consensus


def error_stats(errors_mm: np.ndarray) -> ErrorStats:
    e = np.asarray(errors_mm, np.float64).reshape(-1)
    e = e[np.isfinite(e)]
    if e.size == 0:
        return ErrorStats(0, float("nan"), float("nan"), float("nan"))
    return ErrorStats(int(e.size), float(np.median(e)), float(e.mean()),
                      float(np.percentile(e, 90)))


def _truth(store, instants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, J, 3) true joints (NaN for absent hands) and (F, 2) hand presence."""
    F, J = len(instants), skeleton.NUM_JOINTS
    joints = np.full((F, J, 3), np.nan)
    present = np.zeros((F, 2), bool)
    for k, i in enumerate(instants.tolist()):
        gt = store.ground_truth(int(i))
        if gt is None:
            continue
        joints[k] = gt.joints_world_mm
        present[k] = gt.hand_present
    joints[~present[:, skeleton.HAND_INDEX]] = np.nan
    return joints, present


def _labels(store, instants: np.ndarray, source: str) -> np.ndarray:
    """(F, J, 3) 3D joints of ``source`` (NaN elsewhere)."""
    out = np.full((len(instants), skeleton.NUM_JOINTS, 3), np.nan)
    for k, i in enumerate(instants.tolist()):
        lab = store.labels(int(i))
        mine = lab.joint_source == source
        out[k, mine] = lab.joints_world_mm[mine]
    return out


def label_errors_mm(store, source: str = "human") -> np.ndarray:
    """(F, J) 3D error of the ``source`` joints of the instants that have any, against the
    ground truth (NaN where there is no such joint or no truth)."""
    return _labels_and_errors(store, store.labelled_instants(source), source)[1]


def _labels_and_errors(store, instants: np.ndarray, source: str):
    """(F, J, 3) ``source`` joints of ``instants`` and their (F, J) error against the truth."""
    pred = _labels(store, instants, source)
    truth, _ = _truth(store, instants)
    return pred, np.linalg.norm(pred - truth, axis=-1)


def mean_pose_baseline(human_joints: np.ndarray, true_joints: np.ndarray) -> np.ndarray:
    """The mean-pose baseline: (F, J, 3) predictions for the true joints ``true_joints``.

    ``human_joints`` (H, J, 3): labelled instants (NaN where unlabelled). Per hand, the mean
    root-relative pose over the instants where that whole hand is labelled, translated to
    each evaluated hand's true root. NaN where there is no human example of the hand.
    """
    hands = skeleton.HAND_INDEX
    pred = np.full_like(true_joints, np.nan, dtype=np.float64)
    for h, name in enumerate(skeleton.HANDS):
        root = skeleton.ROOT_INDEX[name]
        sel = hands == h
        rel = human_joints[:, sel] - human_joints[:, root][:, None]
        whole = np.isfinite(rel).all(axis=(1, 2))
        if not whole.any():
            continue
        mean_rel = rel[whole].mean(axis=0)
        pred[:, sel] = true_joints[:, root][:, None] + mean_rel[None]
    return pred


def _split(errors: np.ndarray, present: np.ndarray) -> dict[str, Any]:
    both = present.all(axis=1)
    return {
        "single": asdict(error_stats(errors[~both])),
        "interacting": asdict(error_stats(errors[both])),
    }


def views_curve(
    store,
    instants: np.ndarray,
    uv_px: np.ndarray,
    confidence: np.ndarray,
    true_joints: np.ndarray,
    views: Sequence[int],
    repeats: int,
    seed: int = 0,
    threshold_px: float = 4.0,
    progress: Progress | None = None,
) -> list[ViewsPoint]:
    """Error of the detections re-triangulated from v random views (see module docstring).

    Args:
        instants: (F,) instant indices; uv_px (F, C, J, 2), confidence (F, C, J) on the
            project camera axis; true_joints (F, J, 3) NaN where not evaluated.
    """
    rng = np.random.default_rng(seed)
    captures = np.asarray(store.instants().capture)[instants]
    hand = skeleton.HAND_INDEX
    seen = np.isfinite(true_joints).all(-1)  # (F, J)
    both_all = np.stack([seen[:, hand == h].any(-1) for h in (0, 1)], -1).all(-1)  # (F,)
    out: list[ViewsPoint] = []
    steps = len(views) * len(np.unique(captures))
    step = 0
    for v in views:
        sums = np.zeros(repeats)
        counts = np.zeros(repeats)
        errors_all: list[np.ndarray] = []
        split_sum, split_n = np.zeros(2), np.zeros(2)  # single, interacting
        evaluated = triangulated = consensus = 0
        for cap in np.unique(captures):
            rows = np.nonzero(captures == cap)[0]
            cols = np.nonzero(store.camera_mask(str(cap)))[0]
            rig = store.rig(str(cap))
            uv = uv_px[rows][:, cols]  # (f, c, J, 2)
            conf = confidence[rows][:, cols]
            have = np.isfinite(uv).all(-1).any(-1) & (conf > 0).any(-1)  # (f, c) view has data
            truth = true_joints[rows]
            want = np.isfinite(truth).all(-1)  # (f, J)
            f, c = have.shape
            # a block of repeats at a time bounds memory: (r, f, J, c, 2) float64
            block = max(1, int(2e7 // max(1, f * c * skeleton.NUM_JOINTS * 2)))
            for r0 in range(0, repeats, block):
                r1 = min(repeats, r0 + block)
                keys = rng.random((r1 - r0, f, c))
                keys[:, ~have] = np.inf
                rank = np.argsort(np.argsort(keys, axis=-1), axis=-1)
                chosen = (rank < v) & np.isfinite(keys)  # (r, f, c)
                sub = np.where(chosen[:, :, :, None, None], uv[None], np.nan)  # (r,f,c,J,2)
                w = np.where(chosen[:, :, :, None], conf[None], 0.0)
                sub, w = np.moveaxis(sub, 2, 3), np.moveaxis(w, 2, 3)  # (r, f, J, c, ...)
                tri = triangulate_ransac(sub, rig, confidence=w, threshold_px=threshold_px)
                pts = tri.points_world_mm
                no_consensus = ~np.isfinite(pts).all(-1)
                if no_consensus.any():
                    dlt = triangulate(sub[no_consensus], rig, weights=w[no_consensus],
                                      reproj_error=False)
                    fallback = dlt.points_world_mm
                    # a point behind a camera whose detection made it is no label at all
                    behind = (~in_front(fallback, rig) & (w[no_consensus] > 0)).any(-1)
                    fallback[behind] = np.nan
                    pts = pts.copy()
                    pts[no_consensus] = fallback
                err = np.linalg.norm(pts - truth[None], axis=-1)  # (r, f, J)
                err = np.where(want[None], err, np.nan)
                ok = np.isfinite(err)
                consensus += int((ok & ~no_consensus).sum())
                both = both_all[rows]
                for k, sel in enumerate((~both, both)):
                    split_sum[k] += np.where(ok, err, 0)[:, sel].sum()
                    split_n[k] += ok[:, sel].sum()
                sums[r0:r1] += np.where(ok, err, 0).sum(axis=(1, 2))
                counts[r0:r1] += ok.sum(axis=(1, 2))
                evaluated += int(want.sum()) * (r1 - r0)
                triangulated += int(ok.sum())
                errors_all.append(err[ok])
            step += 1
            if progress is not None:
                progress(step, steps)
        per_repeat = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        allerr = np.concatenate(errors_all) if errors_all else np.empty(0)
        out.append(ViewsPoint(
            views=int(v),
            mean_mm=float(np.nanmean(per_repeat)) if np.isfinite(per_repeat).any() else np.nan,
            std_mm=float(np.nanstd(per_repeat)) if np.isfinite(per_repeat).any() else np.nan,
            median_mm=float(np.median(allerr)) if allerr.size else float("nan"),
            triangulated=triangulated / evaluated if evaluated else float("nan"),
            single_mean_mm=float(split_sum[0] / split_n[0]) if split_n[0] else float("nan"),
            interacting_mean_mm=float(split_sum[1] / split_n[1]) if split_n[1] else float("nan"),
            ransac_share=consensus / triangulated if triangulated else float("nan"),
        ))
    return out


def qc_split(errors_mm: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """How well the review flags separate bad machine joints from good ones.

    ``errors_mm`` (F, J) machine joint errors (NaN: no label or no truth), ``flagged`` (F, J)
    bool. ``flagged_share`` is the share of labelled joints flagged; the medians are of
    the flagged and unflagged joints (a useful flag has the unflagged median well below
    the flagged one); ``flagged_recall_20mm`` is the share of joints more than 20 mm off
    that are flagged.
    """
    e = np.asarray(errors_mm, np.float64)
    have = np.isfinite(e)
    f = np.asarray(flagged, bool) & have
    u = ~f & have
    bad = have & (e > 20.0)

    def med(mask: np.ndarray) -> float:
        return float(np.median(e[mask])) if mask.any() else float("nan")

    return {
        "joints": int(have.sum()),
        "flagged_share": float(f.sum() / have.sum()) if have.any() else float("nan"),
        "flagged_median_mm": med(f),
        "unflagged_median_mm": med(u),
        "flagged_recall_20mm": float((f & bad).sum() / bad.sum()) if bad.any() else float("nan"),
    }


def default_views(num_cameras: int) -> list[int]:
    """2, 4, 8, ... below the camera count, then the camera count itself."""
    out = []
    v = 2
    while v < num_cameras:
        out.append(v)
        v *= 2
    out.append(num_cameras)
    return out


def evaluate_project(
    store,
    views: Sequence[int] | None = None,
    repeats: int = 100,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The evaluation report as a JSON-ready dict (module docstring)."""
    if not store.has_ground_truth:
        raise NoGroundTruthError(
            f"{store.path}: no ground truth (ground_truth.h5) to evaluate against; "
            "evaluate needs a synthetic or otherwise ground-truthed project"
        )
    if repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {repeats}")
    human_i = store.labelled_instants("human")
    det = read_detections(store.machine_dir)
    # the machine's instants: those with machine joints, and those the merged run labelled
    # without getting any joint (hands not found) unless a human labelled them
    machine_i = store.labelled_instants("machine")
    if det is not None:
        tried = np.setdiff1d(det.records.instants, human_i)
        machine_i = np.union1d(machine_i, tried).astype(np.int64)
    report: dict[str, Any] = {"project": str(store.path)}

    m_truth, m_present = _truth(store, machine_i)
    m_pred = _labels(store, machine_i, "machine")
    m_err = np.linalg.norm(m_pred - m_truth, axis=-1)  # (F, J) NaN where either is missing
    want = np.isfinite(m_truth).all(-1)
    flagged = np.zeros_like(want)
    for k, i in enumerate(machine_i.tolist()):
        for j, reason in store.labels(int(i)).flags:
            if j >= 0 and reason.startswith("machine: "):
                flagged[k, j] = True
    machine = asdict(error_stats(m_err))
    machine.update(_split(m_err, m_present))
    machine["instants"] = int(machine_i.size)
    machine["coverage"] = float(np.isfinite(m_err).sum() / want.sum()) if want.any() else 0.0
    machine["unflagged"] = asdict(error_stats(np.where(flagged, np.nan, m_err)))
    machine["flagged_joints"] = int((flagged & np.isfinite(m_err)).sum())
    report["machine"] = machine
    report["qc"] = qc_split(m_err, flagged)

    h_pred, h_err = _labels_and_errors(store, human_i, "human")
    human = asdict(error_stats(h_err))
    human["instants"] = int(human_i.size)
    report["human"] = human

    base_pred = mean_pose_baseline(h_pred, m_truth)
    b_err = np.linalg.norm(base_pred - m_truth, axis=-1)
    baseline = asdict(error_stats(b_err))
    baseline.update(_split(b_err, m_present))
    report["baseline"] = baseline

    if det is None:
        report["views_curve"] = []
        report["views_curve_note"] = "no machine/detections.h5 (run 'annotator merge')"
        return report
    if det.camera_names != list(store.camera_names):
        raise ValueError(f"{store.machine_dir}: detections.h5 was merged for other cameras")
    from annotator.machine_labels.selection import select_machine_joints

    selection = select_machine_joints(store, det)
    p = selection.precision_5mm(store)
    report["qc"]["selected_joints"] = selection.kept_count
    report["qc"]["selected_precision"] = None if np.isnan(p) else p
    rec = det.records
    rows = np.nonzero(np.isin(rec.instants, machine_i))[0]
    inst = rec.instants[rows]
    truth, t_present = _truth(store, inst)
    m_hands = rec.hand_present[rows] == 1
    report["machine"]["hands"] = {
        "present": int(t_present.sum()),
        "found": int((t_present & m_hands).sum()),
        "missed": int((t_present & ~m_hands).sum()),
        "extra": int((~t_present & m_hands).sum()),
    }
    C = len(store.camera_names)
    views = list(views) if views else default_views(C)
    bad = [v for v in views if not 2 <= int(v) <= C]
    if bad:
        raise ValueError(f"--views must lie in 2..{C} (the project's cameras), got {bad}")
    threshold = float(det.meta.get("threshold_px", 4.0))
    # the labelling run's own rules: detections under its confidence floor were not used
    min_conf = float(det.meta.get("min_confidence", 0.0))
    rel = float(det.meta.get("relative_confidence", 0.0))
    conf = rec.confidence[rows].astype(np.float64)
    best = conf.max(axis=1, keepdims=True)  # (F, 1, J): each joint's best view
    conf = np.where((conf >= min_conf) & (conf >= rel * best), conf, 0.0)
    curve = views_curve(store, inst, rec.uv_px[rows].astype(np.float64), conf, truth, views,
                        repeats, seed=seed, threshold_px=threshold, progress=progress)
    report["views_curve"] = [asdict(p) for p in curve]
    report["views_curve_setup"] = {"repeats": repeats, "seed": seed, "threshold_px": threshold,
                                   "min_confidence": min_conf,
                                   "relative_confidence": rel, "instants": int(inst.size)}
    return report
