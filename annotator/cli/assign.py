"""``annotator assign PROJECT --annotators A,B --out DIR``: one work package per annotator."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_output_folder, check_writable_folder

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 52


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1), got {text}")
    return value


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one annotator")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"an annotator is named twice in {text!r}")
    return names


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "assign",
        help="cut the project into one work package per annotator (with gold and repeat "
             "instants to measure them)",
        description=(
            "Deal the chosen instants out to the annotators, mix gold instants (trusted 3D: "
            "ground truth, or human labels already there) and repeat instants (given to two "
            "annotators, or to one twice) into each queue, and write one package per "
            "annotator to DIR/<name>: a small project sharing the capture's images, which "
            "'annotator gui' and 'simulate-annotator' open like a project. Bring them back "
            "with 'annotator collect', measure with 'annotator qc'."
        ),
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--annotators", type=_names, required=True, metavar="NAME[,NAME…]",
                   help="annotator names (each names its package folder)")
    p.add_argument("--instants", default="unlabelled", metavar="unlabelled|all|RANGE",
                   help="which instants to label: without human labels (default), all, or "
                        "ranges of instant indices like 0-99,200-299")
    p.add_argument("--gold", type=_fraction, default=0.1, metavar="FRACTION",
                   help="gold instants per queue, as a fraction of its work (0.1)")
    p.add_argument("--repeat", type=_fraction, default=0.1, metavar="FRACTION",
                   help="repeat instants per queue, as a fraction of its work (0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the deal (0)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the packages")
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.store import ProjectStore
    from annotator.team.assign import assign

    check_writable_folder(args.project, "PROJECT")
    check_output_folder(args.out, "--out")
    with ProjectStore.open(args.project, mode="w") as store:
        try:
            records = assign(store, args.annotators, args.out, instants=args.instants,
                             gold=args.gold, repeat=args.repeat, seed=args.seed)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    for r in records:
        kinds = {k: int((r.kinds == k).sum()) for k in ("work", "gold", "repeat")}
        print(f"{r.annotator}: {r.instants.size} instants ({kinds['work']} to label, "
              f"{kinds['gold']} gold, {kinds['repeat']} repeats) -> {r.path}")
    return 0
