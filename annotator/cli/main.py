"""The ``annotator`` command line: commands found as entry points, heavy imports deferred.

A command is a module with ``register(subparsers) -> ArgumentParser`` (adds its parser,
importing nothing heavy) and ``run(args) -> int``, declared in ``pyproject.toml``::

    [project.entry-points."annotator.commands"]
    machine-label = "machine_labeler.cli.machine_label"

The entry point's name is the command's. Commands of the upper layers (the app in ``gui``,
the machine stage in ``machine_labeler``, the networks in ``pose_net``) are found this way
like the store's own, so ``annotator`` never imports those packages (the layer contract in
pyproject.toml); another installed package can add commands the same way. A module's
``ORDER`` (an int) places it in ``--help`` (the workflow's order; plugins without one last).
Command modules take their shared pieces (:class:`CliError`, argument types, output checks,
the progress bar) from :mod:`annotator.cli.support`.

``main(argv)`` is what the console script calls and what the tests call in-process.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from types import ModuleType

from annotator import __version__
from annotator.cli.support import CliError

__all__ = ["main", "build_parser", "commands", "ENTRY_POINT_GROUP"]

#: The entry-point group that declares commands.
ENTRY_POINT_GROUP = "annotator.commands"
_LAST = 10_000


def commands() -> dict[str, ModuleType]:
    """Command name -> its module, in ``--help`` order.

    Raises RuntimeError when none is declared (the package is not installed: its entry
    points are written by ``pip install``) or when two modules claim one name.
    """
    found: dict[str, ModuleType] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            raise RuntimeError(f"two packages declare the command {ep.name!r}")
        module = ep.load()
        for attr in ("register", "run"):
            if not callable(getattr(module, attr, None)):
                raise RuntimeError(f"command {ep.name!r} ({ep.value}) has no {attr}() function")
        found[ep.name] = module
    if not found:
        raise RuntimeError(
            f"no {ENTRY_POINT_GROUP!r} entry points: install the toolkit "
            "(pip install -e . in its folder) so that its commands are declared"
        )
    order = sorted(found, key=lambda name: (getattr(found[name], "ORDER", _LAST), name))
    return {name: found[name] for name in order}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator",
        description="Multi-view 3D hand keypoint annotation toolkit (InterHand2.6M-style).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--version", action="version", version=f"annotator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in commands().items():
        subparser = module.register(sub)
        if subparser.prog.split()[-1] != name:
            raise RuntimeError(f"entry point {name!r} registers {subparser.prog!r}")
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
