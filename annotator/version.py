"""The toolkit's version, from one place: ``annotator.__version__``.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``annotator --version`` prints
it, and every checkpoint records :func:`code_version`: the version, plus ``git describe`` when
the code runs from a git checkout of this project (an installed wheel has none).
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from annotator import __version__

__all__ = ["__version__", "code_version"]


@cache
def code_version() -> str:
    """``__version__``, with ``+<git describe --always --dirty>`` in a git checkout."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists() or not (root / "pyproject.toml").is_file():
        return __version__  # installed (a wheel in site-packages): no checkout to describe
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return __version__
    described = out.stdout.strip()
    return f"{__version__}+{described}" if out.returncode == 0 and described else __version__
