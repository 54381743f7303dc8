"""Small synthetic-studio projects (images + exact ground truth) for tests, built once.

``synth_project(root, **config)`` renders a project for a :class:`StudioConfig` under
``root`` the first time it is asked for and returns the same folder afterwards (treat it
as read-only); ``copy_project(master, dst)`` gives a test its own copy to edit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["synth_project", "copy_project", "SMALL_SYNTH"]

#: A studio that renders in a few seconds: 20 cameras, 6 instants, 2 subjects, 256x168 px.
SMALL_SYNTH = {"cameras": 20, "instants": 6, "subjects": 2, "seed": 3, "width": 256,
               "height": 168}


def synth_project(root: Path, **config) -> Path:
    """The project for ``StudioConfig(**config)`` under ``root`` (rendered on first use)."""
    from annotator.synth import StudioConfig, write_capture

    cfg = StudioConfig(**config)
    key = "synth-" + "-".join(f"{k}{v}" for k, v in sorted(vars(cfg).items()))
    out = Path(root) / key
    if not (out / "project.toml").exists():
        write_capture(out, cfg, workers=1)
    return out


def copy_project(master: Path, dst: Path) -> Path:
    """A private copy of ``master`` at ``dst`` (tests edit and save it)."""
    shutil.copytree(master, dst)
    return Path(dst)
