"""The paper's Tables 3 and 4 on a project: InterNet trained on single-hand, interacting-hand
and both kinds of images (Table 3), and on human, machine and both kinds of labels (Table 4),
each row with the same wall-clock budget on the same held-in subjects, evaluated on the same
ground truth of the held-out subject(s), over ``--repeats`` seeds (mean ± std).

Every training is ``pose_net.train.Trainer`` as ``annotator train-internet`` runs it, with
the demo's settings (config cpu-small, batch 8, trunk started from the project's newest
machine-labeller checkpoint, no augmentation); the time budget ends it (the steps cap is a
safety only) and the learning-rate schedule follows the budget. The row trained on every
label and every image (H+M = SH+IH) is trained once per seed and shown in both tables.
Evaluation is ``pose_net.evaluate.evaluate`` (``annotator eval-internet``) on every
``--every``-th ground-truth crop of the held-out subjects, the same crops for every row; the
mean-pose row is eval-internet's baseline on those crops (the crops' own mean pose: an oracle
constant).

A gap between two rows counts as an ordering only where it exceeds the sum of the two rows'
standard deviations over seeds; with one seed no ordering is claimed. Run it on an otherwise
idle machine: a budget is wall time, so a busy machine gives fewer steps.

Given a demo's project (``OUT/project`` of ``annotator demo``), the tables also go to
``OUT/results/paper_tables.json`` and the demo's report is written again with them.

    python bench/paper_tables.py PROJECT [--minutes 5] [--tables 3,4] [--repeats 1]
        [--held-out S] [--every 4] [--batch 8] [--steps CAP] [--json OUT] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: (row name, --labels, --hands) per table; the paper's row names.
TABLES: dict[str, list[tuple[str, str, str]]] = {
    "3": [("SH", "all", "single"), ("IH", "all", "interacting"), ("SH+IH", "all", "all")],
    "4": [("H", "human", "all"), ("M", "machine", "all"), ("H+M", "all", "all")],
}
TITLES = {"3": "Table 3: training images by their hands (labels H+M)",
          "4": "Table 4: training labels by their source (all images)"}
#: The paper's (Moon et al., ECCV 2020) InterNet trained on everything (H+M, SH+IH),
#: InterHand2.6M test set: MPJPE single / interacting, mm; MRRPE 32.57 mm (DESIGN.md). The
#: other rows' figures are in the paper's Tables 3 and 4 and not restated here.
PAPER_FULL = {"mpjpe_single": 12.16, "mpjpe_interacting": 16.02, "mrrpe": 32.57}
#: What the paper's tables show (the orderings this bench checks).
PAPER_FINDINGS = {
    "3": [("mpjpe_interacting", "SH+IH", "SH",
           "interacting-hand images lower the interacting-hand error"),
          ("mpjpe_all", "SH+IH", "IH", "adding single-hand images to them helps too"),
          ("mpjpe_all", "SH+IH", "SH", "both kinds together are best")],
    "4": [("mpjpe_all", "H+M", "H", "machine labels added to human ones help"),
          ("mpjpe_all", "H+M", "M", "human labels added to machine ones help")],
}
METRICS = ("mpjpe_single", "mpjpe_interacting", "mpjpe_all", "mrrpe", "handedness_accuracy")


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def aggregate(values: list[float | None]) -> dict:
    """mean, std (sample std over seeds; None with one) and n of the finite values."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else None, "n": len(vals)}


def compare(rows: dict[str, dict], metric: str, better: str, worse: str) -> dict:
    """Is ``better``'s mean ``metric`` below ``worse``'s by more than their spread?

    Returns {"gap": worse - better (mm), "spread": std_a + std_b, "verdict": "agrees" |
    "reversed" | "within spread" | "one run" | "missing"}."""
    a, b = rows.get(better, {}).get(metric), rows.get(worse, {}).get(metric)
    if not a or not b or a["mean"] is None or b["mean"] is None:
        return {"gap": None, "spread": None, "verdict": "missing"}
    gap = b["mean"] - a["mean"]
    if a["std"] is None or b["std"] is None:
        return {"gap": gap, "spread": None, "verdict": "one run"}
    spread = a["std"] + b["std"]
    verdict = "within spread" if abs(gap) <= spread else ("agrees" if gap > 0 else "reversed")
    return {"gap": gap, "spread": spread, "verdict": verdict}


def _subjects(project: Path) -> list[str]:
    from annotator.store import ProjectStore
    from pose_net.data.project_dataset import subject_of_instants

    with ProjectStore.open(project, mode="r") as store:
        return sorted(set(subject_of_instants(store).tolist()), key=lambda s: (len(s), s))


def _labeller(project: Path, config: str) -> Path | None:
    from annotator.store.layout import models_dir
    from annotator.store.model_runs import newest_labeler_checkpoint

    return newest_labeler_checkpoint(models_dir(project), config)


def train_and_evaluate(train, test, *, seed: int, minutes: float, steps: int, batch: int,
                       init_trunk: Path | None, augment: bool, out_dir: Path) -> dict:
    """One training (time-bounded) and its evaluation: a run's record."""
    from pose_net.evaluate import evaluate
    from pose_net.train import Trainer, TrainOptions

    opts = TrainOptions(config="cpu-small", steps=steps, max_minutes=minutes, batch_size=batch,
                        augment=augment, device="auto", seed=seed,
                        init_trunk=None if init_trunk is None else str(init_trunk))
    trainer = Trainer(train, out_dir, opts)
    result = trainer.run()
    t0 = time.perf_counter()
    ev = evaluate(trainer.model.eval(), test, device="auto")
    record = {"seed": seed, "steps": result.step, "seconds": round(result.wall_s, 1),
              "stopped_by": "time" if result.stopped_by_time else "steps",
              "epochs": result.epoch, "eval_seconds": round(time.perf_counter() - t0, 1),
              "n_train": len(train)}
    record.update({k: _finite(v) for k, v in ev.metrics.to_dict().items() if k in METRICS})
    record["baseline"] = {k: _finite(getattr(ev.baseline, k))
                          for k in ("mpjpe_all", "mpjpe_single", "mpjpe_interacting")}
    return record


def _fmt(agg: dict | None, digits: int = 1, scale: float = 1.0) -> str:
    if not agg or agg["mean"] is None:
        return "–"
    text = f"{scale * agg['mean']:.{digits}f}"
    return text + (f" ± {scale * agg['std']:.{digits}f}" if agg["std"] is not None else "")


def format_tables(result: dict) -> str:
    """The tables as text (also README's form)."""
    lines = []
    base = result["baseline"]
    for t in result["tables"]:
        rows = result["rows"][t]
        lines.append(f"\n{TITLES[t]}  ({result['repeats']} seed(s), {result['minutes']:g} min "
                     "each; mean ± std over seeds)")
        lines.append(f"{'row':7s} {'steps':>7s} {'MPJPE single':>15s} {'interacting':>15s} "
                     f"{'all':>15s} {'MRRPE':>15s} {'handedness %':>14s}")
        for name, _, _ in TABLES[t]:
            r = rows[name]
            lines.append(f"{name:7s} {_fmt(r['steps'], 0):>7s} {_fmt(r['mpjpe_single']):>15s} "
                         f"{_fmt(r['mpjpe_interacting']):>15s} {_fmt(r['mpjpe_all']):>15s} "
                         f"{_fmt(r['mrrpe']):>15s} "
                         f"{_fmt(r['handedness_accuracy'], 1, 100):>14s}")
        lines.append(f"{'mean pose':7s} {'':>7s} {base['mpjpe_single'] or math.nan:15.1f} "
                     f"{base['mpjpe_interacting'] or math.nan:15.1f} "
                     f"{base['mpjpe_all'] or math.nan:15.1f}")
        lines.append(f"{'paper':7s} {'':>7s} {PAPER_FULL['mpjpe_single']:15.2f} "
                     f"{PAPER_FULL['mpjpe_interacting']:15.2f} {'':>15s} "
                     f"{PAPER_FULL['mrrpe']:15.2f}   (InterNet on all of InterHand2.6M, "
                     "H+M and SH+IH: ResNet-50, 20 epochs)")
        for c in result["orderings"][t]:
            gap = "–" if c["gap"] is None else f"{c['gap']:+.1f} mm"
            spread = "" if c["spread"] is None else f" (spread {c['spread']:.1f})"
            lines.append(f"  paper: {c['claim']} ({c['metric']}: {c['better']} below "
                         f"{c['worse']}) -> here {gap}{spread}: {c['verdict']}")
    return "\n".join(lines)


def run_tables(project: Path, *, tables: list[str], minutes: float, repeats: int,
               held_out: list[str] | None, every: int, batch: int, steps: int,
               init_trunk: str, augment: bool, keep: Path | None,
               log=print) -> dict:
    import torch

    from pose_net.data import load_samples

    subjects = _subjects(project)
    held_out = held_out or subjects[-1:]
    unknown = sorted(set(held_out) - set(subjects))
    if unknown:
        raise SystemExit(f"--held-out: no subject {', '.join(unknown)} (the project has "
                         f"{', '.join(subjects)})")
    held_in = [s for s in subjects if s not in held_out]
    if not held_in:
        raise SystemExit("every subject is held out: nothing to train on")
    trunk = None
    if init_trunk == "labeler":
        trunk = _labeller(project, "cpu-small")
        if trunk is None:
            raise SystemExit(f"{project}: no cpu-small machine-labeller checkpoint to start "
                             "the trunk from; run train-labeler, or pass --init-trunk none")
    test = load_samples(project, labels="ground-truth", subjects=held_out).samples[::every]
    trainings = {(labels, hands) for t in tables for _, labels, hands in TABLES[t]}
    train_sets, missing = {}, {}
    for labels, hands in sorted(trainings):
        try:
            # M has no instant whose hands people decided (see load_samples' hand_types)
            train_sets[(labels, hands)] = load_samples(
                project, labels=labels, subjects=held_in, hands=hands,
                hand_types="stored" if labels == "machine" else "people").samples
        except ValueError as exc:  # e.g. no machine label yet: the row stays empty
            train_sets[(labels, hands)], missing[(labels, hands)] = [], str(exc)
    log(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; held-in subjects "
        f"{','.join(held_in)}, held-out {','.join(held_out)} ({len(test)} crops, every "
        f"{every}); {minutes:g} min per training, {repeats} seed(s); trunk "
        f"{trunk or 'random'}")
    for (labels, hands), samples in sorted(train_sets.items()):
        why = f" (not trained: {missing[(labels, hands)]})" if (labels, hands) in missing else ""
        log(f"#   --labels {labels} --hands {hands}: {len(samples)} training crops{why}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = keep or Path(tmp)
        for seed in range(repeats):
            for labels, hands in sorted(trainings):
                if not train_sets[(labels, hands)]:
                    continue
                out_dir = root / f"{labels}-{hands}-seed{seed}"
                rec = train_and_evaluate(train_sets[(labels, hands)], test, seed=seed,
                                         minutes=minutes, steps=steps, batch=batch,
                                         init_trunk=trunk, augment=augment, out_dir=out_dir)
                rec.update(labels=labels, hands=hands)
                runs.append(rec)
                log(f"seed {seed} --labels {labels:8s} --hands {hands:11s} {rec['steps']:6d} "
                    f"steps ({rec['stopped_by']}) MPJPE single "
                    f"{rec['mpjpe_single'] or math.nan:.1f} interacting "
                    f"{rec['mpjpe_interacting'] or math.nan:.1f} all "
                    f"{rec['mpjpe_all'] or math.nan:.1f} mm")
    rows: dict[str, dict] = {}
    orderings: dict[str, list] = {}
    for t in tables:
        rows[t] = {}
        for name, labels, hands in TABLES[t]:
            mine = [r for r in runs if r["labels"] == labels and r["hands"] == hands]
            row = {k: aggregate([r[k] for r in mine]) for k in METRICS}
            row["steps"] = aggregate([float(r["steps"]) for r in mine])
            row.update(labels=labels, hands=hands, n_train=len(train_sets[(labels, hands)]),
                       not_trained=missing.get((labels, hands)))
            rows[t][name] = row
        orderings[t] = [dict(compare(rows[t], metric, better, worse), metric=metric,
                             better=better, worse=worse, claim=claim)
                        for metric, better, worse, claim in PAPER_FINDINGS[t]]
    if not runs:
        raise SystemExit("no row has training samples: " + "; ".join(missing.values()))
    base = runs[0]["baseline"]
    return {
        "project": str(project.resolve()), "tables": tables, "minutes": minutes,
        "repeats": repeats, "batch": batch, "every": every, "steps_cap": steps,
        "config": "cpu-small", "init_trunk": str(trunk) if trunk else None,
        "augment": augment, "held_in": held_in, "held_out": held_out, "n_test": len(test),
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                    else None},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows, "orderings": orderings, "baseline": base, "runs": runs,
        "paper_full": PAPER_FULL,
    }


def _demo_folder(project: Path) -> Path | None:
    """The demo folder around ``project`` (``OUT/project`` beside ``OUT/summary.json``)."""
    out = project.resolve().parent
    return out if project.name == "project" and (out / "summary.json").is_file() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget per row")
    ap.add_argument("--tables", default="3,4", help="which tables: 3, 4 or 3,4")
    ap.add_argument("--repeats", type=int, default=1, help="seeds per row (mean ± std)")
    ap.add_argument("--held-out", help="held-out subjects (default: the last one)")
    ap.add_argument("--every", type=int, default=4, help="evaluate every n-th held-out crop")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1_000_000,
                    help="steps cap per training (a safety: the budget ends them)")
    ap.add_argument("--init-trunk", choices=("labeler", "none"), default="labeler")
    ap.add_argument("--augment", action="store_true", help="train on augmented crops")
    ap.add_argument("--json", type=Path, help="write the result here")
    ap.add_argument("--keep", type=Path, help="keep the checkpoints in this folder")
    args = ap.parse_args(argv)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    if not tables or set(tables) - set(TABLES):
        ap.error(f"--tables: expected 3, 4 or 3,4, got {args.tables!r}")
    if args.repeats < 1 or args.every < 1 or args.minutes <= 0:
        ap.error("--repeats and --every must be >= 1, --minutes > 0")
    from annotator.store.layout import is_project

    if not is_project(args.project):
        ap.error(f"{args.project}: not a project folder (no project.toml)")
    result = run_tables(
        args.project, tables=tables, minutes=args.minutes, repeats=args.repeats,
        held_out=args.held_out.split(",") if args.held_out else None, every=args.every,
        batch=args.batch, steps=args.steps, init_trunk=args.init_trunk, augment=args.augment,
        keep=args.keep)
    result["command"] = "python bench/paper_tables.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)
    print(format_tables(result))
    text = json.dumps(result, indent=2) + "\n"
    if args.json:
        args.json.write_text(text)
    demo = _demo_folder(args.project)
    if demo is not None:
        from annotator.demo.main import run_demo

        (demo / "results").mkdir(exist_ok=True)
        (demo / "results" / "paper_tables.json").write_text(text)
        size = json.loads((demo / "summary.json").read_text())["size"]["name"]
        run_demo(demo, size, report_only=True)
        print(f"\nwrote {demo / 'results' / 'paper_tables.json'} and the demo's report "
              f"{demo / 'report.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
