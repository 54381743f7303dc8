"""The file names exports write for a project's images: relative to the export's image root
where an image lies under it, a given fallback name otherwise (InterHand2.6M and COCO)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["relative_image_name"]


def relative_image_name(path: Path, root: Path, fallback: str) -> str:
    """``path`` relative to ``root`` in POSIX form, or ``fallback`` if it lies outside."""
    try:
        return Path(os.path.relpath(path, root)).as_posix() if _inside(path, root) else fallback
    except ValueError:  # other drive (Windows)
        return fallback


def _inside(path: Path, root: Path) -> bool:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return not rel.startswith("..")
