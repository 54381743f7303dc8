"""``annotator eval-internet CKPT SOURCE``: MPJPE (single / interacting), MRRPE and
handedness accuracy of an InterNet checkpoint, as the public InterHand2.6M evaluation."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_output_file, tqdm_progress
from pose_net.cli.train_internet import HANDS_CHOICES, _names

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 130


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "eval-internet",
        help="evaluate an InterNet checkpoint (MPJPE, MRRPE, handedness accuracy)",
        description="Evaluate InterNet on a project or an InterHand2.6M split with the "
        "public code's protocol: ground-truth boxes, ground-truth root depth per hand for "
        "MPJPE, predicted relative root depth for MRRPE. Also prints a mean-pose baseline.",
    )
    p.add_argument("checkpoint", help="InterNet checkpoint (train-internet's or a released "
                   "snapshot_*.pth.tar)")
    p.add_argument("source", help="project folder or InterHand2.6M root (official layout)")
    p.add_argument("--split", help="split of an InterHand2.6M root (e.g. test)")
    p.add_argument("--labels", choices=("human", "machine", "all", "ground-truth"),
                   default="all", help="which 3D labels of a project are the ground truth")
    p.add_argument("--subjects", type=_names, help="evaluate only these subjects (ids)")
    p.add_argument("--exclude-subjects", type=_names, help="leave these subjects out")
    p.add_argument("--hands", choices=HANDS_CHOICES, default="all",
                   help="evaluate on single-hand images only, interacting only, or all")
    p.add_argument("--rootnet", help="also report a RootNet checkpoint's mean absolute "
                   "root depth error")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--json", dest="json_out", help="write the metrics to this JSON file")
    return p


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def run(args: argparse.Namespace) -> int:
    import json
    import math
    from pathlib import Path

    from annotator.skeleton import JOINT_NAMES
    from pose_net.checkpoint import load_model
    from pose_net.data import load_samples
    from pose_net.evaluate import evaluate
    from pose_net.internet import InterNet
    from pose_net.rootnet import RootNet

    if args.json_out:
        check_output_file(args.json_out, "--json")
    model = load_model(args.checkpoint)
    if not isinstance(model, InterNet):
        raise CliError(f"{args.checkpoint}: not an InterNet checkpoint")
    rootnet = load_model(args.rootnet) if args.rootnet else None
    if rootnet is not None and not isinstance(rootnet, RootNet):
        raise CliError(f"{args.rootnet}: not a RootNet checkpoint")
    src = load_samples(args.source, split=args.split, labels=args.labels,
                       subjects=args.subjects, exclude_subjects=args.exclude_subjects,
                       hands=args.hands)
    with tqdm_progress("eval", "image") as progress:
        ev = evaluate(model, src.samples, rootnet=rootnet, batch_size=args.batch_size,
                      device=args.device, workers=args.workers, progress=progress)
    d = ev.to_dict()
    m = ev.metrics
    acc = d["handedness_accuracy"]
    print(f"samples: {ev.n_samples} ({m.n_single} single-hand, {m.n_interacting} interacting)")
    print(f"MPJPE all:          {_fmt(d['mpjpe_all'])} mm   (mean-pose baseline "
          f"{_fmt(d['baseline_mpjpe_all'])} mm)")
    print(f"MPJPE single:       {_fmt(d['mpjpe_single'])} mm   (baseline "
          f"{_fmt(d['baseline_mpjpe_single'])} mm)")
    print(f"MPJPE interacting:  {_fmt(d['mpjpe_interacting'])} mm   (baseline "
          f"{_fmt(d['baseline_mpjpe_interacting'])} mm)")
    print(f"MRRPE:              {_fmt(d['mrrpe'])} mm   ({m.n_mrrpe} samples)")
    by_type = d.get("handedness_by_type") or {}
    split = ", ".join(
        f"{name} " + ("n/a" if by_type.get(key) is None else f"{100 * by_type[key]:.1f} %")
        for key, name in (("right", "right only"), ("left", "left only"), ("interacting", "both")))
    share = d.get("interacting_share")
    prior = "" if share is None else f"; 'both' for every crop would score {100 * share:.1f} %"
    print(f"handedness accuracy: {'n/a' if acc is None else f'{100 * acc:.2f} %'}"
          + (f" ({split}{prior})" if by_type else ""))
    if ev.rootnet_mae_mm is not None:
        print(f"RootNet root depth MAE: {_fmt(ev.rootnet_mae_mm)} mm ({ev.n_rootnet} hands)")
    worst = sorted(((v, n) for v, n in zip(m.per_joint, JOINT_NAMES, strict=True)
                    if math.isfinite(v)), reverse=True)[:3]
    if worst:
        print("largest per-joint errors: " + ", ".join(f"{n} {v:.1f} mm" for v, n in worst))
    if args.json_out:
        d["per_joint_names"] = list(JOINT_NAMES)
        d["checkpoint"] = str(args.checkpoint)
        d["source"] = str(args.source)
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(d, indent=2))
    return 0
