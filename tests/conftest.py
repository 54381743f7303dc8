"""Shared pytest fixtures: where the real-data samples are, offscreen Qt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]


def _realdata_root() -> Path:
    env = os.environ.get("ANNOTATOR_REALDATA")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """``../shared/realdata`` (or ``$ANNOTATOR_REALDATA``); skips the test when absent."""
    root = _realdata_root()
    if not root.is_dir():
        pytest.skip(f"real-data samples not found at {root} (set ANNOTATOR_REALDATA)")
    return root


@pytest.fixture(scope="session")
def realdata_dir(realdata: Path):
    """A function returning one sample folder, skipping when that folder is absent."""

    def get(name: str) -> Path:
        path = realdata / name
        if not path.is_dir():
            pytest.skip(f"real-data sample {name!r} not found at {path}")
        return path

    return get
