"""Where InterNet's handedness fails on the synthetic studio: its targets, the cue, the output.

Three measurements on a ground-truthed project (e.g. the quick demo's), each printed with
its figures:

1. **targets**: per instant, the stored hand presence (what ``project_samples`` turns into
   the hand-type target) against the truth, split by who labelled the instant (people, or
   the machine stage alone);
2. **cue**: the cpu-small InterNet, trunk from the project's newest labeller, trained on the
   handedness loss alone (no pose, no root) on the ground-truth crops of the held-in subjects,
   ``--steps`` steps of batch 8 over crops decoded once; accuracy on the training crops and
   on the held-out subjects' crops every ``--every-steps``, without and with horizontal flips
   (a mirrored crop with its hands swapped: a crop's chirality is then the only thing that
   tells the two labels apart);
3. **output**, with ``--model CKPT``: the chirality of the 3D skeletons the model predicts in
   its right- and left-hand outputs (``hand_geometry.chirality``, sign of the finger tips
   along the palm normal) per held-out crop type: can the pose outputs stand in for the head?

    python bench/handedness_probe.py PROJECT --train-subjects 0,1 --test-subjects 2 \\
        [--steps 2000] [--every-steps 250] [--model CKPT] [--skip cue]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from annotator.machine_labels.hand_geometry import chirality  # noqa: E402
from annotator.skeleton import HANDS, hand_slice  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402
from annotator.store.layout import models_dir  # noqa: E402
from annotator.store.model_runs import newest_labeler_checkpoint  # noqa: E402
from pose_net.config import get_config  # noqa: E402
from pose_net.data import InterNetDataset, load_samples  # noqa: E402
from pose_net.data.project_dataset import instant_joints  # noqa: E402
from pose_net.efficientnet_trunk import load_trunk_weights  # noqa: E402
from pose_net.internet import InterNet  # noqa: E402
from pose_net.metrics import hand_type_codes, handedness_correct  # noqa: E402

TYPES = ("right", "left", "both")


def targets(project: Path) -> None:
    """Stored hand presence (as project_samples reads it) against the truth, per instant."""
    counts: dict[str, list[int]] = {"people": [0, 0], "machine alone": [0, 0]}
    with ProjectStore.open(project) as store:
        for i in range(store.num_instants):
            if not np.isfinite(store.labels(i).joints_world_mm).all(axis=1).any():
                continue  # nobody labelled it
            _, stored, people = instant_joints(store, i, "all")
            truth = np.asarray(store.ground_truth(i).hand_present, bool)
            c = counts["people" if people else "machine alone"]
            c[0] += int(np.array_equal(stored, truth))
            c[1] += 1
    for who, (ok, n) in counts.items():
        print(f"targets: instants labelled by {who}: stored hands = true hands in {ok} of {n}",
              flush=True)


def _crops(samples, cfg):
    ds = InterNetDataset(samples, cfg, augment=False)
    items = [ds[i] for i in range(len(ds))]
    x = torch.from_numpy(np.stack([it["image"] for it in items]))
    y = torch.from_numpy(np.stack([it["hand_type"] for it in items]))
    return x, y


def _accuracy(model, x, y) -> tuple[float, list[float]]:
    model.eval()
    with torch.no_grad():
        p = torch.cat([model(x[a:a + 64]).handedness for a in range(0, len(x), 64)])
    model.train()
    code = hand_type_codes(y.numpy())
    ok = handedness_correct(p.numpy(), code)
    return float(ok.mean()), [float(ok[code == k].mean()) for k in range(3)]


def cue(project: Path, train_subjects, test_subjects, *, steps: int, every: int,
        seed: int = 0) -> None:
    """Handedness-only training from the labeller's trunk, without and with flips."""
    cfg = get_config("cpu-small")
    labeller = newest_labeler_checkpoint(models_dir(project), "cpu-small")
    xtr, ytr = _crops(load_samples(project, labels="ground-truth",
                                   subjects=train_subjects).samples, cfg)
    test = load_samples(project, labels="ground-truth", subjects=test_subjects).samples
    xte, yte = _crops(test[::3], cfg)
    print(f"cue: {len(xtr)} training crops, {len(xte)} held-out crops; trunk {labeller}",
          flush=True)
    for flip in (False, True):
        torch.manual_seed(seed)
        model = InterNet(cfg)
        if labeller is not None:
            load_trunk_weights(model.trunk, labeller)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        for step in range(1, steps + 1):
            idx = torch.from_numpy(rng.choice(len(xtr), 8, replace=False))
            xb, yb = xtr[idx].clone(), ytr[idx].clone()
            if flip:
                f = torch.from_numpy(rng.random(len(idx)) < 0.5)
                xb[f], yb[f] = xb[f].flip(-1), yb[f].flip(-1)
            loss = F.binary_cross_entropy_with_logits(model(xb).handedness_logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % every == 0 or step == steps:
                tr, _ = _accuracy(model, xtr[::2], ytr[::2])
                te, by = _accuracy(model, xte, yte)
                print(f"cue: {'flips' if flip else 'no flips'} step {step}: training crops "
                      f"{100 * tr:.1f} %, held-out {100 * te:.1f} % (right / left / both "
                      + " / ".join(f"{100 * v:.0f}" for v in by)
                      + f" %), {time.perf_counter() - t0:.0f} s", flush=True)


def output(model_path: Path, project: Path, test_subjects) -> None:
    """Chirality of the predicted right- and left-hand skeletons per held-out crop type."""
    from pose_net.checkpoint import load_model
    from pose_net.evaluate import camera_space_predictions, predict

    model = load_model(model_path)
    test = load_samples(project, labels="ground-truth", subjects=test_subjects).samples[::3]
    pred = predict(model, test)
    cam, _ = camera_space_predictions(pred, test)
    for t, name in enumerate(TYPES):
        rows = [k for k in range(len(test))
                if (test[k].hand_type_name, t) in {("right", 0), ("left", 1),
                                                   ("interacting", 2)}]
        if not rows:
            continue
        right = np.array([chirality(cam[k, hand_slice("right")]) for k in rows])
        left = np.array([chirality(cam[k, hand_slice("left")]) for k in rows])
        truth = np.array([[chirality(test[k].joints_cam_mm[hand_slice(h)]) for h in HANDS]
                          for k in rows])
        print(f"output: {name} crops ({len(rows)}): a right hand's chirality in the predicted "
              f"right output {100 * np.mean(right > 0):.0f} %, left output "
              f"{100 * np.mean(left > 0):.0f} % (the true hands: "
              + " / ".join(f"{100 * np.nanmean(truth[:, h] > 0):.0f}" for h in range(2))
              + " %)", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--train-subjects", required=True)
    ap.add_argument("--test-subjects", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--every-steps", type=int, default=250)
    ap.add_argument("--model", type=Path, help="an InterNet checkpoint for the output probe")
    ap.add_argument("--skip", default="", help="comma list of targets,cue,output to skip")
    args = ap.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    if "targets" not in skip:
        targets(args.project)
    if "cue" not in skip:
        cue(args.project, args.train_subjects.split(","), args.test_subjects.split(","),
            steps=args.steps, every=args.every_steps)
    if args.model is not None and "output" not in skip:
        output(args.model, args.project, args.test_subjects.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
