"""A synthetic capture big enough for a team (8 cameras, 24 instants), rendered once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.synth_project import copy_project, synth_project

TEAM_SYNTH = {"cameras": 8, "instants": 24, "subjects": 2, "seed": 5, "width": 256,
              "height": 168}


@pytest.fixture(scope="session")
def team_master(tmp_path_factory) -> Path:
    """Read-only synthetic project for team tests (ground truth, no labels)."""
    return synth_project(tmp_path_factory.mktemp("team-synth"), **TEAM_SYNTH)


@pytest.fixture
def team_project(team_master: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`team_master`."""
    return copy_project(team_master, tmp_path / "proj")
