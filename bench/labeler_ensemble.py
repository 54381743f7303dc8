"""Test-time mirroring and detector ensembles in ``machine-label``, side by side on one project.

For the given detector checkpoints (e.g. the rounds of an ``annotator bootstrap`` run), labels
the project's unlabelled instants with each checkpoint alone and with all of them together
(``machine-label --model A --model B ...``), each without and with test-time mirroring
(``--no-flip-test`` / ``--flip-test``), then ``merge`` and ``evaluate`` against the ground
truth. Prints one table: machine median / mean / one-hand / two-hand median, coverage,
hands found, and the labelling time as a ratio to the first row's (same machine, same run).

    python bench/labeler_ensemble.py OUT/project --models \\
        OUT/project/models/labeler/<round 0>/model.pt OUT/project/models/labeler/<round 1>/model.pt

Each row replaces the project's merged machine labels (the earlier shards are archived under
``machine/previous/`` by ``machine-label``, human labels are never written); the last row's
labels stay. ``--json OUT`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _annotator(argv: list[str]) -> float:
    """Run one ``annotator`` command in this process; its wall seconds."""
    from annotator.cli.main import main

    print(f"$ annotator {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    rc = main(argv)
    if rc:
        raise SystemExit(f"annotator {argv[0]} failed ({rc})")
    return time.perf_counter() - t0


def _views(project: str) -> str:
    """The views-curve points evaluated: 32 views (where there are more) and every camera."""
    from annotator.store import ProjectStore

    with ProjectStore.open(project) as store:
        cameras = len(store.camera_names)
    return ",".join(str(v) for v in sorted({min(32, cameras), cameras}))


def run_row(project: str, models: list[str], mirrored: bool, work: Path, name: str) -> dict:
    model_args = [a for m in models for a in ("--model", m)]
    flip = "--flip-test" if mirrored else "--no-flip-test"
    seconds = _annotator(["machine-label", project, *model_args, flip])
    _annotator(["merge", project])
    out = work / f"{name}.json"
    _annotator(["evaluate", project, "--json", str(out), "--views", _views(project),
                "--repeats", "10"])
    m = json.loads(out.read_text())["machine"]
    return {
        "row": name, "models": models, "mirrored": mirrored, "label_seconds": seconds,
        "median_mm": m["median_mm"], "mean_mm": m["mean_mm"],
        "single_median_mm": m["single"]["median_mm"],
        "interacting_median_mm": m["interacting"]["median_mm"],
        "coverage": m["coverage"], "hands": m.get("hands"),
    }  # fmt: skip


def _mm(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.2f} mm"


def table(rows: list[dict]) -> str:
    base = rows[0]["label_seconds"]
    lines = ["| detectors | mirrored | median | mean | one hand / two hands (median) | "
             "coverage | hands found / extra | labelling time |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        h = r["hands"] or {}
        lines.append(
            f"| {r['row'].rsplit(' ', 1)[0]} | {'yes' if r['mirrored'] else 'no'} | "
            f"{_mm(r['median_mm'])} | {_mm(r['mean_mm'])} | "
            f"{_mm(r['single_median_mm'])} / {_mm(r['interacting_median_mm'])} | "
            f"{r['coverage'] or 0:.3f} | {h.get('found', '?')} of {h.get('present', '?')} / "
            f"{h.get('extra', '?')} | {r['label_seconds'] / base:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project")
    ap.add_argument("--models", nargs="+", required=True, metavar="CKPT")
    ap.add_argument("--json", default=None, help="write the rows here")
    ap.add_argument("--work", default=None, help="folder for the evaluate reports "
                    "(default: PROJECT/../results/labeler_ensemble)")
    args = ap.parse_args(argv)
    project = str(Path(args.project))
    work = Path(args.work or Path(project).parent / "results" / "labeler_ensemble")
    work.mkdir(parents=True, exist_ok=True)
    plan = [([m], f"detector {k}") for k, m in enumerate(args.models)]
    if len(args.models) > 1:
        plan.append((list(args.models), f"ensemble of {len(args.models)}"))
    rows = []
    for models, name in plan:
        for mirrored in (False, True):
            row_name = f"{name} {'mirrored' if mirrored else 'plain'}"
            rows.append(run_row(project, models, mirrored, work, row_name.replace(" ", "_")))
            rows[-1]["row"] = row_name
    text = table(rows)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"project": project, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
