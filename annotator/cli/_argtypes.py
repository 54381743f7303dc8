"""argparse ``type=`` converters shared by the subcommands (stdlib only: ``--help`` stays light).

A bad value raises :class:`argparse.ArgumentTypeError`, which argparse prints as one line
naming the option, and exits 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["int_at_least", "positive_int"]


def int_at_least(minimum: int, what: str = "an integer") -> Callable[[str], int]:
    """A converter accepting integers ``>= minimum``; ``what`` names the value in errors."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {value}")
        return value

    convert.__name__ = f"int_at_least_{minimum}"  # argparse names the type in some errors
    return convert


#: Integers >= 1 (counts: cameras, instants, steps).
positive_int = int_at_least(1)
