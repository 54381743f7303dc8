"""The compiled kernels: independent of thread count and block size; hard undistortions."""

from __future__ import annotations

import numpy as np
import pytest

from tests._support.rigs import cube_points, dome_rig
from triangulation import (
    Camera,
    CameraRig,
    project,
    triangulate,
    triangulate_ransac,
    undistort_points,
)
from triangulation.results import threads

RIG = dome_rig(n_cameras=12, n_dist=12, distortion=2.0, seed=11)


def _scene(n: int = 500, seed: int = 0):
    rng = np.random.default_rng(seed)
    uv = project(cube_points(n, seed=seed), RIG) + rng.normal(0, 1.0, (n, len(RIG), 2))
    bad = rng.random((n, len(RIG))) < 0.2
    uv[bad] += rng.uniform(30, 200, (bad.sum(), 2))
    uv[rng.random((n, len(RIG))) < 0.1] = np.nan
    return uv, rng.uniform(0.2, 1.0, (n, len(RIG)))


def _fields(tri):
    return (tri.points_world_mm, tri.inliers, tri.reproj_error_px, tri.n_views)


@pytest.mark.parametrize(
    "run",
    [
        lambda uv, w, chunk: _fields(triangulate(uv, RIG, chunk=chunk)),
        lambda uv, w, chunk: _fields(triangulate(uv, RIG, weights=w, chunk=chunk)),
        lambda uv, w, chunk: _fields(triangulate_ransac(uv, RIG, chunk=chunk)),
        lambda uv, w, chunk: _fields(triangulate_ransac(uv, RIG, confidence=w, chunk=chunk)),
        lambda uv, w, chunk: (undistort_points(uv, RIG, chunk=chunk),),
    ],
    ids=["dlt", "dlt-weights", "ransac", "ransac-confidence", "undistort"],
)
def test_one_and_two_threads_and_any_block_size_give_identical_results(run):
    uv, w = _scene()
    with threads(1):
        one = run(uv, w, 37)
    with threads(2):
        two = run(uv, w, 37)
        whole = run(uv, w, None)  # a single block
    assert np.isfinite(one[0]).any()
    for a, b, c in zip(one, two, whole, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_threads_rejects_a_bad_count():
    with pytest.raises(ValueError, match="n must be an integer >= 1"), threads(0):
        pass


def test_undistortion_near_the_fold_converges():
    # r_d = r (1 + k1 r²) peaks at r_d = 0.7206 for k1 = -0.2853 (sleap-anipose "back"
    # camera); at r_d = 0.7196 the fixed-point iteration needs hundreds of steps, Newton
    # alone jumps past the fold: the kernel must still find the ray that projects back.
    f = 769.8864926727645
    K = [[f, 0.0, 639.5], [0.0, f, 511.5], [0.0, 0.0, 1.0]]
    rig = CameraRig([Camera("back", 1280, 1024, K, [-0.2853406116327607, 0, 0, 0, 0])])
    uv = np.array([[[1143.1854248, 742.20526123]], [[639.5 + 0.75 * f, 511.5]]])
    xy = undistort_points(uv, rig)
    assert np.isfinite(xy[0]).all() and np.isnan(xy[1]).all()  # inside / beyond the fold
    ray = np.append(xy[0, 0], 1.0) * 500.0
    np.testing.assert_allclose(project(ray, rig)[0], uv[0, 0], rtol=0, atol=1e-9)


def test_regression_overlapping_threads_contexts_in_two_threads_leaked_a_setting():
    # bug: each threads() restored the value it had found on entry, so two overlapping
    # contexts in different threads, left in entry order, left the first one's count set
    # for the rest of the process
    import threading

    from triangulation.results import _n_workers

    default = _n_workers()
    seen: list[int] = []
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with threads(3):
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second():
        a_in.wait(5)
        with threads(5):
            b_in.set()
            a_out.wait(5)
            seen.append(_n_workers())  # the first context has closed, this one is open

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert seen == [5]
    assert _n_workers() == default
