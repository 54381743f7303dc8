"""Residuals and their sparse analytic Jacobian for the bundle adjustment of a rig.

Internals of :mod:`triangulation.bundle_adjust`. One observation ``m`` is camera
``cam[m]`` seeing point ``pt[m]`` at ``uv[m]`` (pixels); its residual is the 2-vector
``project(camera, X) - uv`` (distortion included), so the Jacobian has two rows per
observation, non-zero only in that camera's free parameters and that point's 3 coordinates.

Parameters of camera ``c`` (the full layout; a boolean mask picks the free ones):

- ``0:3``: rotation update ``w``, applied on the left: ``R = exp([w]x) R0``, starting at 0;
- ``3:6``: translation ``t`` (mm, camera frame), starting at the input's;
- intrinsics ``"focal"``: ``6``: log focal scale ``s``, ``fx, skew, fy = exp(s) * (fx0, skew0,
  fy0)`` (the aspect ratio and the principal point stay);
- intrinsics ``"all"``: ``6:10``: ``fx, fy, cx, cy``; ``10:22``: the 12 distortion
  coefficients (k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4), of which the mask frees those
  that are non-zero in the input (the skew stays).

The derivative of the rotated point ``y = exp([w]x) R0 X`` is ``dy/dw = -[y]x J_l(w)`` with
``J_l`` the left Jacobian of SO(3), exact for any ``w``; the lens derivatives are those of
the OpenCV model of :mod:`triangulation.distortion`. The per-observation work is the
compiled loop of :mod:`triangulation._ba_kernel`; the Jacobian is assembled straight into
CSR arrays (its pattern is fixed, only the values change between calls).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from triangulation._ba_kernel import MODE_ALL, MODE_FIXED, MODE_FOCAL, ba_block
from triangulation.camera import CameraRig
from triangulation.results import for_each_chunk

__all__ = [
    "Model",
    "pack",
    "rotation_exp",
    "n_full_params",
    "default_free_mask",
    "intrinsics_prior",
]

N_EXTRINSIC = 6
N_DIST = 12
_LAYOUT = {"fixed": N_EXTRINSIC, "focal": N_EXTRINSIC + 1, "all": N_EXTRINSIC + 4 + N_DIST}
_MODE = {"fixed": MODE_FIXED, "focal": MODE_FOCAL, "all": MODE_ALL}
#: Observations per block of the compiled loop (blocks run on the thread pool).
_BLOCK = 32768


def pack(R: np.ndarray, t: np.ndarray, K: np.ndarray, dist12: np.ndarray) -> np.ndarray:
    """(29, C) cameras in the layout of :func:`triangulation._kernels.pack_cameras`."""
    C = R.shape[0]
    intr = np.stack([K[:, 0, 0], K[:, 0, 1], K[:, 0, 2], K[:, 1, 1], K[:, 1, 2]], axis=1)
    return np.ascontiguousarray(
        np.concatenate([intr, dist12, R.reshape(C, 9), t], axis=1).T, dtype=np.float64
    )


def n_full_params(intrinsics: str) -> int:
    """Parameters per camera in the full layout of an ``intrinsics`` mode."""
    return _LAYOUT[intrinsics]


def default_free_mask(rig: CameraRig, intrinsics: str) -> np.ndarray:
    """(C, P) bool: the parameters each camera frees (see the module docstring)."""
    C = len(rig)
    free = np.ones((C, _LAYOUT[intrinsics]), dtype=bool)
    if intrinsics == "all":
        free[:, 10:] = _dist12(rig) != 0.0
    return free


def _dist12(rig: CameraRig) -> np.ndarray:
    d = np.zeros((len(rig), N_DIST))
    n = min(N_DIST, rig.dist.shape[1])
    d[:, :n] = rig.dist[:, :n]
    return d


def _skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices ``[v]x``."""
    out = np.zeros(v.shape[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


def _so3_coefficients(w: np.ndarray):
    """For (C, 3) rotation vectors: ``[w]x``, ``[w]x²`` and the coefficients a = sin θ / θ,
    b = (1 - cos θ) / θ², c = (θ - sin θ) / θ³ (series near θ = 0)."""
    th2 = np.einsum("ci,ci->c", w, w)
    th = np.sqrt(th2)
    small = th < 1e-4
    ths = np.where(small, 1.0, th)
    a = np.where(small, 1.0 - th2 / 6.0, np.sin(ths) / ths)
    b = np.where(small, 0.5 - th2 / 24.0, (1.0 - np.cos(ths)) / ths**2)
    c = np.where(small, 1.0 / 6.0 - th2 / 120.0, (ths - np.sin(ths)) / ths**3)
    W = _skew(w)
    return W, W @ W, a, b, c


def rotation_exp(w: np.ndarray) -> np.ndarray:
    """(C, 3) rotation vectors -> (C, 3, 3) rotation matrices (Rodrigues)."""
    W, W2, a, b, _ = _so3_coefficients(w)
    return np.eye(3) + a[:, None, None] * W + b[:, None, None] * W2


def rotation_log(R: np.ndarray) -> np.ndarray:
    """(C, 3, 3) rotations (angles below π) -> (C, 3) rotation vectors, the inverse of
    :func:`rotation_exp`."""
    A = R - R.transpose(0, 2, 1)  # 2 sin(θ) [axis]x
    v = 0.5 * np.stack([A[:, 2, 1], A[:, 0, 2], A[:, 1, 0]], axis=1)  # sin(θ) axis
    sin = np.linalg.norm(v, axis=1)
    cos = (np.trace(R, axis1=1, axis2=2) - 1.0) / 2.0
    theta = np.arctan2(sin, cos)
    scale = np.where(sin > 1e-12, theta / np.maximum(sin, 1e-300), 1.0)
    return v * scale[:, None]


def _left_jacobian(w: np.ndarray) -> np.ndarray:
    """(C, 3) -> (C, 3, 3) left Jacobian of SO(3): ``I + b [w]x + c [w]x²``."""
    W, W2, _, b, c = _so3_coefficients(w)
    return np.eye(3) + b[:, None, None] * W + c[:, None, None] * W2


class Model:
    """The least-squares problem of one round: observations, layout and start values.

    Args:
        rig: the cameras at the start of the round (their parameters are the origin of
            the rotation updates and the fixed values of everything not freed).
        intrinsics: ``"fixed"``, ``"focal"`` or ``"all"``.
        free: (C, P) bool, the free parameters of each camera (all False: camera fixed).
        cam, pt: (M,) camera and point index of each observation (points 0..n_points-1).
        uv: (M, 2) observed pixels.
        points: (n_points, 3) start points in world mm.
        prior: optional (centre, weight), each (C, P) in this layout: the term
            ``½ Σ weight (θ - centre)²`` added to the cost (see :func:`intrinsics_prior`).
    """

    def __init__(
        self,
        rig: CameraRig,
        intrinsics: str,
        free: np.ndarray,
        cam: np.ndarray,
        pt: np.ndarray,
        uv: np.ndarray,
        points: np.ndarray,
        prior: tuple[np.ndarray, np.ndarray] | None = None,
        center_prior: tuple[np.ndarray, np.ndarray] | None = None,
        rotation_prior: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.intrinsics = intrinsics
        self._mode = _MODE[intrinsics]
        self.C = len(rig)
        self.P = _LAYOUT[intrinsics]
        self.free = np.asarray(free, dtype=bool)
        self.cam = np.ascontiguousarray(cam, dtype=np.int64)
        self.pt = np.ascontiguousarray(pt, dtype=np.int64)
        self.uv = np.ascontiguousarray(uv, dtype=np.float64)
        cam, pt = self.cam, self.pt
        self.n_points = points.shape[0]
        self.R0 = np.array(rig.R)
        self.K0 = np.array(rig.K)
        base = np.zeros((self.C, self.P))
        base[:, 3:6] = rig.t
        if intrinsics == "all":
            base[:, 6], base[:, 7] = rig.K[:, 0, 0], rig.K[:, 1, 1]
            base[:, 8], base[:, 9] = rig.K[:, 0, 2], rig.K[:, 1, 2]
            base[:, 10:] = _dist12(rig)
        self.dist0 = _dist12(rig)
        self.base = base
        self.n_cam_params = int(self.free.sum())
        col = np.full((self.C, self.P), -1, dtype=np.int64)
        col[self.free] = np.arange(self.n_cam_params)
        self.col = col
        self.x0 = np.concatenate([base[self.free], points.ravel()])
        self.n_params = self.x0.size
        self._csr = None
        prior_center, prior_weight = prior if prior is not None else (base, np.zeros_like(base))
        self.prior_center = np.asarray(prior_center, dtype=np.float64)
        self.prior_weight = np.where(self.free, prior_weight, 0.0)
        self.n_prior = int(np.count_nonzero(self.prior_weight))
        self.shape = (2 * cam.size + self.n_prior, self.n_params)
        # centre prior: (C, 3) centres and (C,) weights, the term ½ Σ w |c(θ) - c0|²
        self.center_prior = None
        if center_prior is not None:
            c0, cw = (np.asarray(a, dtype=np.float64) for a in center_prior)
            cw = np.where(self.free[:, :6].all(1), cw, 0.0)
            if np.any(cw > 0):
                self.center_prior = (c0, cw)
        # rotation prior: (C, 3, 3) input rotations and (C,) weights, ½ Σ w |log(R R_inᵀ)|²
        self.rotation_prior = None
        if rotation_prior is not None:
            R_in, rw = (np.asarray(a, dtype=np.float64) for a in rotation_prior)
            rw = np.where(self.free[:, :3].all(1), rw, 0.0)
            if np.any(rw > 0):
                # this round starts at R0; its offset from the input, as a rotation vector
                self.rotation_prior = (rotation_log(self.R0 @ R_in.transpose(0, 2, 1)), rw)

    def _pattern(self):
        """CSR pattern (cached): per observation row the camera's free columns, then the
        point's 3; then one row per prior term."""
        if self._csr is None:
            cam, pt, col = self.cam, self.pt, self.col
            obs_cols = np.concatenate(
                [col[cam], self.n_cam_params + 3 * pt[:, None] + np.arange(3)], axis=1
            )  # (M, P + 3), -1 where not free
            keep = np.repeat((obs_cols >= 0)[:, None, :], 2, axis=1)  # (M, 2, P + 3)
            indices = np.repeat(obs_cols[:, None, :], 2, axis=1)[keep]
            prior_cols = col[self.prior_weight > 0]
            indices = np.concatenate([indices, prior_cols])
            per_row = np.concatenate([keep.sum(-1).ravel(), np.ones(prior_cols.size, int)])
            itype = np.int32 if self.n_params < 2**31 else np.int64
            indptr = np.concatenate([[0], np.cumsum(per_row)]).astype(itype)
            self._csr = (keep, bool(keep.all()), indices.astype(itype), indptr)
        return self._csr

    def prior_terms(self, x: np.ndarray):
        """The priors' cost, gradient (C, P) and Hessian (C, P, P): the intrinsics prior
        ``½ Σ w (θ - θ0)²`` (diagonal) plus the centre prior ``½ Σ w_c |c - c0|²`` of each
        camera centre ``c = -Rᵀ t`` (Gauss-Newton Hessian; ``dc/dt = -Rᵀ``,
        ``dc/dw = -Rᵀ [t]x J_l(w)``, the left Jacobian the residuals use too)."""
        C, P = self.C, self.P
        grad = np.zeros((C, P))
        hess = np.zeros((C, P, P))
        cost = 0.0
        if self.n_prior:
            d = self.camera_params(x) - self.prior_center
            w = self.prior_weight
            cost += 0.5 * float(np.sum(w * d * d))
            grad += w * d
            hess[:, np.arange(P), np.arange(P)] += w
        if self.center_prior is not None:
            c0, cw = self.center_prior
            theta = self.camera_params(x)
            wv, t = theta[:, 0:3], theta[:, 3:6]
            R = rotation_exp(wv) @ self.R0
            centre = -np.einsum("cji,cj->ci", R, t)
            r = centre - c0
            cost += 0.5 * float(np.sum(cw * np.einsum("ci,ci->c", r, r)))
            J = np.zeros((C, 3, 6))
            J[:, :, 3:6] = -R.transpose(0, 2, 1)
            J[:, :, 0:3] = -R.transpose(0, 2, 1) @ _skew(t) @ _left_jacobian(wv)
            grad[:, :6] += cw[:, None] * np.einsum("cij,ci->cj", J, r)
            hess[:, :6, :6] += cw[:, None, None] * np.einsum("cij,cik->cjk", J, J)
        if self.rotation_prior is not None:
            # log(exp(w) R0 R_inᵀ) ≈ w + a for the small angles of a refinement (first
            # order in both): residual w + a, Jacobian the identity (Gauss-Newton)
            a, rw = self.rotation_prior
            r = self.camera_params(x)[:, 0:3] + a
            cost += 0.5 * float(np.sum(rw * np.einsum("ci,ci->c", r, r)))
            grad[:, 0:3] += rw[:, None] * r
            hess[:, np.arange(3), np.arange(3)] += rw[:, None]
        return cost, grad, hess

    # -- parameters ------------------------------------------------------------------
    def camera_params(self, x: np.ndarray) -> np.ndarray:
        """(C, P) full per-camera parameters of ``x``."""
        theta = self.base.copy()
        theta[self.free] = x[: self.n_cam_params]
        return theta

    def points(self, x: np.ndarray) -> np.ndarray:
        return x[self.n_cam_params :].reshape(self.n_points, 3)

    def cameras(self, x: np.ndarray):
        """R (C, 3, 3), t (C, 3), K (C, 3, 3), dist (C, 12) of ``x``."""
        theta = self.camera_params(x)
        R = rotation_exp(theta[:, :3]) @ self.R0
        t = theta[:, 3:6]
        K = self.K0.copy()
        dist = self.dist0
        if self.intrinsics == "focal":
            scale = np.exp(theta[:, 6])
            K[:, 0, :2] *= scale[:, None]
            K[:, 1, 1] *= scale
        elif self.intrinsics == "all":
            K[:, 0, 0], K[:, 1, 1] = theta[:, 6], theta[:, 7]
            K[:, 0, 2], K[:, 1, 2] = theta[:, 8], theta[:, 9]
            dist = theta[:, 10:]
        return R, t, K, dist

    # -- residuals and Jacobian --------------------------------------------------------
    def evaluate(self, x: np.ndarray, want_jac: bool):
        """Residuals (M, 2) and, when ``want_jac``, the dense Jacobian rows (M, 2, P + 3)."""
        theta = self.camera_params(x)
        R, t, K, dist = self.cameras(x)
        cam = pack(R, t, K, dist)
        Jl = np.ascontiguousarray(_left_jacobian(theta[:, :3]))
        pts = np.ascontiguousarray(self.points(x))
        M = self.cam.size
        res = np.empty((M, 2))
        jac = np.empty((M, 2, self.P + 3)) if want_jac else np.empty((1, 2, self.P + 3))
        mode = self._mode

        def work(sl: slice) -> None:
            ba_block(
                cam,
                Jl,
                pts,
                self.cam[sl],
                self.pt[sl],
                self.uv[sl],
                mode,
                want_jac,
                res[sl],
                jac[sl] if want_jac else jac,
            )

        for_each_chunk(work, M, _BLOCK)
        return res, (jac if want_jac else None)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """(2M + n_prior,) pixel residuals ``project - uv`` (u and v of each observation),
        then the prior's ``sqrt(w) (θ - θ0)``."""
        res = self.evaluate(x, False)[0].ravel()
        if not self.n_prior:
            return res
        on = self.prior_weight > 0
        d = (self.camera_params(x) - self.prior_center)[on]
        return np.concatenate([res, np.sqrt(self.prior_weight[on]) * d])

    def jacobian(self, x: np.ndarray) -> csr_matrix:
        """(2M + n_prior, n_params) sparse Jacobian of :meth:`residuals`."""
        keep, all_kept, indices, indptr = self._pattern()
        _, full = self.evaluate(x, True)
        data = full.ravel() if all_kept else full[keep]
        data = np.concatenate([data, np.sqrt(self.prior_weight[self.prior_weight > 0])])
        return csr_matrix((data, indices, indptr), shape=self.shape)

    def sparsity(self) -> csr_matrix:
        """The Jacobian's pattern (for finite differences, ``jac_sparsity``)."""
        _, _, indices, indptr = self._pattern()
        ones = np.ones(indices.size, dtype=np.int8)
        return csr_matrix((ones, indices, indptr), shape=self.shape)


def intrinsics_prior(input_rig: CameraRig, rig: CameraRig, intrinsics: str, prior_px: float):
    """(centre, weight) of the intrinsics prior of a round started from ``rig``.

    Each free intrinsic parameter is pulled towards its value in ``input_rig`` with the
    weight ``(s / prior_px)²``, where ``s`` is how many pixels a unit change of it moves the
    image corner (the half diagonal ``r`` in normalised units: focal ``r``, principal point
    1, k1 ``f r³``, k2 ``f r⁵``, k3 ``f r⁷``, p1, p2 ``3 f r²``, k4..k6 as k1..k3, s1, s3
    ``f r²``, s2, s4 ``f r⁴``). A change that moves the corner by ``prior_px`` costs as much as
    one observation off by one pixel, so directions the points constrain are hardly held
    back, and directions they leave free (focal against depth, one distortion coefficient
    against another) stay near the input instead of drifting.
    """
    C, P = len(rig), _LAYOUT[intrinsics]
    center = np.zeros((C, P))
    weight = np.zeros((C, P))
    if intrinsics == "fixed":
        return center, weight
    f_in = input_rig.K[:, 0, 0]
    r_px = 0.5 * np.hypot(input_rig.sizes[:, 0], input_rig.sizes[:, 1])
    rn = r_px / f_in
    if intrinsics == "focal":
        center[:, 6] = np.log(f_in / rig.K[:, 0, 0])  # log scale relative to this round
        weight[:, 6] = (r_px / prior_px) ** 2
        return center, weight
    center[:, 3:6] = 0.0
    center[:, 6], center[:, 7] = input_rig.K[:, 0, 0], input_rig.K[:, 1, 1]
    center[:, 8], center[:, 9] = input_rig.K[:, 0, 2], input_rig.K[:, 1, 2]
    center[:, 10:] = _dist12(input_rig)
    f = f_in
    scale = np.stack(
        [
            rn,
            rn,
            np.ones(C),
            np.ones(C),
            f * rn**3,
            f * rn**5,
            3 * f * rn**2,
            3 * f * rn**2,
            f * rn**7,
            f * rn**3,
            f * rn**5,
            f * rn**7,
            f * rn**2,
            f * rn**4,
            f * rn**2,
            f * rn**4,
        ],
        axis=1,
    )  # fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4
    weight[:, 6:] = (scale / prior_px) ** 2
    return center, weight
