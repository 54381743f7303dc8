"""The ``annotator`` command line: one module per subcommand, heavy imports deferred.

Each subcommand module defines ``register(subparsers)`` (adds its parser, importing nothing
heavy) and ``run(args) -> int``. ``main(argv)`` is what the console script calls and what the
tests call in-process.

Commands of the upper layers (the app in ``gui``, the machine stage in ``machine_labeler``,
the networks in ``pose_net``) are named here by module path and imported by name only when
the parser is built: ``annotator`` never imports those packages statically (the layer
contract in pyproject.toml), and their ``register`` functions import no Qt or torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

#: Subcommand name -> module defining ``register``/``run``, in the order ``--help`` lists them.
SUBCOMMANDS: dict[str, str] = {
    "demo": "annotator.cli.demo",
    "init": "annotator.cli.init",
    "status": "annotator.cli.status",
    "gui": "gui.cli",
    "simulate-annotator": "annotator.cli.simulate_annotator",
    "propagate": "annotator.cli.propagate",
    "train-labeler": "machine_labeler.cli.train_labeler",
    "machine-label": "machine_labeler.cli.machine_label",
    "merge": "annotator.cli.merge",
    "bootstrap": "machine_labeler.cli.bootstrap",
    "evaluate": "annotator.cli.evaluate",
    "train-internet": "pose_net.cli.train_internet",
    "eval-internet": "pose_net.cli.eval_internet",
    "infer": "pose_net.cli.infer",
    "import-interhand": "annotator.cli.import_interhand",
    "export-interhand": "annotator.cli.export_interhand",
    "export-coco": "annotator.cli.export_coco",
    "synth": "annotator.cli.synth",
}


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator",
        description="Multi-view 3D hand keypoint annotation toolkit (InterHand2.6M-style).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMANDS.values():
        module = importlib.import_module(module_name)
        subparser = module.register(sub)
        subparser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except Exception as exc:
        # One clear line, no traceback, for every error the user can fix.
        if not isinstance(exc, _user_errors()):
            raise
        print(f"annotator {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors the user can fix (imported here: the store is heavy, ``--help`` must not be)."""
    from annotator.store.errors import ProjectLockedError

    return (CliError, ValueError, OSError, ProjectLockedError)


if __name__ == "__main__":  # pragma: no cover
    # ``python -m annotator.cli.main``: run the imported module's main, so that CliError
    # raised by the commands (imported from annotator.cli.main) is the class caught here.
    from annotator.cli.main import main as _main

    sys.exit(_main())
