"""``annotator train-internet``: placeholder until its issue lands."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train-internet", help="(being built)", add_help=True)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.cli.main import CliError

    raise CliError("'train-internet' is not built yet")
