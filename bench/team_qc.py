"""A simulated labelling team on the synthetic studio, measured by ``annotator qc`` (issue 28).

A studio capture (exact ground truth) is rendered once. For each seed, a copy is dealt to
three annotators (``annotator assign --annotators a1,a15,a4 --gold 0.1 --repeat 0.1``), each
package is labelled by ``simulate-annotator`` with its own click noise (1.0, 1.5 and 4.0 px;
two views per joint; a paced clock of 4 s per click), brought back (``annotator collect``)
and measured (``annotator qc --json``). Checked, per seed:

- ``qc`` ranks the annotators 1.0 < 1.5 < 4.0 px by gold error and by repeat agreement;
- each annotator's gold median agrees within 5 % with the median error of *all* the 3D
  joints they brought back (work, repeats and gold) recomputed here against the ground
  truth (the 10 % gold sample stands for the whole);
- and, exactly, with the gold answers recomputed here against the ground truth.

    python bench/team_qc.py [--cameras 20 --instants 300 --seeds 0 1 2 --json OUT]
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

from annotator.store import ProjectStore  # noqa: E402
from annotator.store.team_files import read_answers, read_ledger  # noqa: E402

TEAM = (("a1", 1.0), ("a15", 1.5), ("a4", 4.0))


def _cli(*argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "annotator.cli.main", *map(str, argv)],
                          check=True, capture_output=True, text=True)
    return done.stdout


def _recomputed(project: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per annotator: errors of all their answered joints, and of their gold answers, vs GT."""
    out: dict[str, dict[str, list]] = {}
    with ProjectStore.open(project) as store:
        for record in read_ledger(project).packages:
            a = read_answers(project, record.id)
            mine = out.setdefault(record.annotator, {"all": [], "gold": []})
            dense = a.joints_dense(42)
            for k, (i, kind) in enumerate(zip(record.instants.tolist(),
                                              record.kinds.tolist(), strict=True)):
                d = np.linalg.norm(dense[k] - store.ground_truth(i).joints_world_mm, axis=1)
                d = d[np.isfinite(d)]
                mine["all"].append(d)
                if kind == "gold":
                    mine["gold"].append(d)
    return {n: {k: np.concatenate(v) for k, v in e.items()} for n, e in out.items()}


def run_seed(master: Path, work: Path, seed: int, gold: float, repeat: float) -> dict:
    project = work / f"seed{seed}"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(master, project)
    packages = work / f"packages{seed}"
    shutil.rmtree(packages, ignore_errors=True)
    _cli("assign", project, "--annotators", ",".join(n for n, _ in TEAM), "--instants", "all",
         "--gold", gold, "--repeat", repeat, "--seed", seed, "--out", packages)
    t0 = time.perf_counter()
    for name, noise in TEAM:
        _cli("simulate-annotator", packages / name, "--noise-px", noise, "--seed", seed,
             "--click-seconds", 4)
    t_label = time.perf_counter() - t0
    t0 = time.perf_counter()
    _cli("collect", project, *(packages / n for n, _ in TEAM))
    t_collect = time.perf_counter() - t0
    qc_path = work / f"qc{seed}.json"
    t0 = time.perf_counter()
    _cli("qc", project, "--json", qc_path, "--html", work / f"qc{seed}.html")
    t_qc = time.perf_counter() - t0
    report = json.loads(qc_path.read_text())
    rec = _recomputed(project)
    rows = []
    for a in report["annotators"]:
        e = rec[a["name"]]
        all_med = float(np.median(e["all"]))
        rows.append({
            **{k: a[k] for k in ("name", "instants", "joints", "joints_per_hour",
                                 "gold_median_mm", "gold_p90_mm", "repeat_median_mm",
                                 "bone_flagged_share")},
            "gold_joints": a["gold_joints"],
            "all_median_mm": all_med,
            "gold_vs_all": a["gold_median_mm"] / all_med - 1.0,
            "gold_recomputed_mm": float(np.median(e["gold"])),
        })
    gold_rank = [r["name"] for r in sorted(rows, key=lambda r: r["gold_median_mm"])]
    rep_rank = [r["name"] for r in sorted(rows, key=lambda r: r["repeat_median_mm"])]
    want = [n for n, _ in TEAM]
    return {
        "seed": seed, "annotators": rows,
        "ranked_by_gold": gold_rank == want, "ranked_by_repeats": rep_rank == want,
        "max_gold_vs_all": max(abs(r["gold_vs_all"]) for r in rows),
        "gold_recomputed_exact": all(
            abs(r["gold_recomputed_mm"] - r["gold_median_mm"]) < 1e-9 for r in rows),
        "seconds": {"label": t_label, "collect": t_collect, "qc": t_qc},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/bench_team_qc")
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--instants", type=int, default=300)
    ap.add_argument("--gold", type=float, default=0.1)
    ap.add_argument("--repeat", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    work = Path(args.out)
    master = work / f"studio-{args.cameras}-{args.instants}"
    if not (master / "project.toml").exists():
        shutil.rmtree(master, ignore_errors=True)
        _cli("synth", master, "--cameras", args.cameras, "--instants", args.instants,
             "--width", 256, "--height", 168, "--workers", 1)
    results = [run_seed(master, work, s, args.gold, args.repeat) for s in args.seeds]
    print(f"{args.cameras} cameras, {args.instants} instants, gold {args.gold}, repeat "
          f"{args.repeat}; annotators a1/a15/a4 = 1.0/1.5/4.0 px click noise")
    print(f"{'seed':>4} {'name':<5}{'inst':>5}{'joints':>7}{'gold j':>7}{'gold med':>9}"
          f"{'all med':>8}{'diff':>7}{'p90':>7}{'repeat':>7}{'j/h':>6}{'bone%':>6}")
    for r in results:
        for a in r["annotators"]:
            print(f"{r['seed']:>4} {a['name']:<5}{a['instants']:>5}{a['joints']:>7}"
                  f"{a['gold_joints']:>7}{a['gold_median_mm']:>9.2f}{a['all_median_mm']:>8.2f}"
                  f"{100 * a['gold_vs_all']:>6.1f}%{a['gold_p90_mm']:>7.2f}"
                  f"{a['repeat_median_mm']:>7.2f}{a['joints_per_hour']:>6.0f}"
                  f"{100 * a['bone_flagged_share']:>5.1f}%")
        print(f"     ranked by gold: {r['ranked_by_gold']}, by repeats: "
              f"{r['ranked_by_repeats']}, max |gold - all| {100 * r['max_gold_vs_all']:.1f} %,"
              f" gold recomputed exactly: {r['gold_recomputed_exact']}; seconds "
              + ", ".join(f"{k} {v:.1f}" for k, v in r["seconds"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
