"""Calibrated pinhole cameras with OpenCV lens distortion, and ordered rigs of them.

Conventions (docs/formats.md, "Conventions"): millimetres in 3D, pixels in 2D with the
top-left pixel's centre at (0, 0); ``x_cam = R_cam_from_world @ X_world + t_cam_from_world``;
the camera centre is ``center_world = -R.T @ t``. Distortion is the OpenCV vector
(k1, k2, p1, p2[, k3[, k4, k5, k6[, s1, s2, s3, s4[, tx, ty]]]]).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Camera", "CameraRig", "VALID_DIST_LENGTHS"]

#: Distortion vector lengths OpenCV accepts.
VALID_DIST_LENGTHS = (0, 4, 5, 8, 12, 14)
_ROTATION_TOL = 1e-6


def _as_float_array(value, shape: tuple[int, ...], what: str, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"camera {name!r}: {what} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"camera {name!r}: {what} contains NaN or inf")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera.

    Attributes:
        name: unique camera identifier (e.g. ``"400262"``).
        width, height: image size in pixels.
        K: (3, 3) intrinsic matrix, ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``.
        dist: (D,) OpenCV distortion coefficients, D in ``VALID_DIST_LENGTHS``;
            shorter vectors are zero-padded to 8 internally.
        R: (3, 3) rotation, world -> camera.
        t: (3,) translation in mm, world -> camera.
    """

    name: str
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise ValueError(f"camera name must be a non-empty string, got {name!r}")
        for attr in ("width", "height"):
            value = getattr(self, attr)
            if isinstance(value, bool) or int(value) != value or int(value) <= 0:
                raise ValueError(
                    f"camera {name!r}: {attr} must be a positive integer, got {value!r}"
                )
            object.__setattr__(self, attr, int(value))
        K = _as_float_array(self.K, (3, 3), "K", name)
        if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0.0, 0.0, 1.0]) or K[1, 0] != 0:
            raise ValueError(
                f"camera {name!r}: K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0"
            )
        dist = np.asarray(self.dist, dtype=np.float64).ravel()
        if dist.size not in VALID_DIST_LENGTHS:
            raise ValueError(
                f"camera {name!r}: dist must have one of {VALID_DIST_LENGTHS} coefficients, "
                f"got {dist.size}"
            )
        dist = _as_float_array(dist, dist.shape, "dist", name)
        R = _as_float_array(self.R, (3, 3), "R", name)
        if not np.allclose(R @ R.T, np.eye(3), atol=_ROTATION_TOL) or np.linalg.det(R) < 0:
            raise ValueError(f"camera {name!r}: R is not a rotation matrix (R Rᵀ ≠ I or det < 0)")
        t = _as_float_array(np.ravel(self.t), (3,), "t", name)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)

    @property
    def center_world(self) -> np.ndarray:
        """(3,) camera centre in world mm, ``-R.T @ t``."""
        return -self.R.T @ self.t

    @property
    def dist8(self) -> np.ndarray:
        """Distortion padded to at least 8 coefficients (k1, k2, p1, p2, k3, k4, k5, k6, ...)."""
        return np.pad(self.dist, (0, max(0, 8 - self.dist.size)))

    @property
    def P(self) -> np.ndarray:
        """(3, 4) projection matrix ``K [R | t]`` (distortion not included)."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return (self.width, self.height)

    def replace(self, **changes) -> Camera:
        """A copy with some fields changed (validated again)."""
        kwargs = {k: getattr(self, k) for k in ("name", "width", "height", "K", "dist", "R", "t")}
        kwargs.update(changes)
        return Camera(**kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Camera):
            return NotImplemented
        return (
            self.name == other.name
            and self.width == other.width
            and self.height == other.height
            and self.dist.shape == other.dist.shape
            and all(
                np.array_equal(getattr(self, a), getattr(other, a)) for a in ("K", "dist", "R", "t")
            )
        )

    def __hash__(self) -> int:
        return hash((self.name, self.width, self.height, self.K.tobytes(), self.t.tobytes()))

    def __repr__(self) -> str:
        fx, fy = self.K[0, 0], self.K[1, 1]
        c = self.center_world
        return (
            f"Camera({self.name!r}, {self.width}x{self.height}, f=({fx:.1f}, {fy:.1f}), "
            f"center_world=({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm)"
        )


class CameraRig(Sequence[Camera]):
    """An ordered, immutable list of uniquely named cameras with stacked parameters.

    The order is the order given; it is the camera axis ``C`` of every array that goes with
    the rig. Stacked arrays: ``K (C, 3, 3)``, ``dist (C, Dmax≥8)``, ``R (C, 3, 3)``,
    ``t (C, 3)``, ``sizes (C, 2)`` as (width, height), ``P (C, 3, 4)``.
    """

    def __init__(self, cameras: Iterable[Camera]):
        cams = tuple(cameras)
        if not cams:
            raise ValueError("a CameraRig needs at least one camera")
        for cam in cams:
            if not isinstance(cam, Camera):
                raise ValueError(f"CameraRig takes Camera objects, got {type(cam).__name__}")
        names = [c.name for c in cams]
        seen: set[str] = set()
        dups = sorted({n for n in names if n in seen or seen.add(n)})
        if dups:
            raise ValueError(f"duplicate camera names in rig: {', '.join(dups)}")
        self._cameras = cams
        self._index = {n: i for i, n in enumerate(names)}
        dmax = max(8, max(c.dist.size for c in cams))
        self.K = np.stack([c.K for c in cams])
        self.dist = np.stack([np.pad(c.dist, (0, dmax - c.dist.size)) for c in cams])
        self.R = np.stack([c.R for c in cams])
        self.t = np.stack([c.t for c in cams])
        self.sizes = np.array([[c.width, c.height] for c in cams], dtype=np.int64)
        self.P = np.einsum("cij,cjk->cik", self.K, np.concatenate([self.R, self.t[:, :, None]], 2))
        self.centers_world = -np.einsum("cji,cj->ci", self.R, self.t)
        for arr in (self.K, self.dist, self.R, self.t, self.sizes, self.P, self.centers_world):
            arr.setflags(write=False)

    @property
    def names(self) -> list[str]:
        """Camera names in rig order."""
        return [c.name for c in self._cameras]

    def index(self, name: str) -> int:  # type: ignore[override]
        """Position of the camera called ``name``."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no camera named {name!r} in rig") from None

    def __len__(self) -> int:
        return len(self._cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self._cameras)

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return self._cameras[self.index(key)]
        if isinstance(key, slice):
            return CameraRig(self._cameras[key])
        return self._cameras[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self._index
        return key in self._cameras

    def subset(self, names: Iterable[str]) -> CameraRig:
        """A new rig with the named cameras, in the order given."""
        return CameraRig([self[n] for n in names])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CameraRig):
            return NotImplemented
        return self._cameras == other._cameras

    def __hash__(self) -> int:
        return hash(self._cameras)

    def __repr__(self) -> str:
        shown = ", ".join(self.names[:6]) + (", …" if len(self) > 6 else "")
        return f"CameraRig({len(self)} cameras: {shown})"
