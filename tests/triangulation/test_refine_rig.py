"""refine_rig: a perturbed rig recovered, the gauge, outliers, cameras left unchanged,
missing data, argument errors, freed intrinsics, real ChArUco corners and aniposelib's
bundle_adjust_iter side by side.

Synthetic scene: 20 cameras on a 1 m dome (lens distortion), 1000 points in a 30 cm cube,
0.5 px noise; every camera turned 0.3° about its centre and moved 3 mm. Image points
cannot reveal a similarity of the whole world, so accuracy is measured after the
similarity that best maps the refined reconstruction onto the truth (centres for the
cameras, points for the points); the refined rig itself stays in the input's frame.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests._support.rigs import align_points, align_rig, cube_points, dome_rig, perturb_rig
from triangulation import (
    Camera,
    CameraRig,
    RigRefinement,
    in_image,
    load_rig,
    project,
    refine_rig,
    triangulate,
    triangulate_ransac,
)
from triangulation._ba_model import Model, default_free_mask, rotation_exp, rotation_log
from triangulation._gauge import fit_similarity, rotation_angle_deg

NOISE_PX = 0.5
SQUARE_MM = 24.0


def _scene(n_cameras=20, n_points=1000, side_mm=300.0, seed=0):
    rig = dome_rig(n_cameras, seed=seed)
    X = cube_points(n_points, side_mm=side_mm, seed=seed + 1)
    clean = project(X, rig)
    uv = clean + np.random.default_rng(seed + 2).normal(0.0, NOISE_PX, clean.shape)
    uv[~in_image(clean, rig)] = np.nan
    return rig, X, uv  # uv (N, C, 2)


@pytest.fixture(scope="module")
def scene():
    rig, X, uv = _scene()
    bad = perturb_rig(rig, 0.3, 3.0, seed=5)
    return rig, X, uv, bad, refine_rig(bad, uv.transpose(1, 0, 2))


def _centre_error_mm(refined: CameraRig, truth: CameraRig) -> np.ndarray:
    return np.linalg.norm(align_rig(refined, truth).centers_world - truth.centers_world, axis=1)


def _point_error_mm(uv, rig, X) -> float:
    points = align_points(triangulate(uv, rig).points_world_mm, X)
    return float(np.nanmedian(np.linalg.norm(points - X, axis=1)))


def test_recovers_a_perturbed_rig(scene):
    rig, X, uv, bad, res = scene
    assert isinstance(res, RigRefinement)
    assert res.rig.names == rig.names and np.array_equal(res.rig.sizes, rig.sizes)
    for new, old in zip(res.rig, bad, strict=True):  # intrinsics fixed by default
        assert np.array_equal(new.K, old.K) and np.array_equal(new.dist, old.dist)
    before = np.median(_centre_error_mm(bad, rig))
    after = np.median(_centre_error_mm(res.rig, rig))
    assert before > 2.0 and after < 1.0
    # points triangulated with the refined rig: as good as with the exact one
    exact = _point_error_mm(uv, rig, X)
    assert _point_error_mm(uv, res.rig, X) <= 1.2 * exact
    assert _point_error_mm(uv, bad, X) > 1.5 * exact
    # reported errors: from several px down to the noise (Rayleigh median 0.59 px)
    assert np.all(res.reprojection_before_px > 1.0)
    assert np.all(res.reprojection_after_px < 0.7)
    observed = np.isfinite(uv[..., 0]).T & (np.isfinite(uv[..., 0]).sum(1) >= 2)
    assert res.inliers.shape == observed.shape and res.inliers[observed].mean() > 0.999
    assert not res.inliers[~observed].any()
    assert np.array_equal(res.observations, observed.sum(1))
    assert res.points.shape == X.shape
    np.testing.assert_allclose(
        res.center_shift_mm, np.linalg.norm(res.rig.centers_world - bad.centers_world, axis=1)
    )
    np.testing.assert_allclose(res.rotation_change_deg, rotation_angle_deg(res.rig.R, bad.R))
    assert 0.15 < np.median(res.rotation_change_deg) < 0.45
    assert res.unchanged == () and res.iterations >= 2 and res.seconds > 0
    assert res.points_used == int((observed.sum(0) >= 2).sum())


def test_the_refined_rig_stays_in_the_input_frame(scene):
    rig, X, uv, bad, res = scene
    sim = fit_similarity(res.rig.centers_world, bad.centers_world, res.rig.R, bad.R)
    assert abs(sim.scale - 1) < 1e-9
    assert rotation_angle_deg(sim.rotation, np.eye(3)) < 1e-7
    assert np.linalg.norm(sim.translation) < 1e-6
    # the same data in another world frame (rotated, shifted, in other units): the result
    # is the same rig expressed in that frame
    angle = np.deg2rad(40.0)
    Q = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    s, d = 1.5, np.array([300.0, -120.0, 45.0])
    moved = CameraRig(
        cam.replace(R=cam.R @ Q.T, t=s * cam.t - cam.R @ Q.T @ d) for cam in bad
    )  # X' = s Q X + d
    res2 = refine_rig(moved, uv.transpose(1, 0, 2))
    expected = s * res.rig.centers_world @ Q.T + d
    np.testing.assert_allclose(res2.rig.centers_world, expected, atol=2e-3 * s)
    assert np.max(rotation_angle_deg(res2.rig.R, res.rig.R @ Q.T)) < 1e-4
    np.testing.assert_allclose(res2.points, s * res.points @ Q.T + d, atol=5e-3)


def test_gross_outliers_do_not_move_the_result(scene):
    rig, X, uv, bad, res = scene
    rng = np.random.default_rng(11)
    observed = np.isfinite(uv[..., 0])
    outlier = observed & (rng.random(observed.shape) < 0.1)
    corrupted = uv.copy()
    cams = np.nonzero(outlier)[1]
    corrupted[outlier] = rng.uniform(0.0, 1.0, (cams.size, 2)) * (rig.sizes[cams] - 1)
    res_out = refine_rig(bad, corrupted.transpose(1, 0, 2))
    # centres move by less than their own error from the noise
    moved = np.linalg.norm(res_out.rig.centers_world - res.rig.centers_world, axis=1)
    assert np.median(moved) < 0.5 * np.median(_centre_error_mm(res.rig, rig))
    assert np.median(_centre_error_mm(res_out.rig, rig)) < 1.0
    inliers = res_out.inliers.T
    usable = observed & (observed.sum(1) >= 2)[:, None]
    assert inliers[outlier].mean() < 0.01  # the few "outliers" that land near the truth
    assert inliers[usable & ~outlier].mean() > 0.99


@pytest.mark.parametrize("robust", ["cauchy", None])
def test_other_losses(scene, robust):
    rig, X, uv, bad, _ = scene
    res = refine_rig(bad, uv.transpose(1, 0, 2), robust=robust)
    assert np.median(_centre_error_mm(res.rig, rig)) < 1.0


def test_cameras_without_enough_observations_are_left_unchanged(scene):
    rig, X, uv, bad, _ = scene
    uv = uv.copy()
    uv[:, 3] = np.nan  # camera 3 sees nothing
    seen7 = np.flatnonzero(np.isfinite(uv[:, 7, 0]))
    uv[seen7[4:], 7] = np.nan  # camera 7 sees 4 points
    res = refine_rig(bad, uv.transpose(1, 0, 2))
    why = dict(res.unchanged)
    assert set(why) == {rig.names[3], rig.names[7]}
    assert "no observations" in why[rig.names[3]]
    assert "4 observations" in why[rig.names[7]] and "needs 6" in why[rig.names[7]]
    assert res.rig[3] == bad[3] and res.rig[7] == bad[7]
    assert res.observations[3] == 0 and res.observations[7] == 4
    assert np.isnan(res.reprojection_before_px[3]) and np.isnan(res.reprojection_after_px[3])
    others = [c for c in range(len(rig)) if c not in (3, 7)]
    err = _centre_error_mm(
        res.rig.subset([rig.names[c] for c in others]), rig.subset([rig.names[c] for c in others])
    )
    assert np.median(err) < 1.0
    table = res.table()
    assert [row["name"] for row in table] == rig.names
    assert table[3]["unchanged"] == why[rig.names[3]] and table[0]["unchanged"] is None


def test_points_seen_once_and_half_missing_observations(scene):
    rig, X, uv, bad, _ = scene
    n = 30
    extra = np.full((n, len(rig), 2), np.nan)
    extra[:, 0] = project(X[:n], rig)[:, 0]  # seen by camera 0 only
    half = np.full((1, len(rig), 2), np.nan)
    half[0, :2] = project(X[:1], rig)[0, :2]
    half[0, 1, 1] = np.nan  # camera 1's v is missing: no observation
    uv_all = np.concatenate([uv, extra, half])
    res = refine_rig(bad, uv_all.transpose(1, 0, 2))
    N = uv.shape[0]
    assert np.isnan(res.points[N:]).all()
    assert not res.inliers[:, N:].any()
    assert np.isfinite(res.points[:N]).all(1).mean() > 0.99
    observed = np.isfinite(uv[..., 0])
    assert res.observations[0] == observed[observed.sum(1) >= 2, 0].sum()


def test_argument_errors(scene):
    rig, X, uv, bad, _ = scene
    good = uv.transpose(1, 0, 2)
    with pytest.raises(ValueError, match=r"\(C, N, 2\) = \(20, N, 2\).*got \(1000, 20, 2\)"):
        refine_rig(bad, uv)  # (N, C, 2): the transposed layout
    with pytest.raises(ValueError, match=r"\(C, N, 2\)"):
        refine_rig(bad, good[..., 0])
    with pytest.raises(ValueError, match=r"\(C, N, 2\)"):
        refine_rig(bad[:5], good)
    inf = good.copy()
    inf[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        refine_rig(bad, inf)
    for kwargs, what in [
        (dict(intrinsics="focal_only"), "intrinsics"),
        (dict(robust="l1"), "robust"),
        (dict(threshold_px=0.0), "threshold_px"),
        (dict(threshold_px=float("nan")), "threshold_px"),
        (dict(max_iter=0), "max_iter"),
        (dict(max_observations=0.5), "max_observations"),
        (dict(solver="ceres"), "solver"),
    ]:
        with pytest.raises(ValueError, match=what):
            refine_rig(bad, good, **kwargs)


def test_too_little_data_is_a_clear_error(scene):
    rig, X, uv, bad, _ = scene
    good = uv.transpose(1, 0, 2)
    few = good.copy()
    few[:, 5:] = np.nan  # 5 points
    with pytest.raises(ValueError, match="at least 6 points|fewer than two cameras"):
        refine_rig(bad, few)
    lonely = np.full_like(good, np.nan)
    lonely[2] = good[2]  # one camera sees everything, nobody else anything
    with pytest.raises(ValueError, match=rf"fewer than two cameras.*{rig.names[2]} 0"):
        refine_rig(bad, lonely)
    pair = np.full_like(good, np.nan)
    pair[[0, 1], :5] = good[[0, 1], :5]
    pair[[2, 3], 5:8] = good[[2, 3], 5:8]
    with pytest.raises(ValueError, match="fewer than two cameras"):
        refine_rig(bad, pair)


def test_subsampling_keeps_every_camera(scene):
    rig, X, uv, bad, res = scene
    small = refine_rig(bad, uv.transpose(1, 0, 2), max_observations=4000)
    assert small.points_used < res.points_used
    assert np.median(_centre_error_mm(small.rig, rig)) < 1.5
    assert np.isfinite(small.points).all(1).mean() > 0.99  # all points reported


def test_freed_focal_length_is_recovered():
    rig, X, uv = _scene(n_cameras=20, n_points=1000, side_mm=300.0)
    rng = np.random.default_rng(9)
    cams = []
    for cam in perturb_rig(rig, 0.3, 3.0, seed=5, gauge_free=True):
        K = cam.K.copy()
        K[:2, :2] *= 1 + rng.normal(0, 0.01)
        cams.append(cam.replace(K=K))
    bad = CameraRig(cams)

    def focal_error(r):
        return np.median(np.abs(r.K[:, 0, 0] / rig.K[:, 0, 0] - 1))

    fixed = refine_rig(bad, uv.transpose(1, 0, 2))
    focal = refine_rig(bad, uv.transpose(1, 0, 2), intrinsics="focal")
    assert focal_error(focal.rig) < 0.5 * focal_error(bad)
    assert np.median(_centre_error_mm(focal.rig, rig)) < 0.5 * np.median(
        _centre_error_mm(fixed.rig, rig)
    )
    np.testing.assert_allclose(focal.focal_ratio, focal.rig.K[:, 0, 0] / bad.K[:, 0, 0])
    aspect = focal.rig.K[:, 1, 1] / focal.rig.K[:, 0, 0]
    np.testing.assert_allclose(aspect, bad.K[:, 1, 1] / bad.K[:, 0, 0], rtol=1e-12)
    np.testing.assert_array_equal(focal.rig.K[:, :2, 2], bad.K[:, :2, 2])


def test_all_intrinsics_free_only_the_nonzero_coefficients():
    rig, X, uv = _scene(n_cameras=12, n_points=600, side_mm=500.0, seed=3)
    cams = []
    for i, cam in enumerate(perturb_rig(rig, 0.3, 3.0, seed=6)):
        d = cam.dist.copy()
        d[0] += 0.01
        if i % 2:
            d[2:4] = 0.0  # no tangential terms in this camera's model
        K = cam.K.copy()
        K[0, 1] = 0.5  # a skew, which stays
        cams.append(cam.replace(K=K, dist=d))
    bad = CameraRig(cams)
    res = refine_rig(bad, uv.transpose(1, 0, 2), intrinsics="all")
    fixed = refine_rig(bad, uv.transpose(1, 0, 2))
    for i, (new, old) in enumerate(zip(res.rig, bad, strict=True)):
        assert new.dist.shape == old.dist.shape
        if i % 2:
            assert np.all(new.dist[2:4] == 0.0)
        assert new.K[0, 1] == 0.5
        assert not np.array_equal(new.K, old.K) and not np.array_equal(new.dist, old.dist)
    # more freedom fits the observations at least as well
    assert np.median(res.reprojection_after_px) <= np.median(fixed.reprojection_after_px) + 1e-3
    assert np.isfinite(res.points).all(1).mean() > 0.9


@pytest.mark.parametrize("intrinsics", ["fixed", "focal", "all"])
def test_analytic_jacobian_matches_finite_differences(intrinsics):
    rig = dome_rig(5, n_dist=12, seed=3)
    X = cube_points(15, seed=4)
    uv = project(X, rig)
    pt, cam = np.nonzero(np.isfinite(uv[..., 0]))
    rng = np.random.default_rng(0)
    obs = uv[pt, cam] + rng.normal(0, 1, (pt.size, 2))
    model = Model(rig, intrinsics, default_free_mask(rig, intrinsics), cam, pt, obs, X + 1.0)
    x = model.x0 + rng.normal(0, 1e-3, model.x0.size)
    J = model.jacobian(x).toarray()
    numeric = np.empty_like(J)
    for i in range(x.size):
        h = 1e-6 * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        numeric[:, i] = (model.residuals(up) - model.residuals(down)) / (2 * h)
    assert np.abs(J - numeric).max() < 1e-6 * np.abs(numeric).max()
    assert np.all((numeric != 0) <= (model.sparsity().toarray() != 0))


def test_scipy_solver_gives_the_same_rig(scene):
    rig, X, uv, bad, res = scene
    other = refine_rig(bad, uv.transpose(1, 0, 2), solver="scipy")
    moved = np.linalg.norm(other.rig.centers_world - res.rig.centers_world, axis=1)
    assert np.median(moved) < 0.1 * np.median(_centre_error_mm(res.rig, rig))


# -- real ChArUco corners (sleap-anipose minimal session) ----------------------------------


@pytest.fixture(scope="module")
def corners(realdata_dir):
    h5py = pytest.importorskip("h5py")
    folder = realdata_dir("sleap_anipose_minimal_session")
    rig = load_rig(folder / "calibration.toml")
    with h5py.File(folder / "calibration.metadata.h5", "r") as f:
        uv = f["detected_corners"][:]  # (4, 21, 70, 2)
    return rig, uv.reshape(len(rig), -1, 2)


def _spacing_mm(points: np.ndarray) -> float:
    """Median distance between grid neighbours of (F * 70, 3) corners (a 10 x 7 grid)."""
    grid = points.reshape(-1, 10, 7, 3)
    d = np.concatenate(
        [
            np.linalg.norm(np.diff(grid, axis=1), axis=-1).ravel(),
            np.linalg.norm(np.diff(grid, axis=2), axis=-1).ravel(),
        ]
    )
    return float(np.median(d[np.isfinite(d)]))


def _median_reprojection_px(rig: CameraRig, uv: np.ndarray) -> float:
    tri = triangulate_ransac(uv.transpose(1, 0, 2), rig, threshold_px=4.0)
    return float(np.nanmedian(tri.reproj_error_px))


def test_real_corners_from_a_perturbed_calibration(corners):
    """The perturbation holds no change of world frame or scale (gauge_free): 4 cameras
    moved 3 mm each change the rig's scale by up to 0.7 % (bench/refine_rig.py, 5 seeds),
    which no image point can undo and the gauge keeps: 0.17 mm of the 24 mm spacing."""
    rig, uv = corners
    bad = perturb_rig(rig, 0.3, 3.0, seed=1, gauge_free=True)
    file_px = _median_reprojection_px(rig, uv)
    assert _median_reprojection_px(bad, uv) > 3 * file_px
    res = refine_rig(bad, uv)
    assert abs(_spacing_mm(res.points) - SQUARE_MM) < 0.10
    assert _median_reprojection_px(res.rig, uv) <= 1.1 * file_px
    assert np.max(np.linalg.norm(res.rig.centers_world - rig.centers_world, axis=1)) < 0.5
    # a few gross detection outliers (up to 538 px) are not inliers
    observed = np.isfinite(uv[..., 0]) & (np.isfinite(uv[..., 0]).sum(0) >= 2)
    assert 0.97 < res.inliers[observed].mean() < 1.0


def test_side_by_side_with_aniposelib(corners):
    """aniposelib 0.8.0's CameraGroup.bundle_adjust_iter (extrinsics only, as ours by
    default) on the same corners and start: our final reprojection error is no higher and
    we are at least 5x faster."""
    cv2 = pytest.importorskip("cv2")
    acameras = pytest.importorskip("aniposelib.cameras")
    rig, uv = corners
    bad = perturb_rig(rig, 0.3, 3.0, seed=1, gauge_free=True)
    group = acameras.CameraGroup(
        [
            acameras.Camera(
                name=c.name,
                size=list(c.size),
                matrix=c.K,
                dist=c.dist[:5],
                rvec=cv2.Rodrigues(c.R)[0].ravel(),
                tvec=c.t,
            )
            for c in bad
        ]
    )
    refine_rig(bad, uv[:, :200])  # compiled kernels loaded before timing
    np.random.seed(0)  # noqa: NPY002 (aniposelib samples from the global generator)
    t0 = time.perf_counter()
    group.bundle_adjust_iter(uv.copy(), only_extrinsics=True, verbose=False)
    theirs_s = time.perf_counter() - t0
    theirs = CameraRig(
        c.replace(
            R=cv2.Rodrigues(np.asarray(a.get_rotation(), float))[0],
            t=np.asarray(a.get_translation(), float),
        )
        for a, c in zip(group.cameras, bad, strict=True)
    )
    t0 = time.perf_counter()
    ours = refine_rig(bad, uv)
    ours_s = time.perf_counter() - t0
    assert _median_reprojection_px(ours.rig, uv) <= _median_reprojection_px(theirs, uv)
    assert theirs_s >= 5 * ours_s, (theirs_s, ours_s)


def test_camera_objects_are_new_and_valid(scene):
    _, _, _, bad, res = scene
    for cam in res.rig:
        assert isinstance(cam, Camera)
        np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-12)


def test_solver_steps_past_a_free_camera_without_observations():
    """A free parameter no residual depends on gets a zero step, not a singular system."""
    from triangulation._ba_solver import solve_lm

    rig, X, uv = _scene(n_cameras=6, n_points=200, seed=4)
    bad = perturb_rig(rig, 0.3, 3.0, seed=2)
    uv[:, 5] = np.nan
    pt, cam = np.nonzero(np.isfinite(uv[..., 0]))
    start = triangulate(uv, bad).points_world_mm
    model = Model(bad, "fixed", default_free_mask(bad, "fixed"), cam, pt, uv[pt, cam], start)
    sol = solve_lm(model, "huber", 2.0, 50, 1e-10)
    res = model.evaluate(sol.x, False)[0]
    assert sol.iterations > 2 and np.median(np.linalg.norm(res, axis=1)) < 0.7
    R, t, _, _ = model.cameras(sol.x)
    np.testing.assert_array_equal(R[5], bad.R[5])
    np.testing.assert_array_equal(t[5], bad.t[5])


def test_a_camera_seeing_only_outliers_is_left_unchanged(scene):
    rig, X, uv, bad, _ = scene
    uv = uv.copy()
    seen = np.isfinite(uv[:, 4, 0])
    uv[seen, 4] = np.random.default_rng(3).uniform(0, 1, (seen.sum(), 2)) * (rig.sizes[4] - 1)
    res = refine_rig(bad, uv.transpose(1, 0, 2))
    why = dict(res.unchanged)
    assert set(why) == {rig.names[4]} and "inlier observations (needs 6)" in why[rig.names[4]]
    assert res.rig[4] == bad[4]
    assert res.inliers[4].mean() < 0.01
    others = [n for n in rig.names if n != rig.names[4]]
    assert np.median(_centre_error_mm(res.rig.subset(others), rig.subset(others))) < 1.0


def _prior_gradient(model, x, n: int, eps: float) -> np.ndarray:
    """Central differences of the priors' cost over the first ``n`` entries of ``x`` (the
    camera parameters come first)."""
    out = np.empty(n)
    for i in range(n):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        out[i] = (model.prior_terms(up)[0] - model.prior_terms(down)[0]) / (2 * eps)
    return out


def test_centre_prior_gradient_matches_its_cost():
    rig = dome_rig(4, seed=7)
    X = cube_points(10, seed=8)
    uv = project(X, rig)
    pt, cam = np.nonzero(np.isfinite(uv[..., 0]))
    centres = rig.centers_world + np.random.default_rng(1).normal(0, 3.0, (4, 3))
    model = Model(rig, "fixed", default_free_mask(rig, "fixed"), cam, pt, uv[pt, cam], X,
                  None, (centres, np.full(4, 0.25)))
    x = model.x0 + np.random.default_rng(2).normal(0, 1e-3, model.x0.size)
    cost, grad, hess = model.prior_terms(x)
    assert cost > 0 and hess.shape == (4, 6, 6)
    numeric = _prior_gradient(model, x, 24, 1e-6)
    np.testing.assert_allclose(grad.ravel(), numeric, rtol=1e-3, atol=1e-6)


def test_centre_prior_holds_the_centres_that_sparse_points_leave_free(scene):
    rig, X, uv, bad, _ = scene
    sparse = uv.copy()
    rng = np.random.default_rng(4)
    for n in range(sparse.shape[0]):  # four views per point, a hundred points
        seen = np.flatnonzero(np.isfinite(sparse[n, :, 0]))
        drop = rng.permutation(seen)[4:]
        sparse[n, drop] = np.nan
    sparse = sparse[:100].transpose(1, 0, 2)
    free = refine_rig(bad, sparse)
    held = refine_rig(bad, sparse, center_prior_mm=0.01)
    moved = np.linalg.norm(held.rig.centers_world - bad.centers_world, axis=1)
    assert np.median(moved) < 0.05  # a stiff prior keeps every centre where it was
    assert np.nanmedian(held.reprojection_after_px) < np.nanmedian(held.reprojection_before_px)
    assert np.median(np.linalg.norm(free.rig.centers_world - bad.centers_world, axis=1)) > 0.05
    with pytest.raises(ValueError, match="center_prior_mm needs solver='lm'"):
        refine_rig(bad, sparse, center_prior_mm=5.0, solver="scipy")
    with pytest.raises(ValueError, match="center_prior_mm must be > 0"):
        refine_rig(bad, sparse, center_prior_mm=-1.0)


def test_rotation_log_inverts_rotation_exp():
    w = np.random.default_rng(3).normal(0, 0.4, (50, 3))
    w[0] = 0.0
    w[1] = [1e-9, 0.0, 0.0]
    np.testing.assert_allclose(rotation_log(rotation_exp(w)), w, atol=1e-9)


def test_rotation_prior_gradient_matches_its_cost():
    rig = dome_rig(4, seed=7)
    X = cube_points(10, seed=8)
    uv = project(X, rig)
    pt, cam = np.nonzero(np.isfinite(uv[..., 0]))
    # the round starts 0.2° off the input: the prior pulls back towards the input
    start = perturb_rig(rig, 0.2, 0.0, seed=3)
    model = Model(start, "fixed", default_free_mask(start, "fixed"), cam, pt, uv[pt, cam], X,
                  None, None, (rig.R, np.full(4, 1e4)))
    x = model.x0 + np.random.default_rng(2).normal(0, 1e-4, model.x0.size)
    cost, grad, hess = model.prior_terms(x)
    assert cost > 0 and np.allclose(hess[:, :3, :3], 1e4 * np.eye(3))
    numeric = _prior_gradient(model, x, 24, 1e-7)
    # Gauss-Newton's first-order residual: exact to O(angle²) of 0.2°
    np.testing.assert_allclose(grad.ravel(), numeric, rtol=2e-2, atol=1e-3)


def test_rotation_prior_holds_the_axes(scene):
    rig, X, uv, bad, _ = scene
    obs = uv[:100].transpose(1, 0, 2)
    free = refine_rig(bad, obs)
    held = refine_rig(bad, obs, rotation_prior_deg=1e-4)
    # a stiff prior keeps every camera's axes: what is left is the gauge's one common turn
    # (the similarity that takes the moved centres back), so the cameras' relative axes stay

    def relative(r):
        return rotation_angle_deg(r.R @ r.R[:1].transpose(0, 2, 1),
                                  bad.R @ bad.R[:1].transpose(0, 2, 1))

    assert np.max(relative(held.rig)) < 1e-3
    assert np.median(relative(free.rig)) > 0.01
    with pytest.raises(ValueError, match="rotation_prior_deg needs solver='lm'"):
        refine_rig(bad, obs, rotation_prior_deg=0.3, solver="scipy")
    with pytest.raises(ValueError, match="rotation_prior_deg must be > 0"):
        refine_rig(bad, obs, rotation_prior_deg=0.0)
