"""Z-buffer rasteriser of capsule volumes: one camera view of the synthetic studio.

Each volume is a tapered capsule (a sphere swept along a segment with a linearly varying
radius). Its axis end points are projected with the camera's full lens model, so the
ground-truth joints (capsule end points) land exactly where ``triangulation.project`` puts
them, and they bound the capsule's screen box. Every pixel of that box is ray-cast: the
pixel is undistorted to a viewing ray, which is intersected with the cylinder round the axis
(radius taken where the ray passes closest to the axis) or with an end sphere; the nearest
hit is kept in the depth buffer with its normal's Lambert shading and the capsule's label.

Outputs per view: the 8-bit BGR image, the depth map (mm along the optical axis, ``inf``
where nothing is drawn) and the label map (which part is seen, ``LABELS``), from which
joint visibility is decided (:func:`joint_visibility`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from triangulation.camera import Camera

__all__ = [
    "LABELS",
    "Scene",
    "Appearance",
    "RenderResult",
    "camera_points",
    "render_view",
    "joint_visibility",
]

#: Label map codes: what each pixel shows.
LABELS: dict[str, int] = {
    "background": 0,
    "right_skin": 1,
    "left_skin": 2,
    "right_sleeve": 3,
    "left_sleeve": 4,
    "body": 5,
}
#: Nearest depth (mm) a volume may have to be drawn (nothing in the studio is that close).
_NEAR_MM = 80.0
#: Directions towards the studio lights in world coordinates (z up) and their weights.
_LIGHTS_WORLD = np.array([[0.3, 0.5, 0.8], [-0.7, 0.2, 0.3], [0.2, -0.9, 0.2], [0.0, 0.3, -0.9]])
_LIGHTS_WORLD = _LIGHTS_WORLD / np.linalg.norm(_LIGHTS_WORLD, axis=1, keepdims=True)
_LIGHT_WEIGHTS = np.array([0.62, 0.35, 0.25, 0.12])
_AMBIENT = 0.22


@dataclass(frozen=True)
class Scene:
    """What is in the studio at one instant, in world mm.

    Attributes:
        caps_a_mm, caps_b_mm: (P, 3) capsule axis end points.
        caps_ra_mm, caps_rb_mm: (P,) radii at the ends.
        caps_label: (P,) int8, codes of ``LABELS``.
        joints_mm: (J, 3) joints (NaN for an absent hand).
        joint_radius_mm: (J,) radius of the volume around each joint.
    """

    caps_a_mm: np.ndarray
    caps_b_mm: np.ndarray
    caps_ra_mm: np.ndarray
    caps_rb_mm: np.ndarray
    caps_label: np.ndarray
    joints_mm: np.ndarray
    joint_radius_mm: np.ndarray


@dataclass(frozen=True)
class Appearance:
    """Colours of one subject: (len(LABELS), 3) float BGR albedo in 0-255 per label."""

    albedo_bgr: np.ndarray
    shirt_pattern: int = 0  # 0 plain, 1 stripes, 2 checks


@dataclass(frozen=True)
class RenderResult:
    """One rendered view: image (H, W, 3) uint8 BGR, depth (H, W) float32 mm, label (H, W) int8."""

    image: np.ndarray
    depth_mm: np.ndarray
    label: np.ndarray


def camera_points(points_world_mm: np.ndarray, cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Project (N, 3) world mm into one camera.

    Returns ``(uv_px (N, 2), z_mm (N,))``: the distorted pixel position (the OpenCV model,
    as ``triangulation.project``) and the depth along the optical axis. The distortion
    polynomial is evaluated with the squared radius capped at 4 so that volumes far outside
    the field of view cannot fold back into the image.
    """
    x = points_world_mm @ cam.R.T + cam.t
    z = x[:, 2]
    zs = np.where(z > 1e-6, z, 1e-6)
    xn, yn = x[:, 0] / zs, x[:, 1] / zs
    k1, k2, p1, p2, k3, k4, k5, k6 = cam.dist8[:8]
    r2 = np.minimum(xn * xn + yn * yn, 4.0)
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = xn * radial + 2 * p1 * xn * yn + p2 * (r2 + 2 * xn * xn)
    yd = yn * radial + p1 * (r2 + 2 * yn * yn) + 2 * p2 * xn * yn
    K = cam.K
    u = K[0, 0] * xd + K[0, 1] * yd + K[0, 2]
    v = K[1, 1] * yd + K[1, 2]
    return np.stack([u, v], axis=1), z


def _pixel_rays(cam: Camera, x0: int, x1: int, y0: int, y1: int,
                coeffs: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalised ray coordinates (x/z, y/z) of a pixel box (one fixed-point step:
    the distortion is small, so the residual is far below a pixel)."""
    K = cam.K
    yd = ((np.arange(y0, y1 + 1, dtype=np.float32) - K[1, 2]) / K[1, 1])[:, None]
    xd = (np.arange(x0, x1 + 1, dtype=np.float32)[None, :] - K[0, 2] - K[0, 1] * yd) / K[0, 0]
    k1, k2, p1, p2, k3 = coeffs or tuple(np.float32(v) for v in cam.dist8[:5])
    r2 = xd * xd + yd * yd
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xn = (xd - 2 * p1 * xd * yd - p2 * (r2 + 2 * xd * xd)) / radial
    yn = (yd - p1 * (r2 + 2 * yd * yd) - 2 * p2 * xd * yd) / radial
    return xn, yn


def _ray_sphere(wx, wy, w2, c: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit ``lam`` (depth, as rays have z = 1) of rays (wx, wy, 1) with a sphere."""
    wc = wx * np.float32(c[0]) + wy * np.float32(c[1]) + np.float32(c[2])
    disc = wc * wc - w2 * np.float32(c @ c - r * r)
    return (wc - np.sqrt(np.maximum(disc, 0.0))) / w2, disc > 0


def _raster_capsules(cam: Camera, scene: Scene, depth: np.ndarray, shade: np.ndarray,
                     label: np.ndarray) -> None:
    """Ray-cast every capsule of ``scene`` into the buffers (in place).

    Per pixel of a capsule's screen box: the ray meets the cylinder round the axis (radius
    taken where the ray passes closest to the axis, for the taper), or one of the two end
    spheres when the cylinder hit lies beyond an end.
    """
    H, W = depth.shape
    P = scene.caps_label.shape[0]
    A_all = scene.caps_a_mm @ cam.R.T + cam.t
    B_all = scene.caps_b_mm @ cam.R.T + cam.t
    uv, _ = camera_points(np.vstack([scene.caps_a_mm, scene.caps_b_mm]), cam)
    ua, ub = uv[:P], uv[P:]
    f = 0.5 * (cam.K[0, 0] + cam.K[1, 1])
    lights = (_LIGHTS_WORLD @ cam.R.T).astype(np.float32)  # towards the lights, camera frame
    coeffs = tuple(np.float32(v) for v in cam.dist8[:5])
    for p in range(P):
        A, B = A_all[p], B_all[p]
        if A[2] < _NEAR_MM or B[2] < _NEAR_MM:
            continue
        ra, rb = float(scene.caps_ra_mm[p]), float(scene.caps_rb_mm[p])
        rpa, rpb = 1.02 * ra * f / A[2] + 1, 1.02 * rb * f / B[2] + 1
        (ax, ay), (bx, by) = ua[p], ub[p]
        x0 = max(int(np.floor(min(ax - rpa, bx - rpb))), 0)
        x1 = min(int(np.ceil(max(ax + rpa, bx + rpb))), W - 1)
        y0 = max(int(np.floor(min(ay - rpa, by - rpb))), 0)
        y1 = min(int(np.ceil(max(ay + rpa, by + rpb))), H - 1)
        if x1 < x0 or y1 < y0:
            continue
        wx, wy = _pixel_rays(cam, x0, x1, y0, y1, coeffs)
        w2 = wx * wx + wy * wy + 1
        axis = B - A
        L = float(np.linalg.norm(axis))
        if L < 1e-6:
            lam, hit = _ray_sphere(wx, wy, w2, A, max(ra, rb))
            cx, cy, cz, rr = (np.float32(A[0]), np.float32(A[1]), np.float32(A[2]),
                              np.float32(max(ra, rb)))
        else:
            d = (axis / L).astype(np.float32)
            Ad = np.float32(A @ d)
            Ap = (A - (A @ d) * d).astype(np.float32)  # A's part perpendicular to the axis
            wd = wx * d[0] + wy * d[1] + d[2]
            px_, py_, pz_ = wx - wd * d[0], wy - wd * d[1], 1 - wd * d[2]
            a = np.maximum(px_ * px_ + py_ * py_ + pz_ * pz_, 1e-12)
            b = px_ * Ap[0] + py_ * Ap[1] + pz_ * Ap[2]
            s0 = np.clip((b / a * wd - Ad) / np.float32(L), 0.0, 1.0)
            rr = np.float32(ra) + s0 * np.float32(rb - ra)
            disc = b * b - a * (np.float32(Ap @ Ap) - rr * rr)
            hit = disc > 0
            lam = (b - np.sqrt(np.maximum(disc, 0.0))) / a
            s = lam * wd - Ad  # axis coordinate (mm from A) of the cylinder hit
            cx = d[0] * (s + Ad) + Ap[0]
            cy = d[1] * (s + Ad) + Ap[1]
            cz = d[2] * (s + Ad) + Ap[2]
            for end, C, r in ((s < 0, A, ra), (s > L, B, rb)):
                if end.any():
                    lam_e, hit_e = _ray_sphere(wx, wy, w2, C, r)
                    lam = np.where(end, lam_e, lam)
                    hit = np.where(end, hit_e, hit)
                    cx = np.where(end, np.float32(C[0]), cx)
                    cy = np.where(end, np.float32(C[1]), cy)
                    cz = np.where(end, np.float32(C[2]), cz)
                    rr = np.where(end, np.float32(r), rr)
        dview = depth[y0 : y1 + 1, x0 : x1 + 1]
        win = hit & (lam < dview) & (lam > _NEAR_MM)
        if not win.any():
            continue
        inv_r = 1.0 / rr
        nx, ny, nz = (lam * wx - cx) * inv_r, (lam * wy - cy) * inv_r, (lam - cz) * inv_r
        lam_shade = np.float32(_AMBIENT)
        for (lx, ly, lz), w in zip(lights, _LIGHT_WEIGHTS, strict=True):
            lam_shade = lam_shade + np.float32(w) * np.maximum(nx * lx + ny * ly + nz * lz, 0.0)
        dview[win] = lam[win]
        shade[y0 : y1 + 1, x0 : x1 + 1][win] = lam_shade[win]
        label[y0 : y1 + 1, x0 : x1 + 1][win] = scene.caps_label[p]


def _shirt_texture(kind: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """(y1 - y0, x1 - x0) float32 multiplicative pattern for the subject's shirt."""
    if kind == 0:
        return np.ones((y1 - y0, x1 - x0), np.float32)
    yy = np.arange(y0, y1, dtype=np.float32)[:, None]
    xx = np.arange(x0, x1, dtype=np.float32)[None, :]
    stripes = 0.75 + 0.25 * (np.sin(xx * 0.35) > 0.3)
    if kind == 2:
        stripes = stripes * (0.8 + 0.2 * (np.sin(yy * 0.3) > 0.5))
    return np.broadcast_to(stripes.astype(np.float32), (y1 - y0, x1 - x0))


def render_view(
    scene: Scene,
    cam: Camera,
    appearance: Appearance,
    background: np.ndarray,
    noise_u8: np.ndarray,
    *,
    grayscale: bool = False,
    noise_sigma: float = 3.0,
) -> RenderResult:
    """Render one view.

    Args:
        scene: the volumes and joints at one instant.
        cam: the camera (its width x height is the image size).
        appearance: subject colours.
        background: (H, W, 3) uint8 BGR studio background of this camera.
        noise_u8: (>= H*W*3,) int8/uint8-range noise samples (zero mean, unit sigma x 16)
            from which the sensor noise is taken.
        grayscale: a monochrome camera (written as 3 equal channels).
        noise_sigma: sensor noise standard deviation in grey levels.
    """
    H, W = cam.height, cam.width
    if background.shape != (H, W, 3):
        raise ValueError(f"background must be {(H, W, 3)}, got {background.shape}")
    depth = np.full((H, W), np.inf, np.float32)
    shade = np.zeros((H, W), np.float32)
    label = np.zeros((H, W), np.int8)
    _raster_capsules(cam, scene, depth, shade, label)

    img = background.astype(np.float32)
    fg = label > 0
    if fg.any():
        ys, xs = np.nonzero(fg)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        lab = label[y0:y1, x0:x1]
        col = appearance.albedo_bgr.astype(np.float32)[lab] * shade[y0:y1, x0:x1, None]
        body = lab == LABELS["body"]
        if body.any() and appearance.shirt_pattern:
            tex = _shirt_texture(appearance.shirt_pattern, y0, y1, x0, x1)
            col[body] *= tex[body][:, None]
        m = fg[y0:y1, x0:x1]
        img[y0:y1, x0:x1][m] = col[m]
    # Optics: a slight blur (anti-aliasing, lens), then sensor noise and quantisation.
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    if grayscale:
        g = img @ np.array([0.114, 0.587, 0.299], np.float32)
        img = np.repeat(g[:, :, None], 3, axis=2)
    n = noise_u8[: H * W * 3].reshape(H, W, 3).astype(np.float32)
    img += n * np.float32(noise_sigma / 16.0)
    out = np.clip(img, 0, 255).astype(np.uint8)
    return RenderResult(image=out, depth_mm=depth, label=label)


def joint_visibility(
    joints_world_mm: np.ndarray,
    joint_radius_mm: np.ndarray,
    cam: Camera,
    depth_mm: np.ndarray,
    *,
    tolerance_mm: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Which joints this view sees, from its depth map.

    A joint is visible when it projects inside the image and the nearest drawn surface at
    its pixel is not nearer than the joint's own surface (its depth minus the radius of its
    volume) by more than ``tolerance_mm``; otherwise something else is in front of it.

    Args:
        joints_world_mm: (J, 3), NaN for absent joints.
        joint_radius_mm: (J,).
        cam: the camera.
        depth_mm: (H, W) depth map of the view.
    Returns:
        ``(visible (J,) bool, uv_px (J, 2))``.
    """
    H, W = depth_mm.shape
    valid = np.all(np.isfinite(joints_world_mm), axis=1)
    uv, z = camera_points(np.nan_to_num(joints_world_mm), cam)
    uv[~valid] = np.nan
    ui = np.round(np.nan_to_num(uv[:, 0], nan=-1)).astype(np.int64)
    vi = np.round(np.nan_to_num(uv[:, 1], nan=-1)).astype(np.int64)
    inside = valid & (z > _NEAR_MM) & (ui >= 0) & (ui < W) & (vi >= 0) & (vi < H)
    d = np.full(uv.shape[0], -np.inf, np.float32)
    d[inside] = depth_mm[vi[inside], ui[inside]]
    visible = inside & (d >= z - joint_radius_mm - tolerance_mm)
    return visible, uv
