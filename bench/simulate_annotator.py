"""3D error of the simulated annotator against the number of clicked views, side by side.

Usage:
    annotator synth /tmp/sa80 --cameras 80 --instants 24
    python bench/simulate_annotator.py /tmp/sa80 --views 2 3 4 6 --fraction 1 --noise-px 1.5

Each run labels a private copy of PROJECT (its image folder linked, not copied) through
``annotator.session.simulate.simulate_annotator`` with the same seed, so the runs differ only in
the number of views per joint. Prints median/mean error, the ratio of each median to the
first median, and milliseconds per click (the whole run: view choice, clicks, DLT,
reprojection into all cameras, undo records, saves). The last row is a baseline that clicks
random cameras among those that see the joint, instead of the session's choice.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

# bench/ itself must not be on the path: bench/triangulation.py would shadow the package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from annotator.session.simulate import simulate_annotator  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402


def private_copy(project: Path, dst: Path) -> Path:
    dst.mkdir()
    for item in project.iterdir():
        if item.is_dir() and item.name == "images":
            (dst / item.name).symlink_to(item.resolve())
        elif item.is_file() and not item.name.startswith("."):
            shutil.copy2(item, dst / item.name)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--views", type=int, nargs="+", default=[2, 3, 4, 6])
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--noise-px", type=float, default=1.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-random", action="store_true", help="skip the random-views baseline")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(v, "session") for v in args.views]
        if not args.no_random:
            runs.append((args.views[0], "random"))
        for v, policy in runs:
            proj = private_copy(args.project, Path(tmp) / f"v{v}-{policy}")
            with ProjectStore.open(proj, mode="w") as store:
                cams = len(store.camera_names)
                t0 = time.perf_counter()
                res = simulate_annotator(store, fraction=args.fraction, views=v,
                                         noise_px=args.noise_px, seed=args.seed,
                                         view_policy=policy)
                seconds = time.perf_counter() - t0
            rows.append((f"{v} ({policy})", res, seconds))
    base = rows[0][1].median_mm
    print(f"simulated annotator on {args.project} ({cams} cameras), fraction {args.fraction}, "
          f"noise {args.noise_px} px, seed {args.seed}")
    print("| views | instants | joints | median mm | mean mm | median / first | ms per click |")
    print("|---|---|---|---|---|---|---|")
    for v, res, seconds in rows:
        s = res.summary()
        print(f"| {v} | {s['instants']} | {s['joints']} | {s['median_mm']:.2f} | "
              f"{s['mean_mm']:.2f} | {s['median_mm'] / base:.2f} | "
              f"{1000 * seconds / max(res.clicks, 1):.2f} |")


if __name__ == "__main__":
    main()
