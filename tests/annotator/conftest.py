"""Fixtures shared by the annotator tests: one small synthetic project per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.synth_project import SMALL_SYNTH, copy_project, synth_project


@pytest.fixture(scope="session")
def synth_master(tmp_path_factory) -> Path:
    """Read-only small synthetic project (20 cameras, 6 instants, ground truth)."""
    return synth_project(tmp_path_factory.mktemp("synth"), **SMALL_SYNTH)


@pytest.fixture
def synth_copy(synth_master: Path, tmp_path: Path) -> Path:
    """A private, editable copy of :func:`synth_master`."""
    return copy_project(synth_master, tmp_path / "proj")
