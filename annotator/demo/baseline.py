"""A mean-pose predictor for InterNet's task, to show the network learns something.

InterNet predicts, from one crop, each hand's joints relative to its own wrist in camera
space. The constant predictor here outputs, for every crop, the mean wrist-relative
camera-space pose of each hand over the training subjects' views; its MPJPE on the held-out
subjects' views is what a network that learned nothing from the image would score.

Samples are (instant, camera) pairs where the hand is present and at least half of its
joints are visible in that view (the same rule for training and test); metrics follow
InterHand2.6M's evaluation: per joint the mean over its samples, then the mean over joints,
single-hand and interacting instants separately ("all": per joint over both together).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from annotator.skeleton import HANDS, NUM_JOINTS, ROOT_INDEX, hand_slice
from annotator.store import ProjectStore

__all__ = ["mean_pose_baseline"]


def _samples(store: ProjectStore, subjects: Sequence[int]):
    """Yield (hand index, rel (J_hand, 3) camera mm, interacting) for every valid view."""
    subject = store.instant_attr("subject")
    names = store.camera_names
    for i in np.flatnonzero(np.isin(subject, list(subjects))):
        gt = store.ground_truth(int(i))
        rig = store.rig(store.instant(int(i)).capture)
        cols = [names.index(n) for n in rig.names]
        R = np.stack([cam.R for cam in rig])  # (C, 3, 3)
        t = np.stack([cam.t for cam in rig])  # (C, 3)
        cam = np.einsum("cab,jb->cja", R, gt.joints_world_mm) + t[:, None, :]  # (C, J, 3)
        interacting = bool(np.all(gt.hand_present))
        for h, hand in enumerate(HANDS):
            if not gt.hand_present[h]:
                continue
            sl = hand_slice(hand)
            rel = cam[:, sl] - cam[:, ROOT_INDEX[hand]][:, None, :]
            vis = gt.visible[cols][:, sl].mean(axis=1) >= 0.5
            for c in np.flatnonzero(vis):
                yield h, rel[c], interacting


def mean_pose_baseline(
    project_dir, train_subjects: Sequence[int], test_subjects: Sequence[int]
) -> dict:
    """MPJPE (mm) of the constant mean-pose predictor: ``{"mpjpe_all", "mpjpe_single",
    "mpjpe_interacting", "samples"}`` (NaN for a group without samples)."""
    with ProjectStore.open(project_dir, mode="r") as store:
        train: dict[int, list[np.ndarray]] = {0: [], 1: []}
        for h, rel, _ in _samples(store, train_subjects):
            train[h].append(rel)
        mean = {h: np.mean(v, axis=0) if v else None for h, v in train.items()}
        errs: dict[bool, list[np.ndarray]] = {False: [], True: []}
        for h, rel, interacting in _samples(store, test_subjects):
            if mean[h] is not None:
                row = np.full(NUM_JOINTS, np.nan)  # one sample fills its own hand's joints
                row[hand_slice(HANDS[h])] = np.linalg.norm(rel - mean[h], axis=1)
                errs[interacting].append(row)

    def mpjpe(groups: list[np.ndarray]) -> float:
        # per joint the mean over the samples where it is valid, then the mean over joints
        if not groups:
            return float("nan")
        stacked = np.stack(groups)
        seen = np.isfinite(stacked).any(axis=0)
        return float(np.nanmean(stacked[:, seen], axis=0).mean())

    return {
        "mpjpe_all": mpjpe(errs[False] + errs[True]),
        "mpjpe_single": mpjpe(errs[False]),
        "mpjpe_interacting": mpjpe(errs[True]),
        "samples": len(errs[False]) + len(errs[True]),
    }
