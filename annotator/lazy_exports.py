"""Lazy public names for a package (PEP 562): a package whose modules import torch exports
its names without importing them until one is used, so that ``annotator --help`` and the
light commands stay fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: name ``n`` of ``where`` is imported from
    module ``where[n]`` on first use; any other name is an AttributeError."""

    def getattr_(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        return sorted(where)

    return getattr_, dir_
