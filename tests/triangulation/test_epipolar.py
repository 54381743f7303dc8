"""fundamental_matrix and the distortion-aware epipolar polyline."""

from __future__ import annotations

import numpy as np
import pytest

from tests._support.rigs import cube_points, dome_rig
from triangulation import epipolar_line, fundamental_matrix, project, undistort_points

RIG = dome_rig(n_cameras=4, distortion=3.0, seed=2)


def test_fundamental_matrix_on_undistorted_pixels():
    X = cube_points(100)
    xy = undistort_points(project(X, RIG), RIG)
    ideal = np.einsum("cij,ncj->nci", RIG.K, np.concatenate([xy, np.ones((100, 4, 1))], -1))
    F = fundamental_matrix(RIG[0], RIG[2])
    residual = np.einsum("ni,ij,nj->n", ideal[:, 2], F, ideal[:, 0])
    assert np.abs(residual).max() < 1e-9
    assert np.linalg.matrix_rank(F, tol=1e-10) == 2


def test_the_polyline_passes_through_the_true_projection():
    X = cube_points(5)
    uv = project(X, RIG)
    line = epipolar_line(uv[:, 0], RIG, RIG.names[0], RIG.names[1], n_samples=2000)
    assert line.shape == (5, 2000, 2)
    # distance from the true point in camera 1 to the polyline's segments
    a, b, p = line[:, :-1], line[:, 1:], uv[:, 1, None]
    t = np.clip(((p - a) * (b - a)).sum(-1) / ((b - a) ** 2).sum(-1), 0, 1)
    dist = np.linalg.norm(a + t[..., None] * (b - a) - p, axis=-1)
    assert np.nanmin(dist, axis=1).max() < 0.05


def test_epipolar_line_rejects_same_camera_and_bad_input():
    with pytest.raises(ValueError, match="two different cameras"):
        epipolar_line([10.0, 10.0], RIG, 0, 0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        epipolar_line([10.0, 10.0, 1.0], RIG, 0, 1)
    with pytest.raises(KeyError):
        epipolar_line([10.0, 10.0], RIG, "nope", 1)


def test_regression_numpy_integer_camera_index_was_looked_up_as_a_name():
    uv = project(cube_points(1), RIG)[0, 0]
    expected = epipolar_line(uv, RIG, 0, 1)
    np.testing.assert_array_equal(epipolar_line(uv, RIG, np.int64(0), np.intp(1)), expected)
