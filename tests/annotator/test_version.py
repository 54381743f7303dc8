"""One version: annotator.__version__, the installed metadata, --version and checkpoints."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import annotator
from annotator.version import code_version

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_takes_the_version_from_the_package():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "annotator.__version__"}
    assert version("interhand-annotator") == annotator.__version__


def test_cli_version_and_code_version_agree():
    out = subprocess.run([sys.executable, "-m", "annotator.cli.main", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"annotator {annotator.__version__}"
    assert code_version().split("+")[0] == annotator.__version__


def test_pose_net_checkpoints_record_the_code_version(tmp_path):
    pytest.importorskip("torch")
    from pose_net.checkpoint import load_checkpoint, save_checkpoint
    from pose_net.config import get_config
    from pose_net.internet import InterNet

    path = save_checkpoint(tmp_path / "c.pth", InterNet(get_config("cpu-small")))
    loaded = load_checkpoint(path)
    assert loaded.code_version == code_version() and "code_version" not in loaded.extra


def test_license_file_is_the_declared_license():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
