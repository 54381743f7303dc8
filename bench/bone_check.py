"""Does the per-subject bone-length check find joints moved off their place?

Usage:
    python bench/bone_check.py [--instants 200] [--cameras 20] [--width 512]
        [--noise-px 1] [--seeds 0 1 2] [--mm 15 20 30] [--rate 0.02] [--json OUT]

Renders a synthetic capture (``annotator.synth``, ground truth included; or takes
``--project``, which is copied first), labels every instant with the simulated annotator
(``noise_px`` Gaussian click noise, 2 views per joint, the app's own session), then per
(seed, magnitude) moves ``rate`` of the labelled joints by exactly that many mm in random
3D directions, runs ``annotator.team.bone_check`` (statistics and check on the edited
labels, as on a real project) and counts: detection = moved joints flagged / moved;
false flags = untouched joints flagged / untouched; neighbour false flags = untouched
joints sharing a bone with a moved one that got flagged. The injected edits are dropped
(``discard_changes``) before the next run. Prints a markdown table; ``--json`` writes it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

# bench/ itself must not be on the path: bench/triangulation.py would shadow the package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402


def inject(store, rate: float, mm: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Move ``rate`` of the human-labelled joints by ``mm`` in random directions (pending
    edits); returns the (instant, joint) keys ``i * J + j`` of moved and untouched joints."""
    from annotator import skeleton
    from annotator.store import JOINT_SOURCES

    J = skeleton.NUM_JOINTS
    xyz, src = store.joints_3d_all()
    labelled = (src == JOINT_SOURCES.index("human")) & np.isfinite(xyz[..., 0])
    keys = np.flatnonzero(labelled.reshape(-1))
    rng = np.random.default_rng([int(seed), int(round(mm * 10))])
    n = max(1, int(round(rate * keys.size)))
    moved = np.sort(rng.choice(keys, n, replace=False))
    d = rng.normal(size=(n, 3))
    d *= mm / np.linalg.norm(d, axis=1, keepdims=True)
    inst, joint = moved // J, moved % J
    for i in np.unique(inst).tolist():
        sel = inst == i
        new = np.full((J, 3), np.nan)
        new[joint[sel]] = xyz[i, joint[sel]] + d[sel]
        store.set_joints_3d(i, new, source="human", annotator="injected")
    return moved, np.setdiff1d(keys, moved)


def neighbours(moved: np.ndarray) -> np.ndarray:
    """Keys of the joints sharing a bone with a moved joint."""
    from annotator import skeleton
    from annotator.machine_labels.hand_geometry import BONE_CHILD, BONE_PARENT

    J = skeleton.NUM_JOINTS
    inst, joint = moved // J, moved % J
    out = []
    for c, p in zip(BONE_CHILD.tolist(), BONE_PARENT.tolist(), strict=True):
        out.append(inst[joint == c] * J + p)
        out.append(inst[joint == p] * J + c)
    return np.setdiff1d(np.concatenate(out), moved)


def evaluate(store, rate: float, mm: float, seed: int) -> dict:
    from annotator import skeleton
    from annotator.team.bone_check import check_bones, subject_bone_stats

    moved, untouched = inject(store, rate, mm, seed)
    t0 = time.perf_counter()
    stats = subject_bone_stats(store)
    found = check_bones(store, stats)
    seconds = time.perf_counter() - t0
    store.discard_changes()
    flagged = found.instant * skeleton.NUM_JOINTS + found.joint
    near = np.intersect1d(neighbours(moved), untouched)
    return {
        "seed": seed, "mm": mm, "moved": int(moved.size), "untouched": int(untouched.size),
        "detected": float(np.isin(moved, flagged).mean()),
        "false_flags": float(np.isin(untouched, flagged).mean()),
        "neighbour_false_flags": float(np.isin(near, flagged).mean()) if near.size else 0.0,
        "check_s": seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, help="a ground-truthed project (copied)")
    ap.add_argument("--instants", type=int, default=200)
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--subjects", type=int, default=2)
    ap.add_argument("--capture-seed", type=int, default=3,
                    help="seed of the synthetic capture (poses, subjects)")
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--noise-px", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--mm", type=float, nargs="+", default=[15.0, 20.0, 30.0])
    ap.add_argument("--rate", type=float, default=0.02)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from annotator.session.simulate import simulate_annotator
    from annotator.store import ProjectStore
    from annotator.synth import StudioConfig, write_capture
    from annotator.team import bone_check

    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "proj"
        t0 = time.perf_counter()
        if args.project:
            shutil.copytree(args.project, proj)
        else:
            cfg = StudioConfig(cameras=args.cameras, instants=args.instants,
                               subjects=args.subjects, seed=args.capture_seed, width=args.width,
                               height=max(64, args.width * 334 // 512))
            write_capture(proj, cfg, workers=args.workers)
        t_synth = time.perf_counter() - t0
        with ProjectStore.open(proj, mode="w") as store:
            t0 = time.perf_counter()
            sim = simulate_annotator(store, fraction=1.0, noise_px=args.noise_px, seed=0)
            t_sim = time.perf_counter() - t0
            rows = [evaluate(store, args.rate, mm, seed)
                    for mm in args.mm for seed in args.seeds]
            F, C = store.num_instants, len(store.camera_names)
    print(f"bone-length check: {F} instants, {C} cameras, label noise {args.noise_px} px "
          f"(3D median {sim.median_mm:.2f} mm), {args.rate:.0%} of joints moved; "
          f"K_SIGMA {bone_check.K_SIGMA}, FLOOR_MM {bone_check.FLOOR_MM}, REL_FLOOR "
          f"{bone_check.REL_FLOOR}, TIE_EVIDENCE {bone_check.TIE_EVIDENCE}, PLANE_MIN_DEG "
          f"{bone_check.PLANE_MIN_DEG}; capture seed "
          f"{args.capture_seed}; synth {t_synth:.0f} s, labelling {t_sim:.0f} s")
    print("| moved by | seed | moved | detected | false flags | neighbours flagged | check s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mm']:.0f} mm | {r['seed']} | {r['moved']} | {r['detected']:.1%} | "
              f"{r['false_flags']:.2%} | {r['neighbour_false_flags']:.1%} | "
              f"{r['check_s']:.2f} |")
    for mm in args.mm:
        sel = [r for r in rows if r["mm"] == mm]
        print(f"| {mm:.0f} mm | mean | {sum(r['moved'] for r in sel)} | "
              f"{np.mean([r['detected'] for r in sel]):.1%} | "
              f"{np.mean([r['false_flags'] for r in sel]):.2%} | "
              f"{np.mean([r['neighbour_false_flags'] for r in sel]):.1%} | |")
    if args.json:
        doc = {"instants": F, "cameras": C, "noise_px": args.noise_px, "rate": args.rate,
               "label_median_mm": sim.median_mm, "k_sigma": bone_check.K_SIGMA,
               "floor_mm": bone_check.FLOOR_MM, "rel_floor": bone_check.REL_FLOOR,
               "tie_evidence": bone_check.TIE_EVIDENCE,
               "plane_min_deg": bone_check.PLANE_MIN_DEG, "capture_seed": args.capture_seed,
               "rows": rows}
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
