"""undistort_points: against cv2.undistortPoints with tight criteria, and round trips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests._support.rigs import cube_points, dome_rig
from triangulation import Camera, CameraRig, project, undistort_points

TIGHT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-16)


@pytest.mark.parametrize("n_dist", [5, 8, 12])
def test_undistort_matches_cv2_with_tight_criteria(n_dist):
    rig = dome_rig(n_cameras=5, n_dist=n_dist, distortion=3.0, seed=10 + n_dist)
    uv = project(cube_points(400, side_mm=400.0), rig)
    xy = undistort_points(uv, rig)
    for c, cam in enumerate(rig):
        pts = np.ascontiguousarray(uv[:, c])
        ref = cv2.undistortPoints(pts, cam.K, cam.dist, criteria=TIGHT)[:, 0]
        np.testing.assert_allclose(xy[:, c], ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("n_dist", [5, 8, 12])
def test_project_of_undistorted_ray_round_trips_to_1e9_px(n_dist):
    rig = dome_rig(n_cameras=5, n_dist=n_dist, distortion=3.0, seed=20 + n_dist)
    sizes = rig.sizes.astype(float)
    uv = np.random.default_rng(0).uniform(0, 1, (2000, len(rig), 2)) * (sizes - 1)
    xy = undistort_points(uv, rig)
    # a world point on each ray: camera frame (x, y, 1) * 700 mm, back to world
    ray_cam = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], -1) * 700.0
    pts_world = np.einsum("cji,ncj->nci", rig.R, ray_cam - rig.t)
    back = project(pts_world.reshape(-1, 3), rig).reshape(2000, len(rig), len(rig), 2)
    own = back[:, np.arange(len(rig)), np.arange(len(rig))]
    np.testing.assert_allclose(own, uv, rtol=0, atol=1e-9)


def test_strong_distortion_converges_where_cv2_default_does_not():
    K = [[770.0, 0.0, 639.5], [0.0, 770.0, 511.5], [0.0, 0.0, 1.0]]
    rig = CameraRig([Camera("wide", 1280, 1024, K, [-0.285, 0.0, 0.0, 0.0, 0.0])])
    uv = np.array([[[1000.0, 800.0]], [[250.0, 200.0]], [[640.0, 512.0]]])  # r_d up to 0.65
    xy = undistort_points(uv, rig)
    redo = project(np.concatenate([xy, np.ones((3, 1, 1))], -1) * 500.0, rig)[:, 0]
    np.testing.assert_allclose(redo, uv, atol=1e-9)
    cv_default = cv2.undistortPoints(np.ascontiguousarray(uv[:, 0]), rig.K[0], rig.dist[0])
    assert np.abs(cv_default[:, 0] - xy[:, 0]).max() > 1e-6  # five iterations are not enough


def test_beyond_the_fold_of_the_distortion_is_nan():
    # r_d = r (1 + k1 r²) peaks at 0.72 for k1 = -0.285: a pixel further out has no ray
    K = [[770.0, 0.0, 639.5], [0.0, 770.0, 511.5], [0.0, 0.0, 1.0]]
    rig = CameraRig([Camera("wide", 1280, 1024, K, [-0.285, 0.0, 0.0, 0.0, 0.0])])
    xy = undistort_points(np.array([[[1279.0, 1023.0]], [[700.0, 600.0]]]), rig)
    assert np.isnan(xy[0]).all() and np.isfinite(xy[1]).all()


def test_nan_propagates_and_shape_is_kept():
    rig = dome_rig(n_cameras=3)
    uv = project(cube_points(12).reshape(3, 4, 3), rig)
    uv[1, 2, 0] = np.nan
    xy = undistort_points(uv, rig)
    assert xy.shape == uv.shape
    assert np.isnan(xy[1, 2, 0]).all() and np.isfinite(xy[0]).all()


def test_undistort_without_distortion_only_removes_the_intrinsics():
    rig = dome_rig(n_cameras=2, distortion=0.0)
    uv = np.array([[[100.0, 50.0], [3.0, 300.0]]])
    xy = undistort_points(uv, rig)
    yd = (uv[..., 1] - rig.K[:, 1, 2]) / rig.K[:, 1, 1]
    xd = (uv[..., 0] - rig.K[:, 0, 2]) / rig.K[:, 0, 0]
    np.testing.assert_allclose(xy, np.stack([xd, yd], -1), rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "uv, match",
    [
        (np.zeros((5, 3, 2)), "rig has 2 cameras"),
        (np.zeros((5, 2, 3)), r"\(\.\.\., C, 2\)"),
        (np.full((1, 2, 2), np.inf), "inf"),
    ],
)
def test_undistort_rejects_bad_input(uv, match):
    with pytest.raises(ValueError, match=match):
        undistort_points(uv, dome_rig(n_cameras=2))
