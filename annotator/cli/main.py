"""The ``annotator`` command line: one module per subcommand, heavy imports deferred.

Each subcommand module in this package defines ``register(subparsers)`` (adds its parser,
importing nothing heavy) and ``run(args) -> int``. ``main(argv)`` is what the console script
calls and what the tests call in-process.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS: tuple[str, ...] = (
    "init",
    "status",
    "propagate",
    "import-interhand",
    "export-interhand",
    "export-coco",
    "synth",
)


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator",
        description="Multi-view 3D hand keypoint annotation toolkit (InterHand2.6M-style).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"annotator.cli.{name.replace('-', '_')}")
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
    sys.exit(main())
