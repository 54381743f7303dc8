"""project / in_front / in_image against OpenCV and by construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests._support.rigs import cube_points, dome_rig
from triangulation import Camera, CameraRig, in_front, in_image, project, reprojection_error


@pytest.mark.parametrize("n_dist", [4, 5, 8, 12])
def test_project_matches_cv2_projectPoints(n_dist):
    rig = dome_rig(n_cameras=6, n_dist=n_dist, distortion=3.0, seed=n_dist)
    X = cube_points(500, side_mm=400.0)
    uv = project(X, rig)
    assert uv.shape == (500, 6, 2)
    for c, cam in enumerate(rig):
        rvec = cv2.Rodrigues(cam.R)[0]
        ref = cv2.projectPoints(X, rvec, cam.t, cam.K, cam.dist)[0][:, 0]
        np.testing.assert_allclose(uv[:, c], ref, rtol=0, atol=1e-9)


def test_project_any_batch_shape():
    rig = dome_rig(n_cameras=3)
    X = cube_points(24).reshape(2, 3, 4, 3)
    uv = project(X, rig)
    assert uv.shape == (2, 3, 4, 3, 2)
    np.testing.assert_array_equal(uv.reshape(-1, 3, 2), project(X.reshape(-1, 3), rig))
    assert project(X[0, 0, 0], rig).shape == (3, 2)


def _camera_at_origin_looking_down_z(**kw) -> Camera:
    K = [[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]]
    return Camera("front", 640, 480, K, kw.get("dist", np.zeros(5)))


def test_points_behind_the_camera_are_nan_and_never_in_image():
    rig = CameraRig([_camera_at_origin_looking_down_z(dist=[-0.3, 0.1, 0, 0, 0])])
    pts = np.array([[0.0, 0.0, 1000.0], [0.0, 0.0, -1000.0], [10.0, 5.0, -1.0], [1.0, 1.0, 0.0]])
    uv = project(pts, rig)
    assert np.isfinite(uv[0]).all()
    assert np.isnan(uv[1:]).all()
    np.testing.assert_array_equal(in_front(pts, rig)[:, 0], [True, False, False, False])
    np.testing.assert_array_equal(in_image(uv, rig)[:, 0], [True, False, False, False])


def test_in_image_edges_and_margin():
    rig = CameraRig([_camera_at_origin_looking_down_z()])
    uv = np.array([[[-0.5, -0.5]], [[639.5, 479.5]], [[639.6, 10.0]], [[5.0, 5.0]], [[np.nan, 1]]])
    np.testing.assert_array_equal(in_image(uv, rig)[:, 0], [True, True, False, True, False])
    np.testing.assert_array_equal(in_image(uv, rig, margin_px=10)[:, 0], [False] * 5)


def test_skew_is_applied():
    K = [[1000.0, 25.0, 320.0], [0.0, 990.0, 240.0], [0.0, 0.0, 1.0]]
    rig = CameraRig([Camera("skewed", 640, 480, K)])
    X = np.array([[30.0, -20.0, 500.0]])
    u = 1000.0 * 30 / 500 + 25.0 * (-20 / 500) + 320.0
    v = 990.0 * (-20 / 500) + 240.0
    np.testing.assert_allclose(project(X, rig)[0, 0], [u, v], atol=1e-12)


def test_reprojection_error_is_pixel_distance_and_nan_where_missing():
    rig = dome_rig(n_cameras=4)
    X = cube_points(10)
    uv = project(X, rig)
    uv[:, 0, 0] += 3.0
    uv[2, 1] = np.nan
    err = reprojection_error(X, uv, rig)
    np.testing.assert_allclose(err[:, 0], 3.0, atol=1e-9)
    assert np.isnan(err[2, 1]) and np.isfinite(err[3, 1])


def test_tilted_sensor_model_is_refused():
    dist = np.zeros(14)
    dist[12] = 0.01
    rig = CameraRig([_camera_at_origin_looking_down_z(dist=dist)])
    with pytest.raises(NotImplementedError, match="tilt"):
        project(np.zeros((1, 3)), rig)


@pytest.mark.parametrize(
    "points, match",
    [(np.zeros((4, 2)), r"\(\.\.\., 3\)"), (np.array([[0.0, 0.0, np.inf]]), "inf")],
)
def test_project_rejects_bad_points(points, match):
    with pytest.raises(ValueError, match=match):
        project(points, dome_rig(n_cameras=2))
