"""``annotator train-labeler PROJECT``: train the 2D keypoint detector on the human labels,
or on the human labels plus the selected machine labels (multiview bootstrapping)."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 70


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train-labeler",
        help="train the machine labeler's 2D keypoint detector on the human labels",
        description=(
            "Train the EfficientNet heatmap detector on the human 3D labels projected into "
            "every camera (--labels human+machine: plus the merged machine joints that pass "
            "the selection rule, projected the same way with a lower loss weight). "
            "Checkpoints go to PROJECT/models/labeler/<time>-<config>/model.pt "
            "with metrics.jsonl beside them. Runs under torchrun (DDP) unchanged."
        ),
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--config", default="cpu-small", help="cpu-small (default) or paper")
    p.add_argument("--epochs", type=float, default=None, help="passes over the training views")
    p.add_argument(
        "--steps", type=int, default=None,
        help="total optimiser steps (overrides --epochs; a resumed run continues up to it)",
    )  # fmt: skip
    p.add_argument(
        "--max-minutes", type=float, default=None, metavar="M",
        help="stop after M minutes of training, resumes included, whatever the steps (the "
             "learning-rate schedule follows whichever of steps and time is further along)",
    )  # fmt: skip
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument(
        "--labels", choices=("human", "human+machine"), default="human",
        help="human (default): the human 3D labels; human+machine: plus the merged machine "
             "joints that pass the selection rule (needs 'annotator merge' first)",
    )  # fmt: skip
    p.add_argument(
        "--machine-weight", type=float, default=None, metavar="W",
        help="loss weight of a selected machine joint (a human one weighs 1; default: the "
             "config's machine_weight, 0.5)",
    )  # fmt: skip
    p.add_argument(
        "--init-weights", default=None, metavar="FILE",
        help="start from FILE: ImageNet EfficientNet weights (efficientnet-pytorch state "
             "dict, backbone only) or a labeller checkpoint model.pt (the whole detector; "
             "its config must fit)",
    )  # fmt: skip
    p.add_argument(
        "--init", choices=("newest",), default=None,
        help="newest: start from the project's newest labeller checkpoint of this config",
    )  # fmt: skip
    p.add_argument(
        "--resume", action="store_true", help="continue the newest checkpoint of this config"
    )
    p.add_argument("--batch-size", type=int, default=None, help="per process (config default)")
    p.add_argument("--workers", type=int, default=1, help="image-decoding processes (1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    return p


def run(args: argparse.Namespace) -> int:
    import os

    from machine_labeler.config import get_config
    from machine_labeler.train import train_labeler
    from torch_common import load_torch_file

    config = get_config(args.config)
    rank = int(os.environ.get("RANK", "0"))
    if args.init_weights is not None and args.init is not None:
        raise CliError("--init-weights and --init exclude each other")
    if args.resume and (args.init_weights is not None or args.init is not None):
        raise CliError("--resume continues a run's own weights: drop --init-weights / --init")
    if args.init_weights is not None:  # read now: a bad file fails before the data load
        load_torch_file(args.init_weights, "a torch weights file",
                        name=f"--init-weights {args.init_weights}")
    if args.machine_weight is not None:
        if args.labels != "human+machine":
            raise CliError("--machine-weight needs --labels human+machine")
        if not args.machine_weight > 0:
            raise CliError(f"--machine-weight must be > 0, got {args.machine_weight}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise CliError(f"--max-minutes must be > 0, got {args.max_minutes}")
    with tqdm_progress(f"training {config.name}", "step") as progress:
        result = train_labeler(
            args.project, config, steps=args.steps, epochs=args.epochs, device=args.device,
            init_weights=args.init_weights, resume=args.resume, batch_size=args.batch_size,
            workers=args.workers, seed=args.seed, progress=progress if rank == 0 else None,
            max_minutes=args.max_minutes, labels=args.labels,
            machine_weight=args.machine_weight, init_newest=args.init == "newest",
        )  # fmt: skip
    if rank == 0 and result.selection is not None:
        print(selection_line(result.selection, result.machine_views))
    if rank == 0:
        skipped = (
            f", skipped {result.skipped_images} unreadable images" if result.skipped_images else ""
        )
        budget = (
            f" (the {args.max_minutes:g}-minute budget ended it)" if result.stopped_by_time else ""
        )
        print(
            f"trained {config.name} for {result.steps} steps{budget} on {result.views} views "
            f"({result.images_per_s:.1f} images/s, {result.world_size} process(es)), "
            f"loss {result.final_loss:.3g}{skipped} -> {result.checkpoint}"
        )
    return 0


def selection_line(summary: dict, views: int) -> str:
    """The one stdout line about the machine labels a human+machine run trained on."""
    p = summary.get("precision_5mm")
    if p is not None:
        precision = f"{100 * p:.1f} % within 5 mm of the truth"
    else:
        precision = "none kept to score" if summary.get("ground_truth") else "no ground truth"
    return (f"machine labels: kept {summary['kept']} of {summary['candidates']} candidate joints "
            f"({summary['instants']} instants, {views} views; {precision})")
