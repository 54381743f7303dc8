"""InterNet's trunk on a short CPU run: random ResNet-18, random EfficientNet, or the machine
labeller's EfficientNet backbone (``train-internet --init-trunk labeler``), with and without
augmentation, each trained for the same wall-clock budget and evaluated on the same held-out
ground truth.

The variants run one after the other in this process on the same project (a demo's
``OUT/project``, after its ``train-labeler``): ``pose_net.train.Trainer`` with the cpu-small
config (the ResNet-18 variant is cpu-small with ``trunk="resnet18"``, registered here under
the name ``cpu-small-resnet18``), batch 8, seed 0; ``pose_net.evaluate.evaluate`` on every
``--every``-th ground-truth crop of the held-out subjects. Run it on an otherwise idle machine:
a budget is wall time, so a busy machine gives fewer steps.

    python bench/internet_trunk.py --project OUT/project --train-subjects 0,1,2 \\
        --test-subjects 3 [--labels all] [--minutes 5] [--variants labeler,labeler-noaug,...]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from annotator.store import ProjectStore  # noqa: E402
from annotator.store.model_runs import newest_labeler_checkpoint  # noqa: E402
from pose_net import config as pn_config  # noqa: E402
from pose_net.data.project_dataset import project_samples  # noqa: E402
from pose_net.evaluate import evaluate  # noqa: E402
from pose_net.train import Trainer, TrainOptions  # noqa: E402

#: name -> (config name, start from the labeller?, augment?)
VARIANTS = {
    "resnet18": ("cpu-small-resnet18", False, True),
    "resnet18-noaug": ("cpu-small-resnet18", False, False),
    "efficientnet-random": ("cpu-small", False, True),
    "labeler": ("cpu-small", True, True),
    "labeler-noaug": ("cpu-small", True, False),
}


@contextlib.contextmanager
def _resnet18_registered():
    """The cpu-small config with a ResNet-18 trunk, declared under its own name while the
    bench runs (the trainer takes declared names) and removed afterwards."""
    small = pn_config.get_config("cpu-small")
    pn_config.CONFIGS["cpu-small-resnet18"] = dataclasses.replace(
        small, name="cpu-small-resnet18", trunk="resnet18", trunk_width=1.0, trunk_depth=1.0)
    try:
        yield
    finally:
        pn_config.CONFIGS.pop("cpu-small-resnet18", None)


def run_variant(name: str, train, test, labeler: Path | None, minutes: float, batch: int,
                out_dir: Path) -> dict:
    config, from_labeler, augment = VARIANTS[name]
    if from_labeler and labeler is None:
        raise SystemExit("no machine-labeller checkpoint in the project: run train-labeler")
    opts = TrainOptions(config=config, steps=100_000, max_minutes=minutes, batch_size=batch,
                        augment=augment, device="cpu", seed=0,
                        init_trunk=str(labeler) if from_labeler else None)
    t0 = time.perf_counter()
    trainer = Trainer(train, out_dir / name, opts)
    result = trainer.run()
    wall = time.perf_counter() - t0
    ev = evaluate(trainer.model.eval(), test, device="cpu")
    m = ev.metrics
    return {"variant": name, "steps": result.step, "train_s": round(wall, 1),
            "mpjpe_all": m.mpjpe_all, "mpjpe_single": m.mpjpe_single,
            "mpjpe_interacting": m.mpjpe_interacting, "mrrpe": m.mrrpe,
            "handedness_accuracy": m.handedness_accuracy,
            "baseline_mpjpe_all": ev.baseline.mpjpe_all}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", required=True)
    ap.add_argument("--train-subjects", required=True, help="e.g. 0,1,2")
    ap.add_argument("--test-subjects", required=True, help="e.g. 3")
    ap.add_argument("--labels", default="all",
                    choices=("human", "machine", "all", "ground-truth"))
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget per variant")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--every", type=int, default=4, help="evaluate every n-th held-out crop")
    ap.add_argument("--variants", default="resnet18,efficientnet-random,labeler,labeler-noaug")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    with ProjectStore.open(args.project) as store:
        train = project_samples(store, labels=args.labels,
                                subjects=args.train_subjects.split(","))
        test = project_samples(store, labels="ground-truth",
                               subjects=args.test_subjects.split(","))[::args.every]
        labeler = newest_labeler_checkpoint(store, "cpu-small")
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; {len(train)} training crops ({args.labels}), "
          f"{len(test)} held-out crops; {args.minutes:g} min per variant; labeller {labeler}",
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, _resnet18_registered():
        for name in names:
            row = run_variant(name, train, test, labeler, args.minutes, args.batch, Path(tmp))
            rows.append(row)
            ratio = row["mpjpe_all"] / row["baseline_mpjpe_all"]
            print(f"{name:20s} {row['steps']:5d} steps  MPJPE {row['mpjpe_all']:6.1f} mm "
                  f"(single {row['mpjpe_single']:.1f}, interacting "
                  f"{row['mpjpe_interacting']:.1f}; {ratio:.2f}x the mean pose "
                  f"{row['baseline_mpjpe_all']:.1f})  MRRPE {row['mrrpe']:.1f}  "
                  f"handedness {100 * row['handedness_accuracy']:.1f} %", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
