"""triangulate_ransac: outlier rejection, missing data, confidence, validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._support.rigs import cube_points, dome_rig
from triangulation import in_image, project, triangulate, triangulate_ransac

RIG = dome_rig(n_cameras=10, seed=4)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 9), st.floats(30.0, 300.0), st.integers(0, 2**32 - 1))
def test_a_corrupted_view_is_rejected(bad_view, offset_px, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-100, 100, 3)
    uv = project(X, RIG) + rng.normal(0, 0.3, (len(RIG), 2))
    direction = rng.normal(size=2)
    uv[bad_view] += offset_px * direction / np.linalg.norm(direction)
    tri = triangulate_ransac(uv, RIG, threshold_px=4.0)
    assert not tri.inliers[bad_view]
    assert tri.inliers.sum() == len(RIG) - 1 == tri.n_views
    assert tri.reproj_error_px[bad_view] > 20.0
    assert np.linalg.norm(tri.points_world_mm - X) < 1.0


def test_noise_free_is_exact_and_keeps_every_view():
    X = cube_points(200)
    uv = project(X, RIG)
    tri = triangulate_ransac(uv, RIG)
    np.testing.assert_allclose(tri.points_world_mm, X, rtol=0, atol=1e-8)
    assert tri.inliers.all() and (tri.n_views == len(RIG)).all()


def test_many_outliers_with_many_views():
    rig = dome_rig(n_cameras=40, seed=8)
    rng = np.random.default_rng(0)
    X = cube_points(2000, side_mm=200.0)
    clean = project(X, rig) + rng.normal(0, 1.0, (2000, 40, 2))
    uv = clean.copy()
    bad = rng.random((2000, 40)) < 0.2
    uv[bad] = rng.uniform(0, 1, (bad.sum(), 2)) * rig.sizes[np.nonzero(bad)[1]]
    uv[~in_image(clean, rig)] = np.nan
    tri = triangulate_ransac(uv, rig)
    err = np.linalg.norm(tri.points_world_mm - X, axis=1)
    oracle = clean.copy()
    oracle[bad | ~in_image(clean, rig)] = np.nan
    err_oracle = np.linalg.norm(triangulate(oracle, rig).points_world_mm - X, axis=1)
    assert np.isnan(err).mean() < 0.01
    assert np.nanmedian(err) < 1.1 * np.median(err_oracle)
    assert np.nanpercentile(err, 99) < 3 * np.percentile(err_oracle, 99)
    # the outliers were found: few false inliers, few inliers missed
    observed = ~np.isnan(uv[..., 0])
    valid = np.isfinite(err)
    assert (tri.inliers & bad)[valid].mean() < 0.002
    assert (~tri.inliers & ~bad & observed)[valid].mean() < 0.01


def test_all_nan_and_single_views_are_nan_without_warnings():
    uv = np.full((4, len(RIG), 2), np.nan)
    uv[1, 3] = [50.0, 60.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tri = triangulate_ransac(uv, RIG)
    assert np.isnan(tri.points_world_mm).all() and not tri.inliers.any()
    np.testing.assert_array_equal(tri.n_views, 0)


def test_confidence_picks_the_seed_views_and_zero_drops_a_view():
    rng = np.random.default_rng(3)
    X = cube_points(100)
    uv = project(X, RIG) + rng.normal(0, 0.3, (100, len(RIG), 2))
    uv[:, :6] += rng.uniform(30, 80, (100, 6, 2))  # six of ten views are wrong ...
    conf = np.full((100, len(RIG)), 0.1)
    conf[:, 6:] = 1.0  # ... and the detector knows which views to trust
    tri = triangulate_ransac(uv, RIG, confidence=conf, max_pair_views=4)
    assert np.linalg.norm(tri.points_world_mm - X, axis=1).max() < 1.0
    assert not tri.inliers[:, :6].any()
    conf[:, 9] = 0.0
    tri = triangulate_ransac(uv, RIG, confidence=conf, max_pair_views=3)
    assert not tri.inliers[:, 9].any() and np.isnan(tri.reproj_error_px[:, 9]).all()


def test_min_inliers():
    X = cube_points(5)
    uv = project(X, RIG)
    uv[:, 3:] = np.nan
    assert np.isfinite(triangulate_ransac(uv, RIG, min_inliers=3).points_world_mm).all()
    assert np.isnan(triangulate_ransac(uv, RIG, min_inliers=4).points_world_mm).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold_px": 0.0}, "threshold_px"),
        ({"threshold_px": np.nan}, "threshold_px"),
        ({"min_inliers": 1}, "min_inliers"),
        ({"max_pair_views": 1}, "max_pair_views"),
        ({"confidence": -np.ones(10)}, ">= 0"),
        ({"uv_px": np.zeros((3, 9, 2))}, "rig has 10 cameras"),
        ({"uv_px": np.full((1, 10, 2), np.inf)}, "inf"),
    ],
)
def test_ransac_rejects_bad_input(kwargs, match):
    args = {"uv_px": np.zeros((1, 10, 2)), "rig": RIG} | kwargs
    with pytest.raises(ValueError, match=match):
        triangulate_ransac(**args)


@settings(max_examples=15, deadline=None)
@given(st.permutations(list(range(10))), st.integers(0, 2**32 - 1))
def test_ransac_does_not_depend_on_camera_order(perm, seed):
    rng = np.random.default_rng(seed)
    X = cube_points(30, seed=seed % 1000)
    uv = project(X, RIG) + rng.normal(0, 0.5, (30, len(RIG), 2))
    bad = rng.random((30, len(RIG))) < 0.25
    uv[bad] += rng.uniform(40, 200, (bad.sum(), 2))
    a = triangulate_ransac(uv, RIG, max_pair_views=4, score_views=6)
    b = triangulate_ransac(uv[:, perm], RIG.subset([RIG.names[i] for i in perm]),
                           max_pair_views=4, score_views=6)
    np.testing.assert_allclose(a.points_world_mm, b.points_world_mm, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(a.inliers[:, perm], b.inliers)


def test_degenerate_sizes():
    one = dome_rig(n_cameras=1)
    tri = triangulate_ransac(project(np.zeros(3), one), one)
    assert np.isnan(tri.points_world_mm).all() and tri.n_views == 0
    empty = triangulate_ransac(np.zeros((0, len(RIG), 2)), RIG)
    assert empty.points_world_mm.shape == (0, 3) and empty.inliers.shape == (0, len(RIG))


def test_regression_ransac_reproj_error_finite_where_min_inliers_made_the_point_nan():
    # bug: a point dropped for having fewer than min_inliers inliers kept the pixel errors
    # of the discarded estimate, although Triangulation promises NaN where the point is NaN
    X = cube_points(5)
    uv = project(X, RIG)
    uv[:, 3:] = np.nan
    tri = triangulate_ransac(uv, RIG, min_inliers=4)
    assert np.isnan(tri.points_world_mm).all()
    assert np.isnan(tri.reproj_error_px).all()
    np.testing.assert_array_equal(tri.n_views, 0)
