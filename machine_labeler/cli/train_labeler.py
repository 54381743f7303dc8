"""``annotator train-labeler PROJECT``: train the 2D keypoint detector on the human labels."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train-labeler",
        help="train the machine labeler's 2D keypoint detector on the human labels",
        description=(
            "Train the EfficientNet heatmap detector on the human 3D labels projected into "
            "every camera. Checkpoints go to PROJECT/models/labeler/<time>-<config>/model.pt "
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
        "--init-weights", default=None, metavar="FILE",
        help="ImageNet EfficientNet weights (efficientnet-pytorch state dict, local file)",
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

    from annotator.cli._progress import tqdm_progress
    from annotator.cli.main import CliError
    from machine_labeler.config import get_config
    from machine_labeler.train import train_labeler

    config = get_config(args.config)
    rank = int(os.environ.get("RANK", "0"))
    if args.init_weights is not None and not os.path.isfile(args.init_weights):
        raise CliError(f"--init-weights {args.init_weights}: no such file")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise CliError(f"--max-minutes must be > 0, got {args.max_minutes}")
    with tqdm_progress(f"training {config.name}", "step") as progress:
        result = train_labeler(
            args.project, config, steps=args.steps, epochs=args.epochs, device=args.device,
            init_weights=args.init_weights, resume=args.resume, batch_size=args.batch_size,
            workers=args.workers, seed=args.seed, progress=progress if rank == 0 else None,
            max_minutes=args.max_minutes,
        )  # fmt: skip
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
