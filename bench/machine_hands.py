"""What a project's machine-label mean is made of, hand by hand, against the ground truth.

For each machine shard given (default: the project's current ``machine/shard-*.h5``), every
lifted hand of an instant whose slot has a true hand is scored by its median joint error.
Prints the hands, their mean joint error, the hands sitting in the other hand's slot (nearer
the other true hand than their own) and the gross hands (median error over ``--gross-mm``)
with the share of the summed joint error each group carries, and the mean without the gross
hands.

    python bench/machine_hands.py /tmp/dfull3/project
    python bench/machine_hands.py /tmp/dfull3/project \
        --shard /tmp/dfull3/project/machine/previous/<run>/shard-00000.h5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from annotator import skeleton  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402

_N = skeleton.JOINTS_PER_HAND


def hand_rows(project: Path, shards: list[Path]) -> np.ndarray:
    """(H, 4) per lifted hand: median error to its own truth, to the other hand's truth (inf
    without one), summed joint error, joints scored."""
    rows = []
    with ProjectStore.open(project) as store:
        for path in shards:
            with h5py.File(path, "r") as f:
                instants, joints = f["instants"][:], f["joints_world_mm"][:]
            for k, i in enumerate(instants):
                truth = store.ground_truth(int(i)).joints_world_mm
                for h in (0, 1):
                    own = slice(h * _N, (h + 1) * _N)
                    other = slice((1 - h) * _N, (2 - h) * _N)
                    hand = joints[k, own]
                    if not np.isfinite(hand).any() or not np.isfinite(truth[own]).any():
                        continue
                    err = np.linalg.norm(hand - truth[own], axis=1)
                    to_other = (np.nanmedian(np.linalg.norm(hand - truth[other], axis=1))
                                if np.isfinite(truth[other]).any() else np.inf)
                    rows.append((np.nanmedian(err), to_other, np.nansum(err),
                                 np.isfinite(err).sum()))
    return np.array(rows, float).reshape(-1, 4)


def summary(rows: np.ndarray, gross_mm: float) -> dict:
    total, joints = rows[:, 2].sum(), rows[:, 3].sum()
    swapped = rows[:, 1] < rows[:, 0]
    gross = rows[:, 0] > gross_mm
    return {
        "hands": int(len(rows)),
        "mean_mm": float(total / joints),
        "swapped": int(swapped.sum()),
        "swapped_error_share": float(rows[swapped, 2].sum() / total),
        "gross": int(gross.sum()),
        "gross_error_share": float(rows[gross, 2].sum() / total),
        "mean_without_gross_mm": float(rows[~gross, 2].sum() / rows[~gross, 3].sum()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project")
    ap.add_argument("--shard", action="append", default=None,
                    help="a shard file (repeatable; default: the project's current shards)")
    ap.add_argument("--gross-mm", type=float, default=30.0)
    args = ap.parse_args(argv)
    project = Path(args.project)
    shards = ([Path(s) for s in args.shard] if args.shard
              else sorted((project / "machine").glob("shard-*.h5")))
    s = summary(hand_rows(project, shards), args.gross_mm)
    print(f"{s['hands']} hands, mean joint error {s['mean_mm']:.2f} mm; "
          f"{s['swapped']} in the other hand's slot ({100 * s['swapped_error_share']:.0f} % of "
          f"the summed error); {s['gross']} with a median error over {args.gross_mm:g} mm "
          f"({100 * s['gross_error_share']:.0f} %); mean without those "
          f"{s['mean_without_gross_mm']:.2f} mm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
