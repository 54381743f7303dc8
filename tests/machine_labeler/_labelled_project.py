"""Human-like 3D labels from a synthetic project's ground truth (for tests and benchmarks
while no simulated annotator is at hand): each joint of a present hand is clicked in
``views`` random cameras where it is visible, with Gaussian pixel noise, and triangulated."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annotator.skeleton import HANDS, hand_slice
from annotator.store import ProjectStore
from triangulation import triangulate


def label_from_ground_truth(
    project: str | Path,
    fraction: float = 0.25,
    views: int = 2,
    noise_px: float = 1.5,
    seed: int = 0,
    instants: np.ndarray | None = None,
) -> np.ndarray:
    """Write human 3D joints for a ``fraction`` of instants (or the given ones); returns them."""
    rng = np.random.default_rng(seed)
    with ProjectStore.open(project, mode="w") as store:
        n = store.num_instants
        if instants is None:
            k = max(1, int(round(fraction * n)))
            instants = np.sort(rng.choice(n, size=k, replace=False))
        for i in instants:
            i = int(i)
            gt = store.ground_truth(i)
            cap = store.instant(i).capture
            rig = store.rig(cap)
            mask = store.camera_mask(cap)
            vis = gt.visible[mask]  # (C_rig, J)
            uv_gt = gt.uv_px[mask]
            J = gt.joints_world_mm.shape[0]
            uv = np.full((J, len(rig), 2), np.nan)
            for j in range(J):
                cams = np.nonzero(vis[:, j])[0]
                if cams.size < 2:
                    cams = np.nonzero(np.all(np.isfinite(uv_gt[:, j]), axis=1))[0]
                if cams.size < 2:
                    continue
                pick = rng.choice(cams, size=min(views, cams.size), replace=False)
                uv[j, pick] = uv_gt[pick, j] + rng.normal(0, noise_px, size=(pick.size, 2))
            joints = triangulate(uv, rig).points_world_mm
            for h, hand in enumerate(HANDS):
                present = bool(gt.hand_present[h])
                store.set_hand_present(i, hand, present)
                if not present:
                    joints[hand_slice(hand)] = np.nan
            store.set_joints_3d(i, joints, source="human", annotator="simulated")
    return np.asarray(instants, dtype=np.int64)
