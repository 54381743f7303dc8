"""Benchmark: refine_rig (bundle adjustment of a rig) before / after, against aniposelib.

(a) Synthetic studio: the 80-camera dome of ``annotator synth`` with the ground-truth joints
    of ``--instants`` instants seen in every camera that has them in its image, 0.5 px noise;
    every camera turned 0.3° about its centre and moved 3 mm. Camera centre error after the
    similarity that best maps the centres onto the truth; point error of the joints
    triangulated (DLT) with each rig, after the similarity that best maps them onto the
    truth (image points cannot reveal a similarity of the world, so none of the three rigs
    is charged for one).
(b) Real ChArUco corners (sleap-anipose minimal session, 4 cameras, 24 mm grid): the
    file's calibration with its extrinsics perturbed the same way, gauge-free (the
    similarity part of the perturbation removed; with it, a 4-camera rig's scale moves by
    up to 0.7 % in these seeds, which the
    last row shows); median adjacent-corner distance and median
    reprojection error (RANSAC triangulation) against the file's.
(c) Speed: 140 cameras (``tests/_support`` dome), 20,000 points, 20 % of the observations
    missing, 10 % gross outliers among the rest: seconds, and how far the outliers move
    the result.
(d) Solvers on one round's problem (the 80-camera studio's first round): our
    Levenberg-Marquardt with the Schur complement, ``scipy.optimize.least_squares`` with
    the same analytic sparse Jacobian, and with sparse finite differences.
(e) aniposelib 0.8.0 ``CameraGroup.bundle_adjust_iter`` (``only_extrinsics=True``, as ours
    by default; on (b) also with its focal length and k1 free) from the same start on (a)
    and (b), when it is installed (``pip install --no-deps aniposelib==0.8.0`` plus the
    ``bench`` extra).
(f) Freed intrinsics: a 20-camera dome whose focal lengths are 1 % off; each mode, and
    ``"all"`` without its prior.

    python bench/refine_rig.py                       # everything (aniposelib: minutes)
    python bench/refine_rig.py --no-anipose --instants 40
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._support.rigs import (  # noqa: E402
    align_points,
    align_rig,
    cube_points,
    dome_rig,
    perturb_rig,
)
from triangulation import (  # noqa: E402
    CameraRig,
    in_image,
    load_rig,
    project,
    refine_rig,
    triangulate,
    triangulate_ransac,
)

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
NOISE_PX = 0.5
SQUARE_MM = 24.0
ROWS: list[dict] = []


def row(section: str, what: str, **values) -> None:
    ROWS.append(dict(section=section, what=what, **values))
    cells = "  ".join(f"{k} {_fmt(v)}" for k, v in values.items())
    print(f"  {what:<44s} {cells}")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def observe(points: np.ndarray, rig: CameraRig, seed: int) -> np.ndarray:
    """(N, C, 2) noisy pixels, NaN outside the image."""
    clean = project(points, rig)
    uv = clean + np.random.default_rng(seed).normal(0.0, NOISE_PX, clean.shape)
    uv[~in_image(clean, rig)] = np.nan
    return uv


def centre_error_mm(rig: CameraRig, truth: CameraRig) -> float:
    d = np.linalg.norm(align_rig(rig, truth).centers_world - truth.centers_world, axis=1)
    return float(np.median(d))


def point_error_mm(uv: np.ndarray, rig: CameraRig, truth: np.ndarray) -> float:
    points = align_points(triangulate(uv, rig).points_world_mm, truth)
    return float(np.nanmedian(np.linalg.norm(points - truth, axis=1)))


def reprojection_px(uv: np.ndarray, rig: CameraRig) -> float:
    tri = triangulate_ransac(uv, rig, threshold_px=4.0)
    return float(np.nanmedian(tri.reproj_error_px))


# -- aniposelib -------------------------------------------------------------------------


def anipose_available() -> bool:
    try:
        import aniposelib.cameras  # noqa: F401
    except ImportError as exc:
        print(f"  aniposelib not importable ({exc}): its rows are skipped")
        return False
    return True


def anipose_refine(rig: CameraRig, uv_cn: np.ndarray, only_extrinsics: bool = True):
    """aniposelib's bundle_adjust_iter from ``rig`` on (C, N, 2) points: (rig, seconds).
    With ``only_extrinsics=False`` it also frees the focal length and k1 (and sets the other
    distortion coefficients to zero, which suits the k1-only corner calibration)."""
    import cv2
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup

    group = CameraGroup(
        [
            ACamera(
                name=c.name,
                size=list(c.size),
                matrix=c.K,
                dist=c.dist[:5],
                rvec=cv2.Rodrigues(c.R)[0].ravel(),
                tvec=c.t,
            )
            for c in rig
        ]
    )
    np.random.seed(0)  # noqa: NPY002 (aniposelib samples from the global generator)
    t0 = time.perf_counter()
    group.bundle_adjust_iter(uv_cn.copy(), only_extrinsics=only_extrinsics, verbose=False)
    seconds = time.perf_counter() - t0
    out = CameraRig(
        c.replace(
            K=a.get_camera_matrix(),
            dist=np.asarray(a.get_distortions(), float).ravel()[: c.dist.size],
            R=cv2.Rodrigues(np.asarray(a.get_rotation(), float))[0],
            t=np.asarray(a.get_translation(), float),
        )
        for a, c in zip(group.cameras, rig, strict=True)
    )
    return out, seconds


# -- sections ---------------------------------------------------------------------------


def studio_section(args, anipose: bool) -> None:
    from annotator.synth.studio import Studio, StudioConfig

    studio = Studio(StudioConfig(cameras=args.cameras, instants=args.instants, seed=args.seed))
    rig = studio.rig
    joints = studio.joints_world_mm().reshape(-1, 3)
    joints = joints[np.isfinite(joints[:, 0])]
    uv = observe(joints, rig, args.seed + 2)
    bad = perturb_rig(rig, 0.3, 3.0, seed=args.seed + 5)
    n_obs = int(np.isfinite(uv[..., 0]).sum())
    print(
        f"(a) synthetic studio: {len(rig)} cameras, {len(joints)} joints, {n_obs} "
        f"observations, {NOISE_PX} px noise, perturbed 0.3°/3 mm"
    )
    refine_rig(bad, uv[:50].transpose(1, 0, 2))  # load the compiled kernels first
    res = refine_rig(bad, uv.transpose(1, 0, 2))
    exact = point_error_mm(uv, rig, joints)
    for name, r, seconds in (
        ("exact rig", rig, None),
        ("perturbed rig", bad, None),
        ("refine_rig", res.rig, res.seconds),
    ):
        pe = point_error_mm(uv, r, joints)
        row(
            "studio",
            name,
            centre_mm=centre_error_mm(r, rig),
            point_mm=pe,
            point_x_exact=pe / exact,
            reproj_px=reprojection_px(uv, r),
            seconds=seconds if seconds is not None else "-",
        )
    print(
        f"  refine_rig: {res.iterations} iterations in {res.rounds} rounds, "
        f"{len(res.unchanged)} camera(s) unchanged {[n for n, _ in res.unchanged]}"
    )
    if anipose:
        theirs, seconds = anipose_refine(bad, uv.transpose(1, 0, 2))
        pe = point_error_mm(uv, theirs, joints)
        row(
            "studio",
            "aniposelib bundle_adjust_iter",
            centre_mm=centre_error_mm(theirs, rig),
            point_mm=pe,
            point_x_exact=pe / exact,
            reproj_px=reprojection_px(uv, theirs),
            seconds=seconds,
        )
        print(f"  time ratio aniposelib / ours: {seconds / res.seconds:.1f}x")
    solver_section(bad, uv)


def solver_section(bad: CameraRig, uv: np.ndarray) -> None:
    """The first round's problem solved several ways (internals of refine_rig)."""
    from scipy.optimize import least_squares

    from triangulation._ba_model import Model, default_free_mask
    from triangulation._ba_solver import Solution, solve_lm, solve_scipy
    from triangulation._ba_steps import gate, kept_observations, start_triangulation

    print("(d) solvers on the first round's problem (same start, same observations)")
    tri = start_triangulation(uv, bad, 2.0)
    observed = np.isfinite(uv[..., 0]) & tri.valid[:, None]
    kept = kept_observations(
        observed, tri.reproj_error_px, gate(tri.reproj_error_px[observed], 2.0)
    )
    rows = np.flatnonzero(kept.any(1))
    pt, cam = np.nonzero(kept[rows])
    free = default_free_mask(bad, "fixed") & (kept.sum(0) >= 6)[:, None]
    model = Model(
        bad,
        "fixed",
        free,
        cam,
        pt,
        uv[rows][pt, cam],
        tri.points_world_mm[rows],
    )

    def fd(loss):
        sol = least_squares(
            model.residuals,
            model.x0,
            jac="2-point",
            jac_sparsity=model.sparsity(),
            method="trf",
            x_scale="jac",
            tr_solver="lsmr",
            loss=loss,
            f_scale=2.0,
            max_nfev=100,
        )
        return Solution(sol.x, int(sol.njev), float(sol.cost))

    for name, run in (
        ("ours: LM + Schur, analytic, huber", lambda: solve_lm(model, "huber", 2.0, 100, 1e-8)),
        ("ours: LM + Schur, analytic, squared", lambda: solve_lm(model, None, 2.0, 100, 1e-8)),
        (
            "scipy trf/lsmr, analytic, huber",
            lambda: solve_scipy(model, "huber", 2.0, 100, 1e-8, False),
        ),
        (
            "scipy trf/lsmr, analytic, squared",
            lambda: solve_scipy(model, None, 2.0, 100, 1e-8, False),
        ),
        ("scipy trf/lsmr, sparse 2-point, squared", lambda: fd("linear")),
    ):
        t0 = time.perf_counter()
        sol = run()
        seconds = time.perf_counter() - t0
        err = np.linalg.norm(model.evaluate(sol.x, False)[0], axis=1)
        row(
            "solvers",
            name,
            seconds=seconds,
            iterations=sol.iterations,
            rms_px=float(np.sqrt(np.mean(err**2))),
            median_px=float(np.median(err)),
        )


def corner_section(args, anipose: bool) -> None:
    import h5py

    folder = REALDATA / "sleap_anipose_minimal_session"
    if not folder.is_dir():
        print(f"(b) real corners skipped: {folder} not found")
        return
    rig = load_rig(folder / "calibration.toml")
    with h5py.File(folder / "calibration.metadata.h5", "r") as f:
        uv_cn = f["detected_corners"][:].reshape(len(rig), -1, 2)
    uv = uv_cn.transpose(1, 0, 2)

    def spacing(points):
        grid = points.reshape(-1, 10, 7, 3)
        d = np.concatenate([np.linalg.norm(np.diff(grid, axis=a), axis=-1).ravel() for a in (1, 2)])
        return float(np.median(d[np.isfinite(d)]))

    def spacing_of(r):
        return spacing(triangulate_ransac(uv, r, threshold_px=4.0).points_world_mm)

    print(
        f"(b) real ChArUco corners: {len(rig)} cameras, {int(np.isfinite(uv[..., 0]).sum())} "
        f"detections; extrinsics perturbed 0.3°/3 mm, gauge-free, seeds 0..{args.seeds - 1}"
    )
    file_px = reprojection_px(uv, rig)
    row("corners", "calibration.toml", spacing_mm=spacing_of(rig), reproj_px=file_px)
    refine_rig(rig, uv_cn[:, :100])  # kernels loaded
    ours = {mode: [] for mode in ("fixed", "focal", "all")}
    theirs = {True: [], False: []}
    perturbed = []
    for seed in range(args.seeds):
        bad = perturb_rig(rig, 0.3, 3.0, seed=seed, gauge_free=True)
        perturbed.append((spacing_of(bad), reprojection_px(uv, bad)))
        for mode, out in ours.items():
            res = refine_rig(bad, uv_cn, intrinsics=mode)
            out.append((spacing(res.points), reprojection_px(uv, res.rig), res.seconds))
        for only_extrinsics, out in theirs.items() if anipose else ():
            r, s = anipose_refine(bad, uv_cn, only_extrinsics)
            out.append((spacing_of(r), reprojection_px(uv, r), s))
    a = np.array(perturbed)
    row(
        "corners",
        "perturbed (median over seeds)",
        spacing_mm=float(np.median(a[:, 0])),
        reproj_px=float(np.median(a[:, 1])),
    )
    for name, values in (
        ("refine_rig", ours["fixed"]),
        ("refine_rig intrinsics='focal'", ours["focal"]),
        ("refine_rig intrinsics='all'", ours["all"]),
        ("aniposelib, only_extrinsics", theirs[True]),
        ("aniposelib, focal + k1 too", theirs[False]),
    ):
        if not values:
            continue
        v = np.array(values)
        worst = np.argmax(np.abs(v[:, 0] - SQUARE_MM))
        row(
            "corners",
            name,
            spacing_median=float(np.median(v[:, 0])),
            spacing_worst=float(v[worst, 0]),
            reproj_median=float(np.median(v[:, 1])),
            reproj_worst=float(v[:, 1].max()),
            worst_x_file=float(v[:, 1].max() / file_px),
            seconds=float(np.median(v[:, 2])),
        )
    if anipose:
        f, t = np.array(ours["fixed"]), np.array(theirs[True])
        print(
            f"  extrinsics only: aniposelib / ours time {np.median(t[:, 2] / f[:, 2]):.1f}x "
            f"(median over seeds); our reprojection <= aniposelib's in "
            f"{int(np.sum(f[:, 1] <= t[:, 1]))}/{len(t)} seeds"
        )
    raw = []
    for seed in range(args.seeds):
        bad = perturb_rig(rig, 0.3, 3.0, seed=seed)
        res = refine_rig(bad, uv_cn)
        raw.append((spacing(res.points), res.gauge_scale))
    r = np.array(raw)
    row(
        "corners",
        "refine_rig, raw perturbation (range)",
        spacing_min=float(r[:, 0].min()),
        spacing_max=float(r[:, 0].max()),
    )


def speed_section(args) -> None:
    rig = dome_rig(140, seed=args.seed)
    X = cube_points(20_000, side_mm=300.0, seed=args.seed + 1)
    uv = observe(X, rig, args.seed + 2)
    rng = np.random.default_rng(args.seed + 3)
    uv[rng.random(uv.shape[:2]) < 0.2] = np.nan
    observed = np.isfinite(uv[..., 0])
    outlier = observed & (rng.random(observed.shape) < 0.1)
    corrupted = uv.copy()
    cams = np.nonzero(outlier)[1]
    corrupted[outlier] = rng.uniform(0, 1, (cams.size, 2)) * (rig.sizes[cams] - 1)
    bad = perturb_rig(rig, 0.3, 3.0, seed=args.seed + 5)
    print(
        f"(c) speed: 140 cameras, 20000 points, {int(observed.sum())} observations "
        f"(20 % missing), perturbed 0.3°/3 mm"
    )
    clean = refine_rig(bad, uv.transpose(1, 0, 2))
    row(
        "speed",
        "refine_rig, no outliers",
        seconds=clean.seconds,
        centre_mm=centre_error_mm(clean.rig, rig),
        points_used=clean.points_used,
    )
    res = refine_rig(bad, corrupted.transpose(1, 0, 2))
    moved = np.median(np.linalg.norm(res.rig.centers_world - clean.rig.centers_world, axis=1))
    inl = res.inliers.T
    row(
        "speed",
        "refine_rig, 10 % gross outliers",
        seconds=res.seconds,
        centre_mm=centre_error_mm(res.rig, rig),
        moved_mm=float(moved),
        outliers_kept=float(inl[outlier].mean()),
        clean_kept=float(inl[observed & ~outlier].mean()),
    )
    full = refine_rig(bad, uv.transpose(1, 0, 2), max_observations=None)
    row(
        "speed",
        "refine_rig, no subsampling",
        seconds=full.seconds,
        centre_mm=centre_error_mm(full.rig, rig),
        points_used=full.points_used,
    )


def intrinsics_section(args) -> None:
    """20 cameras seeing a 30 cm cube, every focal length 1 % off and the poses perturbed
    (gauge-free): what each ``intrinsics`` mode recovers, and ``"all"`` without its prior."""
    import triangulation._ba_steps as steps

    rig = dome_rig(20, seed=args.seed)
    X = cube_points(1000, side_mm=300.0, seed=args.seed + 1)
    uv = observe(X, rig, args.seed + 2)
    rng = np.random.default_rng(args.seed + 9)
    cams = []
    for cam in perturb_rig(rig, 0.3, 3.0, seed=args.seed + 5, gauge_free=True):
        K = cam.K.copy()
        K[:2, :2] *= 1 + rng.normal(0, 0.01)
        cams.append(cam.replace(K=K))
    bad = CameraRig(cams)
    exact = point_error_mm(uv, rig, X)

    def focal_error(r):
        return float(np.median(np.abs(r.K[:, 0, 0] / rig.K[:, 0, 0] - 1)))

    print("(f) freed intrinsics: 20 cameras, 1000 points in a 30 cm cube, focal lengths 1 % off")
    row(
        "intrinsics",
        "start",
        centre_mm=centre_error_mm(bad, rig),
        point_x_exact=point_error_mm(uv, bad, X) / exact,
        focal_err=focal_error(bad),
    )
    prior = steps.INTRINSICS_PRIOR_PX
    for name, mode, prior_px in (
        ("fixed", "fixed", prior),
        ("focal", "focal", prior),
        ("all", "all", prior),
        ("all, no prior", "all", 1e9),
    ):
        steps.INTRINSICS_PRIOR_PX = prior_px
        try:
            res = refine_rig(bad, uv.transpose(1, 0, 2), intrinsics=mode)
        finally:
            steps.INTRINSICS_PRIOR_PX = prior
        row(
            "intrinsics",
            f"refine_rig intrinsics={name}",
            centre_mm=centre_error_mm(res.rig, rig),
            point_x_exact=point_error_mm(uv, res.rig, X) / exact,
            focal_err=focal_error(res.rig),
            reproj_px=float(np.nanmedian(res.reprojection_after_px)),
            seconds=res.seconds,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cameras", type=int, default=80)
    p.add_argument("--instants", type=int, default=60, help="studio instants (42 joints each)")
    p.add_argument("--seeds", type=int, default=5, help="perturbations of the real rig")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-anipose", action="store_true", help="skip aniposelib (minutes)")
    p.add_argument("--no-speed", action="store_true", help="skip the 140-camera run")
    p.add_argument("--json", type=Path, help="append the rows as JSON lines here")
    args = p.parse_args(argv)
    anipose = not args.no_anipose and anipose_available()
    studio_section(args, anipose)
    corner_section(args, anipose)
    if not args.no_speed:
        speed_section(args)
    intrinsics_section(args)
    if args.json:
        with args.json.open("a") as f:
            for r in ROWS:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
