"""``annotator simulate-annotator PROJECT``: a simulated human labels instants through the
app's session model (clicks at ground-truth 2D + noise) and reports the 3D error."""

from __future__ import annotations

import argparse

from annotator.cli.support import (
    CliError,
    check_output_file,
    check_writable_folder,
    int_at_least,
    tqdm_progress,
)

_views = int_at_least(2, "a view count")


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _noise(text: str) -> float:
    value = float(text)
    if not (value >= 0.0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not (0.0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 50


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate-annotator",
        help="label a fraction of a synthetic project like a human would (ground truth + noise)",
        description=(
            "For a seeded choice of instants, click every joint visible in the ground truth "
            "in the views the annotation session picks, at the true 2D position plus Gaussian "
            "noise, mark absent hands and save; then print the 3D error of the human labels."
        ),
    )
    p.add_argument("project", help="project folder with ground truth (e.g. from 'annotator "
                   "synth'), or a work package of one (from 'annotator assign')")
    p.add_argument("--fraction", type=_fraction, default=None,
                   help="fraction of the instants to label (0.25; a work package: 1, its whole "
                        "queue; at least one instant)")
    p.add_argument("--views", type=_views, default=2, help="views clicked per joint (2)")
    p.add_argument("--noise-px", type=_noise, default=1.5,
                   help="click noise, standard deviation per axis in px (1.5)")
    p.add_argument("--seed", type=int, default=0, help="random seed for instants and noise (0)")
    p.add_argument("--annotator", default=None,
                   help="annotator name stored ('simulated'; a work package: its annotator)")
    p.add_argument("--click-seconds", type=_positive, default=None, metavar="S",
                   help="stamp clicks with a simulated clock, S seconds per click on average "
                        "(default: the real time)")
    p.add_argument("--json", metavar="OUT",
                   help="also write {median_mm, mean_mm, instants, joints} to this file")
    return p


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from annotator.session.simulate import simulate_annotator
    from annotator.store import ProjectStore
    from annotator.team.package import package_info

    check_writable_folder(args.project, "PROJECT")
    if args.json:
        check_output_file(args.json, "--json")
    with ProjectStore.open(args.project, mode="w") as store:
        if not store.has_ground_truth:
            raise CliError(
                f"{store.path}: no ground truth in this project (simulate-annotator needs a "
                "synthetic project, e.g. from 'annotator synth')"
            )
        package = package_info(store)
        fraction = args.fraction if args.fraction is not None else (1.0 if package else 0.25)
        name = args.annotator or (package["annotator"] if package else "simulated")
        cameras = len(store.camera_names)
        if args.views > cameras:
            raise CliError(f"--views {args.views}: more than the project's {cameras} cameras")
        with tqdm_progress("simulated annotator", "instant") as progress:
            result = simulate_annotator(
                store, fraction=fraction, views=args.views, noise_px=args.noise_px,
                seed=args.seed, annotator=name, progress=progress,
                click_seconds=args.click_seconds,
            )
    summary = result.summary()
    print(
        f"simulated annotator ({args.views} views, {args.noise_px:g} px noise): "
        f"{summary['instants']} instants, {summary['joints']} joints, {result.clicks} clicks; "
        f"3D error median {summary['median_mm']:.2f} mm, mean {summary['mean_mm']:.2f} mm"
    )
    if args.json:
        out = Path(args.json)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(summary, indent=2) + "\n")
        except OSError as exc:
            raise CliError(f"{out}: cannot write the JSON summary ({exc.strerror})") from None
    return 0
