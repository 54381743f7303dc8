"""Tiny projects for the pose_net data / training / evaluation tests (helper C2's tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from annotator.cli.main import main


def synth_project(path: Path, cameras: int = 6, instants: int = 6, subjects: int = 2) -> Path:
    """A synthetic studio project (JPEG images, exact ground truth), rendered in ~2 s."""
    rc = main(["synth", str(path), "--cameras", str(cameras), "--instants", str(instants),
               "--subjects", str(subjects), "--workers", "1", "--width", "256",
               "--height", "168"])
    assert rc == 0
    return path


def without_distortion(path: Path) -> Path:
    """Rewrite the project's cameras.toml with zero lens distortion (the images stay): the
    InterHand2.6M camera format has no distortion, so only such a project and its export
    describe the same cameras."""
    from triangulation import Camera, CameraRig, load_rigs, save_rigs

    rigs = load_rigs(path / "cameras.toml")
    plain = {
        cap: CameraRig([Camera(c.name, c.width, c.height, c.K, np.zeros(5), c.R, c.t)
                        for c in rig])
        for cap, rig in rigs.items()
    }
    save_rigs(plain, path / "cameras.toml")
    return path


def ground_truth_as_human(path: Path, instants=None) -> None:
    """Copy the studio's ground truth into human labels (3D joints and hand flags)."""
    from annotator.skeleton import HANDS
    from annotator.store import ProjectStore

    with ProjectStore.open(path, mode="w") as store:
        for i in range(store.num_instants) if instants is None else instants:
            gt = store.ground_truth(i)
            store.set_joints_3d(i, gt.joints_world_mm, source="human", annotator="gt")
            for h, hand in enumerate(HANDS):
                store.set_hand_present(i, hand, bool(gt.hand_present[h]))


def interhand_sample_root(sample_dir: Path, root: Path, split: str = "test") -> Path:
    """The real InterHand2.6M sample (flat files) put into the official layout."""
    ann = root / "annotations" / split
    ann.mkdir(parents=True)
    for kind in ("data", "camera", "joint_3d"):
        shutil.copy(sample_dir / f"test_interhand2.6m_{kind}.json",
                    ann / f"InterHand2.6M_{split}_{kind}.json")
    images = root / "images" / split
    images.mkdir(parents=True)
    for jpg in sample_dir.glob("*.jpg"):
        shutil.copy(jpg, images / jpg.name)
    return root


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: the suite runs beside other processes (``pytest -n 2`` on two
    cores), where OpenMP's spinning threads make a forward pass ~10x slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
