"""Integer and threshold arguments: one clear ValueError for every kind of wrong value."""

from __future__ import annotations

import numpy as np
import pytest

from tests._support.rigs import cube_points, dome_rig
from triangulation import epipolar_line, in_front, project, triangulate, triangulate_ransac
from triangulation.results import threads

RIG = dome_rig(6)
UV = project(cube_points(5), RIG)


@pytest.mark.parametrize("bad", [1.5, float("nan"), None, "3", True, 1])
def test_min_inliers_rejects_non_integers_and_too_small(bad):
    with pytest.raises(ValueError, match="min_inliers must be an integer >= 2"):
        triangulate_ransac(UV, RIG, min_inliers=bad)


@pytest.mark.parametrize("bad", [None, -1, 0.5])
def test_refine_iterations_checked(bad):
    with pytest.raises(ValueError, match="refine_iterations must be an integer >= 0"):
        triangulate_ransac(UV, RIG, refine_iterations=bad)


@pytest.mark.parametrize("bad", ["4", float("inf"), 0.0, None])
def test_threshold_px_checked(bad):
    with pytest.raises(ValueError, match="threshold_px must be a positive number"):
        triangulate_ransac(UV, RIG, threshold_px=bad)


def test_regression_fractional_chunk_was_silently_truncated():
    with pytest.raises(ValueError, match="chunk must be an integer >= 1"):
        triangulate(UV, RIG, chunk=1.5)
    # integral floats are fine and give the same answer as the default blocking
    np.testing.assert_array_equal(
        triangulate(UV, RIG, chunk=2.0).points_world_mm, triangulate(UV, RIG).points_world_mm
    )


def test_threads_and_epipolar_samples_checked():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        with threads(0.5):
            pass
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2"):
        epipolar_line(UV[0, 0], RIG, 0, 1, n_samples=2.5)


def test_in_front_in_blocks_matches_one_pass():
    # 30,000 points: three blocks of 10,922 at 6 views
    pts = np.concatenate([cube_points(29999), [[np.nan, 0.0, 0.0]]]).reshape(-1, 10, 3)
    z = np.einsum("cj,...j->...c", RIG.R[:, 2, :], pts) + RIG.t[:, 2]
    mask = in_front(pts, RIG)
    assert mask.shape == pts.shape[:-1] + (len(RIG),)
    np.testing.assert_array_equal(mask, z > 1e-6)
    assert not mask.reshape(-1, len(RIG))[-1].any()  # NaN point: in front of no camera
