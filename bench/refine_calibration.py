"""``annotator refine-calibration`` from simulated clicks on a synthetic studio whose cameras
were bumped after the capture (issue 27's figure).

A studio capture (exact ground truth) is rendered once. Two copies get the simulated
annotator's clicks (``simulate-annotator``: ``--views`` per joint, ``--noise-px``, half the
instants): one with the exact calibration, one whose cameras.toml was turned 0.3° and moved
3 mm per camera before the clicks were triangulated. The bumped copy is then refined from
its clicks alone (``annotator refine-calibration``), and the human-stage 3D error (median
over every human joint, against the ground truth, in the world frame) is printed for the
exact, bumped and refined calibrations, with the cameras' distance from the truth.

    python bench/refine_calibration.py [--cameras 80 --instants 40 --views 4 --noise-px 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotator.machine_labels.evaluation import label_errors_mm  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402
from tests._support.rigs import perturb_rig  # noqa: E402


def _cli(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "annotator.cli.main", *argv], check=True,
                   stdout=subprocess.DEVNULL)


def _human_error(project: Path) -> tuple[float, float]:
    with ProjectStore.open(project) as store:
        e = label_errors_mm(store, "human")
        return float(np.nanmedian(e)), float(np.nanmean(e))


def _centre_error(project: Path, truth: dict) -> float:
    with ProjectStore.open(project) as store:
        return float(np.median(np.concatenate([
            np.linalg.norm(r.centers_world - truth[c].centers_world, axis=1)
            for c, r in store.rigs.items()])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/bench_refine_calibration")
    ap.add_argument("--cameras", type=int, default=80)
    ap.add_argument("--instants", type=int, default=40)
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--noise-px", type=float, default=1.0)
    ap.add_argument("--fraction", type=float, default=0.5)
    ap.add_argument("--seeds", type=int, default=3, help="perturbations tried (0..N-1)")
    ap.add_argument("--center-prior-mm", default="3",
                    help="refine-calibration's centre prior, comma-separated values to compare "
                    "(0: off)")
    ap.add_argument("--rotation-prior-deg", default="0.3",
                    help="refine-calibration's rotation prior, comma-separated values to "
                    "compare with each centre prior (0: off)")
    ap.add_argument("--per-capture", action="store_true",
                    help="refine each capture alone (refine-calibration --per-capture)")
    args = ap.parse_args()
    out = Path(args.out)
    master = out / f"studio-{args.cameras}-{args.instants}"
    if not (master / "project.toml").exists():
        shutil.rmtree(master, ignore_errors=True)
        _cli("synth", str(master), "--cameras", str(args.cameras), "--instants",
             str(args.instants), "--subjects", "1")
    label = ["--fraction", str(args.fraction), "--views", str(args.views), "--noise-px",
             str(args.noise_px), "--seed", "0"]
    exact = out / "exact"
    shutil.rmtree(exact, ignore_errors=True)
    shutil.copytree(master, exact, symlinks=True)
    _cli("simulate-annotator", str(exact), *label)
    with ProjectStore.open(exact) as store:
        truth = store.rigs
    e_med, e_mean = _human_error(exact)
    print(f"studio: {args.cameras} cameras, {args.instants} instants; clicks: {args.views} "
          f"views per joint, {args.noise_px} px, {args.fraction:.0%} of the instants")
    print(f"{'calibration':<34}{'3D median mm':>13}{'3D mean mm':>11}{'x exact':>9}"
          f"{'centre mm':>11}{'seconds':>9}")
    print(f"{'exact':<34}{e_med:>13.3f}{e_mean:>11.3f}{1.0:>9.2f}{0.0:>11.3f}{'-':>9}")
    ratios: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        bumped = out / f"bumped-{seed}"
        shutil.rmtree(bumped, ignore_errors=True)
        shutil.copytree(master, bumped, symlinks=True)
        with ProjectStore.open(bumped, "w") as store:
            store.set_calibration({c: perturb_rig(r, 0.3, 3.0, seed=seed)
                                   for c, r in truth.items()}, "bumped 0.3° / 3 mm")
        _cli("simulate-annotator", str(bumped), *label)
        b_med, b_mean = _human_error(bumped)
        print(f"{f'bumped 0.3°/3 mm (seed {seed})':<34}{b_med:>13.3f}{b_mean:>11.3f}"
              f"{b_med / e_med:>9.2f}{_centre_error(bumped, truth):>11.3f}{'-':>9}")
        for prior in args.center_prior_mm.split(","):
            for turn in args.rotation_prior_deg.split(","):
                key = f"centre prior {prior} mm, rotation prior {turn}°"
                work = out / f"bumped-{seed}-prior{prior}-rot{turn}"
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(bumped, work, symlinks=True)
                report = out / f"refine-{seed}-prior{prior}-rot{turn}.json"
                t0 = time.perf_counter()
                _cli("refine-calibration", str(work), "--center-prior-mm", prior,
                     "--rotation-prior-deg", turn, "--json", str(report),
                     *(["--per-capture"] if args.per_capture else []))
                wall = time.perf_counter() - t0
                r_med, r_mean = _human_error(work)
                ratios.setdefault(key, []).append(r_med / e_med)
                seconds = json.loads(report.read_text())["refinement"]["seconds"]
                row = f"  refined, {prior} mm / {turn}°"
                print(f"{row:<34}{r_med:>13.3f}{r_mean:>11.3f}{r_med / e_med:>9.2f}"
                      f"{_centre_error(work, truth):>11.3f}{seconds:>9.2f}  (command {wall:.1f} s)",
                      flush=True)
    for key, r in ratios.items():
        print(f"{key}: refined / exact median 3D error {min(r):.2f}-{max(r):.2f}x (mean "
              f"{np.mean(r):.2f}x) over {len(r)} perturbations (target <= 1.5x)")


if __name__ == "__main__":
    main()
