"""Machine-label accuracy on an 80-camera synthetic capture, and what limits it.

Stages (each an ``annotator`` command, run in-process; a stage whose output already exists
in ``--out`` is skipped, so an interrupted run continues):

1. ``synth``: the studio capture (default 80 cameras, 96 instants, 4 subjects);
2. ``simulate-annotator``: the human stage (2 views, 1.5 px click noise, a quarter of the
   instants);
3. ``train-labeler --config cpu-small --steps N``;
4. ``machine-label`` (every unlabelled instant), ``merge``;
5. ``evaluate --json``: machine / human / mean-pose baseline errors and the views curve.

Then the diagnostics that say what limits the all-view error, from ``machine/detections.h5``
against the ground truth: the fine detector's 2D error per view, hands the coarse pass
missed, and the all-view error re-triangulated at several RANSAC thresholds. Writes
``results/evaluate.json``, ``results/diagnostics.json``, ``results/table.md`` and
``results/views_curve.png`` (the paper's 2.78 mm at 90 views as a reference line).

    python bench/labeler_accuracy.py --out /tmp/labeler_accuracy [--steps 1500]

``--ablation`` instead compares, on one capture and with the same training time per row
(``--minutes`` in all, split evenly over the row's trainings):

- ``plain``: ``train-labeler --labels human`` for the whole time, ``machine-label --refine 0
  --no-flip-test``;
- ``+refinement``: the same detector, ``machine-label --refine 1 --no-flip-test`` (per-hand
  crops);
- ``+mirroring``: the same detector, ``machine-label --refine 1`` (each crop also detected
  mirrored, the two averaged: machine-label's default);
- ``+1 round``: ``annotator bootstrap --rounds 1`` (two trainings of half the time each;
  round 1 labels with both rounds' detectors, mirrored: bootstrap's defaults);
- ``+2 rounds``: ``annotator bootstrap --rounds 2`` (three trainings of a third each);

each row in its own project (the images shared), each with median / mean / two-hand
median, the ends of the views curve, the held-out 2D error per view, the QC split and the
selection's precision; ``results/ablation.json`` and ``results/ablation.md``.

    python bench/labeler_accuracy.py --ablation --out /tmp/ablation --minutes 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

PAPER_MM, PAPER_VIEWS = 2.78, 90


def _run(argv: list[str], timings: dict, name: str) -> None:
    from annotator.cli.main import main

    print(f"$ annotator {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    rc = main(argv)
    timings[name] = time.perf_counter() - t0
    if rc:
        raise SystemExit(f"stage {name} failed ({rc})")


def _nan(value):
    """JSON nulls (NaN in the report) back to NaN, for formatting."""
    if isinstance(value, dict):
        return {k: _nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan(v) for v in value]
    return float("nan") if value is None else value


def _stat(fn, x) -> float:
    """fn(x) as a float, NaN for an empty x."""
    import numpy as np

    x = np.asarray(x, np.float64).reshape(-1)
    return float(fn(x)) if x.size else float("nan")


def diagnostics(project: Path, thresholds=(2.0, 4.0, 6.0, 10.0, 20.0)) -> dict:
    """2D error of the fine detections, hand-finding misses, threshold sensitivity."""
    import numpy as np

    from annotator.machine_labels.merge import read_detections
    from annotator.store import ProjectStore
    from triangulation import triangulate_ransac

    with ProjectStore.open(project) as store:
        det = read_detections(store.machine_dir)
        rec = det.records
        human = set(store.labelled_instants("human").tolist())
        rows = [k for k, i in enumerate(rec.instants.tolist()) if i not in human]
        gts = [store.ground_truth(int(rec.instants[k])) for k in rows]
        uv_true = np.stack([g.uv_px for g in gts])  # (F, C, J, 2)
        visible = np.stack([g.visible for g in gts])
        joints_true = np.stack([g.joints_world_mm for g in gts])
        present = np.stack([g.hand_present for g in gts])
        uv = rec.uv_px[rows].astype(np.float64)
        conf = rec.confidence[rows].astype(np.float64)
        min_conf = float(det.meta.get("min_confidence", 0.0))
        rel = float(det.meta.get("relative_confidence", 0.0))
        best = conf.max(axis=1, keepdims=True)
        conf = np.where((conf >= min_conf) & (conf >= rel * best), conf, 0.0)
        used = visible & (conf > 0) & np.isfinite(uv).all(-1)
        e_all = np.linalg.norm(uv - uv_true, axis=-1)  # (F, C, J)
        e2d = e_all[used]
        # interacting hands: is a detection nearer the other hand's same joint than its own?
        from annotator.skeleton import FLIP_INDEX

        e_other = np.linalg.norm(uv - uv_true[:, :, FLIP_INDEX], axis=-1)
        both = present.all(1)[:, None, None] & used
        one = ~present.all(1)[:, None, None] & used
        hands_split = {
            "single_median_px": _stat(np.median, e_all[one]),
            "interacting_median_px": _stat(np.median, e_all[both]),
            "interacting_nearer_other_hand": _stat(np.mean, e_other[both] < e_all[both]),
            "interacting_median_px_either_hand": _stat(
                np.median, np.minimum(e_all, e_other)[both]),
        }
        detected_share = used.sum() / max(1, visible.sum())
        hands_missed = int((present & (rec.hand_present[rows] != 1)).sum())
        hands_total = int(present.sum())
        captures = np.asarray(store.instants().capture)[rec.instants[rows]]
        sweep = {}
        for thr in thresholds:
            errs = []
            for cap in np.unique(captures):
                sel = np.nonzero(captures == cap)[0]
                cols = np.nonzero(store.camera_mask(str(cap)))[0]
                u = np.where((conf[sel][:, cols] > 0)[..., None], uv[sel][:, cols], np.nan)
                tri = triangulate_ransac(np.moveaxis(u, 1, 2), store.rig(str(cap)),
                                         confidence=np.moveaxis(conf[sel][:, cols], 1, 2),
                                         threshold_px=thr)
                e = np.linalg.norm(tri.points_world_mm - joints_true[sel], axis=-1)
                errs.append(e[np.isfinite(joints_true[sel]).all(-1)])
            e = np.concatenate([x.reshape(-1) for x in errs])
            f = e[np.isfinite(e)]
            sweep[str(thr)] = {"median_mm": _stat(np.median, f), "mean_mm": _stat(np.mean, f),
                               "triangulated": float(np.isfinite(e).mean()) if e.size else 0.0}
        inl = rec.inliers[rows]
        ok = np.isfinite(joints_true).all(-1)
        return {
            "detector_2d_px": {
                "median": _stat(np.median, e2d), "mean": _stat(np.mean, e2d),
                "p90": _stat(lambda x: np.percentile(x, 90), e2d),
                "share_over_threshold": _stat(
                    lambda x: np.mean(x > det.meta.get("threshold_px", 6.0)), e2d),
                "visible_joint_views_detected": float(detected_share),
            },
            "detector_2d_by_hands": hands_split,
            "hand_finding": {"hands_present": hands_total, "hands_missed": hands_missed},
            "inliers_per_joint": {"median": _stat(np.median, inl[ok]),
                                  "visible_views_median": _stat(np.median, visible.sum(1)[ok])},
            "ransac_threshold_sweep": sweep,
            "threshold_px": float(det.meta.get("threshold_px", 6.0)),
        }


def oracle_curves(project: Path, sigmas=(1.0, 2.0, 4.0), repeats: int = 20,
                  views=None, seed: int = 0) -> dict:
    """The lifting stage alone: the machine instants' true 2D joints (visible ones) plus
    Gaussian noise of sigma px stand in for the detector, through the same views curve.
    Shows what the pipeline gives with a detector of that 2D accuracy."""
    import numpy as np

    from annotator.machine_labels.evaluation import default_views, views_curve
    from annotator.machine_labels.merge import read_detections
    from annotator.store import ProjectStore

    rng = np.random.default_rng(seed)
    out = {}
    with ProjectStore.open(project) as store:
        det = read_detections(store.machine_dir)
        human = store.labelled_instants("human")
        inst = np.setdiff1d(det.records.instants, human)
        gts = [store.ground_truth(int(i)) for i in inst]
        uv_true = np.stack([g.uv_px for g in gts])
        vis = np.stack([g.visible for g in gts])
        truth = np.stack([g.joints_world_mm for g in gts])
        views = views or default_views(len(store.camera_names))
        thr = float(det.meta.get("threshold_px", 6.0))
        for sigma in sigmas:
            uv = np.where(vis[..., None], uv_true + rng.normal(0, sigma, uv_true.shape), np.nan)
            curve = views_curve(store, inst, uv, vis.astype(np.float64), truth, views, repeats,
                                seed=seed, threshold_px=max(thr, 3 * sigma))
            out[str(sigma)] = [{"views": p.views, "mean_mm": p.mean_mm, "std_mm": p.std_mm}
                               for p in curve]
    return out


def plot(curve: list[dict], out: Path, title: str, oracle: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = [p["views"] for p in curve]
    m = [p["mean_mm"] for p in curve]
    s = [p["std_mm"] for p in curve]
    fig, ax = plt.subplots(figsize=(8.5, 4), dpi=120)
    ax.errorbar(v, m, yerr=s, marker="o", capsize=3, label="machine labels (this run)")
    for sigma, pts in (oracle or {}).items():
        ax.plot([p["views"] for p in pts], [p["mean_mm"] for p in pts], ls=":", marker=".",
                label=f"lifting only: true 2D + {sigma} px noise")
    ax.axhline(PAPER_MM, color="grey", ls="--", lw=1)
    ax.plot([PAPER_VIEWS], [PAPER_MM], "k*", ms=10,
            label=f"InterHand2.6M: {PAPER_MM} mm at {PAPER_VIEWS} views")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("views used for triangulation")
    ax.set_ylabel("mean 3D joint error (mm)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def table(ev: dict, diag: dict, timings: dict, args) -> str:
    m, h, b = ev["machine"], ev["human"], ev["baseline"]
    d2 = diag["detector_2d_px"]
    hf = diag["hand_finding"]
    lines = [
        f"80-camera synthetic capture: {args.cameras} cameras, {args.instants} instants, "
        f"{args.subjects} subjects; human stage on {args.human_fraction:.0%} "
        f"({args.human_views} views, {args.noise_px} px); detector {args.config}, "
        f"{args.steps} steps; 2-core CPU, no GPU",
        "",
        "| labels | median mm | mean mm | joints |",
        "|---|---|---|---|",
        f"| machine (all) | {m['median_mm']:.2f} | {m['mean_mm']:.2f} | {m['joints']} |",
        f"| machine, single hand | {m['single']['median_mm']:.2f} | "
        f"{m['single']['mean_mm']:.2f} | {m['single']['joints']} |",
        f"| machine, interacting | {m['interacting']['median_mm']:.2f} | "
        f"{m['interacting']['mean_mm']:.2f} | {m['interacting']['joints']} |",
        f"| machine, unflagged | {m['unflagged']['median_mm']:.2f} | "
        f"{m['unflagged']['mean_mm']:.2f} | {m['unflagged']['joints']} |",
        f"| human (simulated) | {h['median_mm']:.2f} | {h['mean_mm']:.2f} | {h['joints']} |",
        f"| mean-pose baseline at true root | {b['median_mm']:.2f} | {b['mean_mm']:.2f} | "
        f"{b['joints']} |",
        "",
        f"machine coverage {m['coverage']:.1%} of present joints; "
        f"{m['flagged_joints']} flagged joints",
        "",
        "| views | mean mm | std mm | median mm | one hand, mean mm | two hands, mean mm |",
        "|---|---|---|---|---|---|",
        *[f"| {p['views']} | {p['mean_mm']:.2f} | {p['std_mm']:.2f} | {p['median_mm']:.2f} | "
          f"{p.get('single_mean_mm', float('nan')):.2f} | "
          f"{p.get('interacting_mean_mm', float('nan')):.2f} |"
          for p in ev["views_curve"]],
        "",
        f"detector 2D error (fine pass, visible joints): median {d2['median']:.2f} px, "
        f"mean {d2['mean']:.2f}, p90 {d2['p90']:.2f}; {d2['share_over_threshold']:.1%} over "
        f"the {diag['threshold_px']} px RANSAC threshold; "
        f"{d2['visible_joint_views_detected']:.1%} of visible joint-views detected",
        "detector 2D error by instant: one hand {single_median_px:.1f} px median, two hands "
        "{interacting_median_px:.1f} px ({interacting_median_px_either_hand:.1f} px against "
        "the nearer hand; {interacting_nearer_other_hand:.0%} of two-hand detections lie nearer "
        "the other hand's same joint)".format(**diag["detector_2d_by_hands"]),
        f"hand finding: {hf['hands_missed']} of {hf['hands_present']} present hands missed",
        "RANSAC threshold sweep (all views): " + ", ".join(
            f"{t} px: {r['median_mm']:.2f} mm median / {r['mean_mm']:.2f} mean"
            for t, r in diag["ransac_threshold_sweep"].items()),
        "lifting only (true 2D + noise through the same views curve, mean mm): " + "; ".join(
            f"{sg} px: " + ", ".join(f"{p['views']}v {p['mean_mm']:.2f}" for p in pts)
            for sg, pts in diag["oracle_views_curves"].items()),
        "",
        "stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()),
    ]
    return "\n".join(lines)


def _row_project(base: Path, dst: Path) -> Path:
    """A project sharing ``base``'s images (a symlink) with copies of its small files and no
    models or machine labels: each ablation row starts from the same human labels."""
    import shutil

    from annotator.store.layout import MACHINE_DIR, MODELS_DIR, is_project

    if is_project(dst):
        return dst
    dst.mkdir(parents=True, exist_ok=True)
    for f in base.iterdir():
        if f.name in ("images", MODELS_DIR, MACHINE_DIR) or f.name.startswith("."):
            continue
        if f.is_file():
            shutil.copy2(f, dst / f.name)
    (dst / "images").symlink_to((base / "images").resolve())
    return dst


def _row_figures(project: Path, ev: dict, seconds: float) -> dict:
    curve = ev.get("views_curve") or []
    diag = diagnostics(project)
    m = ev["machine"]
    qc = ev.get("qc", {})
    return {
        "median_mm": m["median_mm"], "mean_mm": m["mean_mm"],
        "interacting_median_mm": m["interacting"]["median_mm"],
        "single_median_mm": m["single"]["median_mm"],
        "hands": m.get("hands"),
        "views_curve_mean_mm": {str(p["views"]): p["mean_mm"] for p in curve},
        "detector_2d_median_px": diag["detector_2d_px"]["median"],
        "detector_2d_interacting_px": diag["detector_2d_by_hands"]["interacting_median_px"],
        "qc": qc, "seconds": round(seconds, 1),
    }


def ablation(args, base: Path, results: Path) -> int:
    """The ``--ablation`` table (module docstring)."""
    minutes = float(args.minutes)
    repeats = ["--repeats", str(args.repeats)]
    views = [v for v in (2, 8, 32) if v < args.cameras] + [args.cameras]
    vflag = ["--views", ",".join(str(v) for v in views)]
    rows: dict[str, dict] = {}
    path = results / "ablation.json"
    if path.exists():
        rows = json.loads(path.read_text())["rows"]
    # (row, bootstrap rounds (None: one training), machine-label --refine, mirrored)
    plan = [
        ("plain", None, 0, False), ("+refinement", None, 1, False),
        ("+mirroring", None, 1, True), ("+1 round", 1, 1, True), ("+2 rounds", 2, 1, True),
    ]
    for name, rounds, refine, mirrored in plan:
        if name in rows:
            continue
        t0 = time.perf_counter()
        timings: dict = {}
        folder = "plain" if rounds is None else name.strip("+").replace(" ", "-")
        project = _row_project(base, results.parent / "rows" / folder / "project")
        p = str(project)
        if rounds is None:
            from annotator.store import ProjectStore
            from annotator.store.model_runs import newest_labeler_checkpoint

            with ProjectStore.open(project) as store:
                trained = newest_labeler_checkpoint(store) is not None
            if not trained:
                _run(["train-labeler", p, "--config", args.config, "--steps", "1000000",
                      "--max-minutes", f"{minutes:g}", "--device", args.device], timings,
                     "train")
            flip = "--flip-test" if mirrored else "--no-flip-test"
            _run(["machine-label", p, "--refine", str(refine), flip, "--device", args.device],
                 timings, "machine-label")
            _run(["merge", p], timings, "merge")
        else:
            _run(["bootstrap", p, "--rounds", str(rounds), "--config", args.config,
                  "--steps", "1000000", "--max-minutes", f"{minutes / (rounds + 1):g}",
                  "--device", args.device], timings, "bootstrap")
        out = results / f"ablation-{folder}-refine{refine}{'-flip' if mirrored else ''}.json"
        _run(["evaluate", p, "--json", str(out), *vflag, *repeats], timings, "evaluate")
        rows[name] = _row_figures(project, _nan(json.loads(out.read_text())),
                                  time.perf_counter() - t0)
        path.write_text(json.dumps({"minutes": minutes, "config": args.config,
                                    "cameras": args.cameras, "rows": rows}, indent=1))
    lines = [f"| row ({minutes:g} training minutes each, {args.config}, {args.cameras} "
             "cameras) | median | mean | two-hand median | views curve "
             f"{views[-2]} -> {views[-1]} (mean) | 2D error / view (two hands) | flagged: "
             "median flagged / unflagged | selection precision (5 mm) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        vc = r["views_curve_mean_mm"]
        q = r["qc"]
        sel = q.get("selected_precision")
        lines.append(
            f"| {name} | {r['median_mm']:.2f} mm | {r['mean_mm']:.2f} mm | "
            f"{r['interacting_median_mm']:.2f} mm | {vc[str(views[-2])]:.1f} -> "
            f"{vc[str(views[-1])]:.1f} mm | {r['detector_2d_median_px']:.1f} px "
            f"({r['detector_2d_interacting_px']:.1f}) | {q.get('flagged_share', 0):.0%}: "
            f"{q.get('flagged_median_mm', float('nan')):.1f} / "
            f"{q.get('unflagged_median_mm', float('nan')):.1f} mm | "
            f"{'n/a' if sel is None or sel != sel else f'{sel:.0%}'} |")
    text = "\n".join(lines)
    (results / "ablation.md").write_text(text + "\n")
    print(text)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/labeler_accuracy")
    ap.add_argument("--cameras", type=int, default=80)
    ap.add_argument("--instants", type=int, default=96)
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--human-fraction", type=float, default=0.25)
    ap.add_argument("--human-views", type=int, default=2)
    ap.add_argument("--noise-px", type=float, default=1.5)
    ap.add_argument("--config", default="cpu-small")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--label-args", default="", help="extra machine-label arguments")
    ap.add_argument("--ablation", action="store_true",
                    help="plain / +refinement / +mirroring / +1 round / +2 rounds at equal "
                    "training time")
    ap.add_argument("--minutes", type=float, default=8.0,
                    help="--ablation: training minutes per row (split over its trainings)")
    args = ap.parse_args()

    out = Path(args.out)
    project = out / "project"
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    timings_path = results / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    t_all = time.perf_counter()
    from annotator.store.layout import is_project
    from annotator.store.model_runs import newest_labeler_checkpoint

    if not is_project(project):
        _run(["synth", str(project), "--cameras", str(args.cameras), "--instants",
              str(args.instants), "--subjects", str(args.subjects)], timings, "synth")
    from annotator.store import ProjectStore

    with ProjectStore.open(project) as store:
        has_human = store.labelled_instants("human").size > 0
        has_model = newest_labeler_checkpoint(store) is not None
    if not has_human:
        _run(["simulate-annotator", str(project), "--fraction", str(args.human_fraction),
              "--views", str(args.human_views), "--noise-px", str(args.noise_px)],
             timings, "simulate-annotator")
    if args.ablation:
        timings_path.write_text(json.dumps(timings))
        return ablation(args, project, results)
    if not has_model:
        _run(["train-labeler", str(project), "--config", args.config, "--steps",
              str(args.steps), "--device", args.device], timings, "train-labeler")
    timings_path.write_text(json.dumps(timings))
    _run(["machine-label", str(project), "--device", args.device, *args.label_args.split()],
         timings, "machine-label")
    _run(["merge", str(project)], timings, "merge")
    _run(["evaluate", str(project), "--json", str(results / "evaluate.json"), "--repeats",
          str(args.repeats)], timings, "evaluate")
    timings_path.write_text(json.dumps(timings))
    ev = _nan(json.loads((results / "evaluate.json").read_text()))
    diag = diagnostics(project)
    diag["oracle_views_curves"] = oracle_curves(project)
    (results / "diagnostics.json").write_text(json.dumps(diag, indent=1))
    text = table(ev, diag, timings, args)
    (results / "table.md").write_text(text + "\n")
    plot(ev["views_curve"], results / "views_curve.png",
         f"{args.config}, {args.steps} steps, {args.cameras} cameras (2-core CPU)",
         diag["oracle_views_curves"])
    print(text)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; this run "
          f"{time.perf_counter() - t_all:.0f} s; results in {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
