"""Where a project keeps its trained models, readable without torch.

The machine labeller writes each training run to ``models/labeler/<timestamp>-<config>/``
with its checkpoint ``model.pt`` (``machine_labeler.checkpoint``). InterNet training starts
its trunk from the newest one (``train-internet --init-trunk labeler``), and the two are
sibling layers, so the lookup lives here, below both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotator.store.layout import runs_in

__all__ = ["LABELER_CHECKPOINT", "labeler_runs_dir", "newest_labeler_checkpoint"]

#: File name of a machine-labeller checkpoint inside its run folder.
LABELER_CHECKPOINT = "model.pt"


def labeler_runs_dir(models_dir: str | Path) -> Path:
    """The folder of the machine labeller's training runs (``models/labeler``)."""
    return runs_in(models_dir, "labeler")


def newest_labeler_checkpoint(store_or_models_dir: Any, config_name: str | None = None
                              ) -> Path | None:
    """Newest ``model.pt`` under ``models/labeler`` (by modification time), optionally of
    one config; None when there is none. Accepts a ProjectStore or its models folder."""
    models_dir = getattr(store_or_models_dir, "models_dir", store_or_models_dir)
    root = labeler_runs_dir(models_dir)
    if not root.is_dir():
        return None
    found = []
    for d in root.iterdir():
        ck = d / LABELER_CHECKPOINT
        if d.is_dir() and ck.is_file():
            if config_name is not None and not d.name.endswith("-" + config_name):
                continue
            found.append((ck.stat().st_mtime, d.name, ck))
    return max(found)[2] if found else None
