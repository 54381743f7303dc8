"""InterNet's handedness on held-out subjects: overall and per hand type, against the share of
two-hand crops (what answering "both hands" for every crop scores), for variants of the
handedness loss weight and of flip augmentation, each trained for the same number of steps.

Every variant is ``pose_net.train.Trainer`` with the cpu-small config (batch 8, trunk from the
project's newest machine-labeller checkpoint, no augmentation unless the variant flips), on
the project's labels of the held-in subjects; evaluation is ``pose_net.evaluate.evaluate`` on
every ``--every``-th ground-truth crop of the held-out subjects. Steps, not minutes, bound the
trainings, so a loaded machine changes the time and not the result; ``--seeds`` repeats them.

    python bench/handedness.py PROJECT --train-subjects 0,1 --test-subjects 2 \\
        [--steps 800] [--variants w1,w10,w1-flip] [--seeds 0,1] [--every 3] \\
        [--labels all|human|machine|ground-truth] [--train-every K]

Variants: ``w<W>`` trains with ``handedness_loss_weight = W``; a ``-flip`` suffix draws a
horizontal flip (which swaps the hands) for half the crops, and nothing else; a ``-spatial``
or ``-heatmaps`` suffix sets ``handedness_from`` (what the head reads; default ``pooled``,
the paper's). ``--train-every K`` also scores every K-th training crop (is the head fitting
its training crops, or fitting them and not generalising?).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pose_net.data.torch_dataset as torch_dataset  # noqa: E402
from annotator.store.layout import models_dir  # noqa: E402
from annotator.store.model_runs import newest_labeler_checkpoint  # noqa: E402
from pose_net import config as pn_config  # noqa: E402
from pose_net.data import load_samples  # noqa: E402
from pose_net.data.crops import Augmentation  # noqa: E402
from pose_net.data.project_dataset import LABEL_CHOICES  # noqa: E402
from pose_net.evaluate import evaluate  # noqa: E402
from pose_net.train import Trainer, TrainOptions  # noqa: E402


def _flip_only(rng: np.random.Generator) -> Augmentation:
    return Augmentation(flip=bool(rng.random() < 0.5))


@contextlib.contextmanager
def _variant(name: str):
    """Register the variant's config (and patch the augmentation draw for -flip)."""
    parts = name.split("-")
    weight = float(parts[0].lstrip("w"))
    flip = "flip" in parts[1:]
    head = next((p for p in parts[1:] if p in pn_config.HANDEDNESS_INPUTS), "pooled")
    pn_config.CONFIGS["bench-handedness"] = dataclasses.replace(
        pn_config.get_config("cpu-small"), name="bench-handedness",
        handedness_loss_weight=weight, handedness_from=head)
    saved = torch_dataset.sample_augmentation
    if flip:
        torch_dataset.sample_augmentation = _flip_only
    try:
        yield flip
    finally:
        torch_dataset.sample_augmentation = saved
        pn_config.CONFIGS.pop("bench-handedness", None)


def run(project: Path, train_subjects, test_subjects, *, variants, seeds, steps, every,
        batch: int = 8, train_every: int = 0, labels: str = "all") -> list[dict]:
    train = load_samples(project, labels=labels, subjects=train_subjects).samples
    test = load_samples(project, labels="ground-truth", subjects=test_subjects).samples[::every]
    labeller = newest_labeler_checkpoint(models_dir(project), "cpu-small")
    types = lambda samples: {t: sum(s.hand_type_name == t for s in samples)  # noqa: E731
                             for t in ("right", "left", "interacting")}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}; "
          f"training crops ({labels}) {types(train)}, of them "
          f"{int(np.sum(train.hand_type_valid))} with a hand type people decided; "
          f"held-out crops {types(test)}; {steps} steps; "
          f"trunk {labeller}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in variants:
            for seed in seeds:
                with _variant(name) as flip:
                    opts = TrainOptions(config="bench-handedness", steps=steps,
                                        batch_size=batch, augment=flip, device="auto",
                                        seed=seed, init_trunk=labeller and str(labeller))
                    trainer = Trainer(train, Path(tmp) / f"{name}-{seed}", opts)
                    trainer.run()
                    m = evaluate(trainer.model.eval(), test).metrics
                    fit = (evaluate(trainer.model, train[::train_every]).metrics
                           if train_every else None)
                row = {"variant": name, "seed": seed, "steps": trainer.step,
                       "mpjpe_all": m.mpjpe_all, "handedness": m.handedness_accuracy,
                       "by_type": m.handedness_by_type, "two_hand_share": m.interacting_share,
                       "train_handedness": fit and fit.handedness_accuracy,
                       "train_by_type": fit and fit.handedness_by_type}
                rows.append(row)
                by = " / ".join(f"{100 * v:.0f}" for v in m.handedness_by_type.values())
                print(f"{name:10s} seed {seed}: handedness {100 * m.handedness_accuracy:5.1f} % "
                      f"(right / left / both {by} %; two-hand share "
                      f"{100 * m.interacting_share:.1f} %), MPJPE {m.mpjpe_all:.1f} mm"
                      + (f"; on training crops {100 * fit.handedness_accuracy:.1f} % ("
                         + " / ".join(f"{100 * v:.0f}" for v in fit.handedness_by_type.values())
                         + " %)" if fit else ""), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--train-subjects", required=True)
    ap.add_argument("--test-subjects", required=True)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--variants", default="w1,w10,w1-flip")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--train-every", type=int, default=0)
    ap.add_argument("--labels", default="all", choices=LABEL_CHOICES)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    suffixes = ("flip", *pn_config.HANDEDNESS_INPUTS)
    bad = [v for v in variants if not v.startswith("w")
           or any(p not in suffixes for p in v.split("-")[1:])]
    if bad:
        ap.error(f"variants are w<weight>[-flip][-{'|-'.join(pn_config.HANDEDNESS_INPUTS)}], "
                 f"got {bad}")
    rows = run(args.project, args.train_subjects.split(","), args.test_subjects.split(","),
               variants=variants, seeds=[int(s) for s in args.seeds.split(",")],
               steps=args.steps, every=args.every, batch=args.batch,
               train_every=args.train_every, labels=args.labels)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
