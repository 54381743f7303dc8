"""``annotator train-internet SOURCE``: train InterNet (or RootNet) on a project or an
InterHand2.6M root; also runs under ``torchrun --nproc_per_node=N`` (DDP)."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_output_folder, tqdm_progress

#: ``--hands`` (``pose_net.data.sample.HANDS_CHOICES``, spelt out so that building the parser
#: imports no torch).
HANDS_CHOICES = ("single", "interacting", "all")
#: ``--hand-types`` (``pose_net.data.project_dataset.HAND_TYPE_CHOICES``, spelt out likewise).
HAND_TYPE_CHOICES = ("people", "stored")


def _names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list, e.g. 0,1")
    return names


#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 120


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train-internet",
        help="train InterNet / RootNet on a project or an InterHand2.6M root",
        description="Train InterNet (handedness, 2.5D pose of both hands, relative root "
        "depth) or RootNet on the crops of a project's labelled images or an InterHand2.6M "
        "split. Writes config.json, metrics.jsonl and checkpoint.pth to --out.",
    )
    p.add_argument("source", help="project folder or InterHand2.6M root (official layout)")
    p.add_argument("--split", help="split of an InterHand2.6M root (e.g. train)")
    p.add_argument("--labels", choices=("human", "machine", "all", "ground-truth"),
                   default="all", help="which 3D labels of a project (default all: human "
                   "over machine)")
    p.add_argument("--subjects", type=_names, help="train only on these subjects (ids)")
    p.add_argument("--exclude-subjects", type=_names, help="leave these subjects out")
    p.add_argument("--hands", choices=HANDS_CHOICES, default="all",
                   help="train on the images of one hand only (single), of two hands only "
                   "(interacting), or all (default); the paper's Table 3")
    p.add_argument("--hand-types", choices=HAND_TYPE_CHOICES, default="people",
                   help="whose hand presence teaches InterNet's handedness in a project: "
                   "people (default: the ground truth and instants with a human joint) or "
                   "stored (every instant's, the machine stage's verdicts included; "
                   "--labels machine has no other)")
    p.add_argument("--config", choices=("paper", "cpu-small"), default="paper",
                   help="declared model configuration (default paper; cpu-small for a CPU)")
    p.add_argument("--epochs", type=int, help="epochs (default: the config's, 20)")
    p.add_argument("--steps", type=int, help="train this many steps in total (quick runs)")
    p.add_argument("--max-minutes", type=float, metavar="M",
                   help="stop after M minutes of training, resumes included, whatever the "
                        "steps (the lr schedule follows whichever of steps and time is further)")
    p.add_argument("--batch-size", type=int, help="per-process batch (default: the config's)")
    p.add_argument("--lr", type=float, help="learning rate (default: the config's)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--out", help="output folder (default PROJECT/models/internet/"
                   "<timestamp>-<config>/, required for an InterHand2.6M root)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pth")
    p.add_argument("--net", choices=("internet", "rootnet"), default="internet")
    p.add_argument("--workers", type=int, default=0, help="data loading processes (0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true", help="train on plain crops")
    p.add_argument("--init-trunk", metavar="WEIGHTS",
                   help="start InterNet's trunk from these weights: 'labeler' (the project's "
                        "newest machine-labeller checkpoint of the same config; cpu-small's "
                        "trunk is that labeller's backbone), a labeller model.pt, "
                        "efficientnet-pytorch weights, or torchvision ImageNet weights for a "
                        "ResNet trunk (paper). Default: random")
    return p


def _init_trunk(args, project_dir) -> str | None:
    """The weights file of ``--init-trunk`` ('labeler' resolved in the project)."""

    from annotator.store.layout import models_dir
    from annotator.store.model_runs import newest_labeler_checkpoint

    if args.init_trunk is None or args.resume:
        return None
    if args.net != "internet":
        raise CliError("--init-trunk initialises InterNet's trunk; RootNet has none to take")
    if args.init_trunk != "labeler":
        return args.init_trunk  # read once already by _check_paths
    if project_dir is None:
        raise CliError("--init-trunk labeler needs a project (SOURCE is an InterHand2.6M root); "
                       "pass a weights file instead")
    models = models_dir(project_dir)
    found = newest_labeler_checkpoint(models, args.config)
    if found is None:
        raise CliError(f"--init-trunk labeler: no machine-labeller checkpoint of config "
                       f"{args.config!r} under {models / 'labeler'}; run `annotator "
                       f"train-labeler {project_dir} --config {args.config}` first, or pass "
                       f"a weights file")
    return str(found)


def _check_paths(args) -> None:
    """The arguments that name files, checked before the data are read (minutes on a big
    source): --out writable, --resume's checkpoint there, --init-trunk a weights file."""
    from pathlib import Path

    from pose_net.train import CHECKPOINT_NAME
    from torch_common import load_torch_file

    if args.out is not None:
        check_output_folder(args.out, "--out")
    if args.resume:
        if args.out is None:
            raise CliError("--resume needs --out (the folder of the run to continue)")
        if not (Path(args.out) / CHECKPOINT_NAME).is_file():
            raise CliError(f"--resume: {Path(args.out) / CHECKPOINT_NAME}: no checkpoint to "
                           "resume from")
    elif args.init_trunk not in (None, "labeler"):
        load_torch_file(args.init_trunk, "a torch weights file",
                        name=f"--init-trunk {args.init_trunk}")


def _default_out(args, project_dir) -> str:
    import time

    from annotator.store.layout import model_runs_dir


    if args.resume:
        raise CliError("--resume needs --out (the folder of the run to continue)")
    if project_dir is None:
        raise CliError("--out is required when SOURCE is an InterHand2.6M root")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return str(model_runs_dir(project_dir, args.net) / f"{stamp}-{args.config}")


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    from pose_net.data import load_samples
    from pose_net.train import TrainOptions, train

    _check_paths(args)
    src = load_samples(args.source, split=args.split, labels=args.labels,
                       subjects=args.subjects, exclude_subjects=args.exclude_subjects,
                       hands=args.hands, hand_types=args.hand_types)
    opts = TrainOptions(
        net=args.net, config=args.config, epochs=args.epochs, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, device=args.device, workers=args.workers,
        seed=args.seed, augment=not args.no_augment, resume=args.resume,
        max_minutes=args.max_minutes, init_trunk=_init_trunk(args, src.project_dir),
    )
    out = args.out or _default_out(args, src.project_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.cuda.is_available():
        # torchrun on a CPU: share the cores between the processes instead of oversubscribing.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    meta = {"source": os.path.abspath(args.source), "source_kind": src.kind,
            "labels": args.labels, "split": args.split, "subjects": args.subjects,
            "exclude_subjects": args.exclude_subjects, "hands": args.hands,
            "hand_types": args.hand_types,
            "n_samples": len(src.samples)}
    rank0 = int(os.environ.get("RANK", "0")) == 0
    with tqdm_progress(f"train {args.net}", "step") as progress:
        result = train(src.samples, out, opts, progress=progress if rank0 else None, meta=meta)
    if rank0:
        budget = (f" (the {args.max_minutes:g}-minute budget ended it)"
                  if result.stopped_by_time else "")
        print(f"trained {result.step}/{result.total_steps} steps{budget} ({result.epoch} full "
              f"epochs) on "
              f"{len(src.samples)} images in {result.wall_s:.0f} s; last loss "
              f"{result.last_loss:.4g}; checkpoint {result.checkpoint}")
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0
