"""Builders shared by the labelling / merge / evaluation tests (helper B2's tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from annotator import skeleton
from annotator.cli.main import main
from annotator.store import ProjectStore
from annotator.store.machine_shards import ShardRecords

__all__ = ["make_synth", "copy_project", "records_from_truth", "make_detector_checkpoint"]


def make_synth(
    path: Path,
    cameras: int = 12,
    instants: int = 8,
    subjects: int = 2,
    width: int = 256,
    height: int = 168,
    seed: int = 0,
) -> Path:
    """A rendered synthetic project with ground truth (a few seconds)."""
    rc = main(
        [
            "synth",
            str(path),
            "--cameras",
            str(cameras),
            "--instants",
            str(instants),
            "--subjects",
            str(subjects),
            "--width",
            str(width),
            "--height",
            str(height),
            "--seed",
            str(seed),
            "--workers",
            "1",
        ]
    )
    assert rc == 0
    return Path(path)


def copy_project(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)


def records_from_truth(
    store: ProjectStore,
    instants,
    offset_mm=None,
    px_noise: float = 0.0,
    seed: int = 0,
    quality=None,
) -> ShardRecords:
    """Machine results made from the ground truth: 3D = truth + ``offset_mm`` (J, 3) or
    (F, J, 3); detections = true projections + Gaussian pixel noise, confidence 1."""
    instants = np.asarray(instants, np.int64)
    rng = np.random.default_rng(seed)
    F, C, J = len(instants), len(store.camera_names), skeleton.NUM_JOINTS
    joints = np.full((F, J, 3), np.nan)
    uv = np.full((F, C, J, 2), np.nan, np.float32)
    conf = np.zeros((F, C, J), np.float32)
    present = np.zeros((F, 2), np.int8)
    for k, i in enumerate(instants.tolist()):
        gt = store.ground_truth(i)
        joints[k] = gt.joints_world_mm
        ok = np.isfinite(gt.uv_px).all(-1)
        uv[k] = gt.uv_px + rng.normal(0, px_noise, gt.uv_px.shape) * ok[..., None]
        conf[k] = ok.astype(np.float32)
        present[k] = gt.hand_present
    if offset_mm is not None:
        joints = joints + np.broadcast_to(np.asarray(offset_mm, float), joints.shape)
    inliers = np.where(np.isfinite(joints).all(-1), C, 0).astype(np.int16)
    q = np.zeros((F, J), np.uint8) if quality is None else np.asarray(quality, np.uint8)
    return ShardRecords(
        instants=instants,
        uv_px=uv,
        confidence=conf,
        joints_world_mm=joints,
        inliers=inliers,
        reproj_error_px=np.zeros((F, J), np.float32),
        quality=q,
        hand_present=present,
        meta={"threshold_px": 4.0},
    )


def make_detector_checkpoint(project: Path, seed: int = 0, config_name: str = "cpu-small"):
    """An untrained cpu-small detector saved as the project's newest labeler checkpoint.

    Random init leaves the last layer near zero (flat heatmaps); it is redrawn larger so
    the heatmaps, and so the detections and confidences, depend on the image: the plumbing
    (sharding, lifting, merging) then carries real, image-dependent numbers.
    """
    import torch

    from machine_labeler.checkpoint import CHECKPOINT_NAME, new_run_dir, save_checkpoint
    from machine_labeler.config import get_config
    from machine_labeler.model import KeypointDetector

    torch.manual_seed(seed)
    config = get_config(config_name)
    model = KeypointDetector(config).eval()
    with torch.no_grad():
        model.final.weight.normal_(0.0, 0.3)
        model.final.bias.fill_(0.5)
    with ProjectStore.open(project) as store:
        models = store.models_dir
    return save_checkpoint(new_run_dir(models, config.name) / CHECKPOINT_NAME, model, config)
