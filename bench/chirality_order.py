"""How often hand chirality puts machine-lifted hands in the right slots, on stored shards.

For every machine shard of the given projects (``machine/shard-*.h5`` and the earlier runs
archived under ``machine/previous/``), each lifted hand within ``--max-mm`` (median joint
distance) of a true hand is given that hand's identity; then the slot decision is taken again
from the stored joints, as ``machine-label`` takes it (``hand_pairing.hands_in_order``'s rule):

- two hands lifted: in order when the right slot's chirality is at least the left slot's;
- one hand lifted: right when its chirality is >= 0;

with the project's chirality (``annotator.machine_labels.hand_geometry.chirality``: the tips'
and the thumb chain's side of the palm) and, as the baseline it replaced, the tips alone (the
thumb tip from the wrist, the finger tips from their MCP). Prints the correct decisions per
project.

    python bench/chirality_order.py /tmp/dfull2/project /tmp/dfull3/project
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
from annotator.machine_labels.hand_geometry import chirality  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402

_N = skeleton.JOINTS_PER_HAND


def tips_only(hand: np.ndarray) -> float:
    """The baseline rule: mean unit offset of the five tips along the palm normal (thumb tip
    from the wrist, finger tips from their MCP); NaN without a palm."""
    wrist, index_mcp, pinky_mcp = hand[20], hand[7], hand[19]
    n = np.cross(index_mcp - wrist, pinky_mcp - wrist)
    norm = np.linalg.norm(n)
    if not np.isfinite(norm) or norm < 1e-6:
        return float("nan")
    n = n / norm
    terms = []
    for tip, base in ((0, 20), (4, 7), (8, 11), (12, 15), (16, 19)):
        d = hand[tip] - hand[base]
        length = np.linalg.norm(d)
        if np.isfinite(length) and length > 1e-6:
            terms.append(float(d @ n) / length)
    return float(np.mean(terms)) if terms else float("nan")


RULES = {"tips only": tips_only, "tips + thumb chain": chirality}


def shard_paths(project: Path) -> list[Path]:
    machine = project / "machine"
    return sorted(machine.glob("previous/*/shard-*.h5")) + sorted(machine.glob("shard-*.h5"))


def count(project: Path, max_mm: float) -> dict:
    """{rule: {"two": [correct, of], "one": [correct, of]}} over the project's shards."""
    out = {name: {"two": [0, 0], "one": [0, 0]} for name in RULES}
    with ProjectStore.open(project) as store:
        for path in shard_paths(project):
            with h5py.File(path, "r") as f:
                instants, joints = f["instants"][:], f["joints_world_mm"][:]
            for k, i in enumerate(instants):
                truth = store.ground_truth(int(i)).joints_world_mm
                hands = [joints[k, :_N], joints[k, _N:]]
                identity = []
                for hand in hands:
                    if not np.isfinite(hand).any():
                        identity.append(None)
                        continue
                    d = [np.nanmedian(np.linalg.norm(hand - truth[q * _N:(q + 1) * _N], axis=1))
                         if np.isfinite(truth[q * _N:(q + 1) * _N]).any() else np.inf
                         for q in (0, 1)]
                    q = int(np.argmin(d))
                    identity.append(q if d[q] <= max_mm else -1)
                lifted = [s for s in (0, 1) if identity[s] is not None]
                if len(lifted) == 2:
                    if -1 in identity or identity[0] == identity[1]:
                        continue
                    for name, rule in RULES.items():
                        a, b = rule(hands[0]), rule(hands[1])
                        in_order = not (np.isfinite(a) and np.isfinite(b)) or a >= b
                        out[name]["two"][0] += in_order == (identity[0] == 0)
                        out[name]["two"][1] += 1
                elif len(lifted) == 1:
                    s = lifted[0]
                    if identity[s] == -1:
                        continue
                    for name, rule in RULES.items():
                        v = rule(hands[s])
                        right = v >= 0 if np.isfinite(v) else s == 0
                        out[name]["one"][0] += right == (identity[s] == 0)
                        out[name]["one"][1] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("projects", nargs="+")
    ap.add_argument("--max-mm", type=float, default=60.0,
                    help="a lifted hand farther than this from every true hand is skipped")
    args = ap.parse_args(argv)
    print("| project (shards) | rule | two-hand instants in order | one-hand instants on the "
          "right side |\n|---|---|---|---|")
    for p in args.projects:
        project = Path(p)
        result = count(project, args.max_mm)
        for name, c in result.items():
            print(f"| {project} ({len(shard_paths(project))}) | {name} | "
                  f"{c['two'][0]} of {c['two'][1]} | {c['one'][0]} of {c['one'][1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
