"""Does the machine labels' quality score rank joints by their true error?

Reads a merged, ground-truthed project (``machine/detections.h5``), recomputes each machine
joint's evidence (:func:`machine_labeler.quality.joint_evidence`, the labeller's own rules)
and prints, against the true 3D error: the rank correlation of the score and of each piece
of evidence, the AUC of "error > 10 mm", and the flag split (share flagged, median error of
flagged and unflagged joints) at several review thresholds.

    python bench/qc_score.py PROJECT [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
from scipy.stats import rankdata, spearmanr  # noqa: E402


def _auc(score: np.ndarray, bad: np.ndarray) -> float:
    """P(a good joint scores above a bad one): the ROC AUC of the score for "good"."""
    if bad.all() or not bad.any():
        return float("nan")
    r = rankdata(score)
    good = ~bad
    return float((r[good].sum() - good.sum() * (good.sum() + 1) / 2) / (good.sum() * bad.sum()))


def collect(project: str, weights=None) -> dict:
    """Per machine joint: true error, score, evidence (flat arrays)."""
    from annotator import skeleton
    from annotator.machine_labels.hand_geometry import (
        SubjectBones,
        chirality_agreement,
        human_hands,
        slots_contradicted,
    )
    from annotator.machine_labels.merge import read_detections
    from annotator.store import ProjectStore
    from machine_labeler.hand_finding import confidence_mask
    from machine_labeler.labeling import LabelingSettings
    from machine_labeler.quality import ScoreWeights, joint_evidence, quality_score

    s = LabelingSettings()
    weights = weights or ScoreWeights()
    rows: dict[str, list] = {k: [] for k in ("error", "score", "support", "inliers", "error_px",
                                             "confidence", "bone", "hand", "interacting")}
    with ProjectStore.open(project) as store:
        det = read_detections(store.machine_dir)
        if det is None:
            raise SystemExit(f"{project}: no machine/detections.h5 (run 'annotator merge')")
        rec = det.records
        meta = det.meta
        thr = float(meta.get("threshold_px", s.threshold_px))
        bones = SubjectBones(store)
        agree, n = chirality_agreement(human_hands(store))
        use_chir = n >= 4 and agree >= s.chirality_min_agreement
        human = set(store.labelled_instants("human").tolist())
        for k, i in enumerate(rec.instants.tolist()):
            if i in human:
                continue
            gt = store.ground_truth(i)
            cap = store.instant(i).capture
            cols = np.nonzero(store.camera_mask(cap))[0]
            rig = store.rig(cap)
            joints = rec.joints_world_mm[k].astype(np.float64)
            present = rec.hand_present[k] == 1
            hand_ok = present & ~slots_contradicted(joints) if use_chir else present
            uv = rec.uv_px[k][cols].astype(np.float64)
            w = confidence_mask(rec.confidence[k][cols], float(meta.get("min_confidence", 0.02)),
                                float(meta.get("relative_confidence", 0.3)))
            ev = joint_evidence(joints, uv, w, rig, thr, bones.of(i), hand_ok)
            score = quality_score(ev, thr, weights)
            hand_of = np.array([skeleton.HANDS.index(h) for h in skeleton.HAND_OF_JOINT])
            truth = np.where(gt.hand_present[hand_of][:, None], gt.joints_world_mm, np.nan)
            err = np.linalg.norm(joints - truth, axis=-1)
            ok = np.isfinite(err)
            rows["error"].append(err[ok])
            rows["score"].append(score[ok])
            for f in dataclasses.fields(ev):
                rows[f.name].append(np.asarray(getattr(ev, f.name), float)[ok])
            rows["interacting"].append(np.full(ok.sum(), bool(gt.hand_present.all())))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}


def report(data: dict, thresholds=(0.02, 0.05, 0.1, 0.2)) -> dict:
    e = data["error"]
    out: dict = {"joints": int(e.size), "median_mm": float(np.median(e)) if e.size else None}
    if e.size < 3:
        return out
    out["spearman_score_vs_error"] = float(spearmanr(data["score"], e).statistic)
    out["auc_good_10mm"] = _auc(data["score"], e > 10.0)
    out["evidence_spearman"] = {
        k: float(spearmanr(np.nan_to_num(data[k], nan=99.0), e).statistic)
        for k in ("support", "inliers", "error_px", "confidence", "bone", "hand")
    }
    split = []
    for t in thresholds:
        f = data["score"] < t
        split.append({
            "flag_below": t, "flagged_share": float(f.mean()),
            "flagged_median_mm": float(np.median(e[f])) if f.any() else None,
            "unflagged_median_mm": float(np.median(e[~f])) if (~f).any() else None,
        })
    out["split"] = split
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("project")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rep = report(collect(args.project))
    print(json.dumps(rep, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
