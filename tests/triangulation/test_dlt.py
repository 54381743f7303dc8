"""triangulate: exactness, OpenCV and aniposelib agreement, missing views, validation."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._support.rigs import cube_points, dome_rig
from triangulation import project, triangulate, undistort_points

RIG = dome_rig(n_cameras=8, n_dist=8, distortion=2.0, seed=3)


def _scale(X):
    return np.abs(X).max() + 1.0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-200, 200), min_size=3, max_size=3),
    st.integers(0, 2**32 - 1),
)
def test_noise_free_views_give_the_point_back(point, seed):
    X = np.array(point)
    rng = np.random.default_rng(seed)
    uv = project(X, RIG)
    drop = rng.permutation(len(RIG))[: rng.integers(0, len(RIG) - 1)]  # keep >= 2 views
    uv[drop] = np.nan
    tri = triangulate(uv, RIG)
    np.testing.assert_allclose(tri.points_world_mm, X, rtol=0, atol=1e-9 * _scale(X))
    assert tri.n_views == len(RIG) - len(drop)
    np.testing.assert_array_equal(tri.inliers, ~np.isnan(uv[:, 0]))
    assert np.nanmax(tri.reproj_error_px) < 1e-8


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(8))), st.integers(0, 2**32 - 1))
def test_permuting_views_changes_nothing(perm, seed):
    rng = np.random.default_rng(seed)
    X = cube_points(20, seed=seed % 1000)
    uv = project(X, RIG) + rng.normal(0, 1.0, (20, len(RIG), 2))
    uv[rng.random((20, len(RIG))) < 0.3] = np.nan
    w = rng.uniform(0.1, 1.0, (20, len(RIG)))
    a = triangulate(uv, RIG, weights=w)
    rig_p = RIG.subset([RIG.names[i] for i in perm])
    b = triangulate(uv[:, perm], rig_p, weights=w[:, perm])
    np.testing.assert_allclose(a.points_world_mm, b.points_world_mm, rtol=1e-10, atol=1e-9)
    np.testing.assert_array_equal(a.inliers[:, perm], b.inliers)
    np.testing.assert_allclose(a.reproj_error_px[:, perm], b.reproj_error_px, atol=1e-8)


def test_fewer_than_two_views_and_all_nan_give_nan_without_warnings():
    uv = np.full((3, len(RIG), 2), np.nan)
    uv[1, 4] = [100.0, 100.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tri = triangulate(uv, RIG)
    assert np.isnan(tri.points_world_mm).all()
    np.testing.assert_array_equal(tri.n_views, [0, 0, 0])
    assert not tri.inliers.any()
    assert np.isnan(tri.reproj_error_px[1]).all()


def test_zero_weight_drops_a_view():
    X = cube_points(50)
    uv = project(X, RIG)
    uv[:, 2] += 40.0  # a wrong view ...
    w = np.ones((50, len(RIG)))
    w[:, 2] = 0.0  # ... that is weighted out
    tri = triangulate(uv, RIG, weights=w)
    np.testing.assert_allclose(tri.points_world_mm, X, atol=1e-9 * _scale(X))
    assert not tri.inliers[:, 2].any() and (tri.n_views == len(RIG) - 1).all()


def test_two_views_equal_cv2_triangulatePoints():
    rng = np.random.default_rng(5)
    X = cube_points(300)
    uv = project(X, RIG)[:, :2] + rng.normal(0, 1.5, (300, 2, 2))
    sub = RIG[:2]
    xy = undistort_points(uv, sub)
    P = [np.hstack([cam.R, cam.t[:, None]]) for cam in sub]
    h = cv2.triangulatePoints(P[0], P[1], xy[:, 0].T.copy(), xy[:, 1].T.copy())
    ref = (h[:3] / h[3]).T
    np.testing.assert_allclose(triangulate(uv, sub).points_world_mm, ref, rtol=0, atol=1e-8)


def test_equals_a_plain_svd_dlt_with_noise():
    rng = np.random.default_rng(6)
    X = cube_points(200)
    uv = project(X, RIG) + rng.normal(0, 2.0, (200, len(RIG), 2))
    xy = undistort_points(uv, RIG)
    P = np.concatenate([RIG.R, RIG.t[:, :, None]], 2)
    A = np.concatenate(
        [xy[..., 0, None] * P[:, 2] - P[:, 0], xy[..., 1, None] * P[:, 2] - P[:, 1]], axis=1
    )
    v = np.linalg.svd(A)[2][:, -1]
    np.testing.assert_allclose(
        triangulate(uv, RIG).points_world_mm, v[:, :3] / v[:, 3:], rtol=0, atol=1e-8
    )


def test_batch_shape_and_chunking_give_the_same_answer():
    rng = np.random.default_rng(7)
    X = cube_points(600).reshape(2, 300, 3)
    uv = project(X, RIG) + rng.normal(0, 1.0, (2, 300, len(RIG), 2))
    a = triangulate(uv, RIG)
    b = triangulate(uv, RIG, chunk=7)
    assert a.points_world_mm.shape == (2, 300, 3) and a.n_views.shape == (2, 300)
    np.testing.assert_allclose(a.points_world_mm, b.points_world_mm, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"uv_px": np.zeros((4, 7, 2))}, "rig has 8 cameras"),
        ({"uv_px": np.zeros((4, 8))}, r"\(\.\.\., C, 2\)"),
        ({"uv_px": np.full((1, 8, 2), np.inf)}, "inf"),
        ({"weights": -np.ones((1, 8))}, ">= 0"),
        ({"weights": np.ones((1, 3))}, "does not broadcast"),
        ({"weights": np.full((1, 8), np.inf)}, "weights contains inf"),
        ({"chunk": 0}, "chunk"),
    ],
)
def test_triangulate_rejects_bad_input(kwargs, match):
    args = {"uv_px": np.zeros((1, 8, 2)), "rig": RIG} | kwargs
    with pytest.raises(ValueError, match=match):
        triangulate(**args)


def test_rig_must_be_a_camera_rig():
    with pytest.raises(ValueError, match="CameraRig"):
        triangulate(np.zeros((1, 2, 2)), list(RIG)[:2])


def test_progress_is_reported_per_block_up_to_the_total():
    uv = project(cube_points(1000), RIG)
    seen: list[tuple[int, int]] = []
    triangulate(uv, RIG, chunk=300, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]
