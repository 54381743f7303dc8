"""The synthetic studio: a rig, subjects and a capture plan; renders any instant on demand.

``Studio`` is a pure function of its ``StudioConfig``: every instant and view is rendered
from random streams keyed by (seed, instant, camera), so the result does not depend on the
order of rendering or on how work is split across processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.skeleton import HANDS, NUM_JOINTS, hand_slice
from annotator.synth.background import is_grayscale, make_background
from annotator.synth.dome import make_dome
from annotator.synth.render import RenderResult, joint_visibility, render_view
from annotator.synth.script import build_scene, plan_instants, state_at, subject_script
from annotator.synth.subjects import make_subjects

__all__ = ["StudioConfig", "InstantRender", "Studio"]

_NOISE_BANK = 1 << 21  # samples; each view reads a window at a random offset


@dataclass(frozen=True)
class StudioConfig:
    """What to generate.

    Attributes:
        cameras: number of cameras in the dome (C).
        instants: number of time instants (F).
        subjects: number of subjects (one capture each).
        seed: random seed; the same config gives the same capture, byte for byte.
        width, height: landscape image size (portrait cameras swap them).
        noise_sigma: sensor noise standard deviation, grey levels.
    """

    cameras: int = 80
    instants: int = 60
    subjects: int = 2
    seed: int = 0
    width: int = 512
    height: int = 334
    noise_sigma: float = 3.0

    def __post_init__(self) -> None:
        for name in ("cameras", "instants", "subjects", "width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"StudioConfig.{name} must be a positive integer, got {v!r}")
        if self.width < 64 or self.height < 64:
            raise ValueError(f"image size {self.width}x{self.height} is too small (>= 64)")
        if self.noise_sigma < 0:
            raise ValueError(f"noise_sigma must be >= 0, got {self.noise_sigma}")


@dataclass(frozen=True)
class InstantRender:
    """One instant rendered in some cameras.

    Attributes:
        images: per requested camera, (H, W, 3) uint8 BGR.
        visible: (C', J) bool, joint visible in that view.
        uv_px: (C', J, 2) ground-truth projections (NaN for an absent hand).
        depth_mm, label: per camera depth (H, W) and label (H, W) maps (kept when asked).
    """

    images: list[np.ndarray]
    visible: np.ndarray
    uv_px: np.ndarray
    depth_mm: list[np.ndarray] | None = None
    label: list[np.ndarray] | None = None


class Studio:
    """A generated studio capture (rig, subjects, plan) that renders views on demand."""

    def __init__(self, config: StudioConfig):
        self.config = config
        c = config
        self.rig = make_dome(c.cameras, width=c.width, height=c.height, seed=c.seed)
        self.subjects = make_subjects(c.subjects, seed=c.seed)
        self.scripts = [subject_script(s, c.seed) for s in range(c.subjects)]
        self.plan = plan_instants(c.instants, c.subjects, seed=c.seed)
        self._backgrounds: dict[int, np.ndarray] = {}
        self._noise: np.ndarray | None = None
        self._joints = None
        self._radius = None

    @property
    def num_instants(self) -> int:
        return len(self.plan)

    def _ground_truth(self) -> tuple[np.ndarray, np.ndarray]:
        if self._joints is None:
            n = self.num_instants
            joints = np.full((n, NUM_JOINTS, 3), np.nan)
            radius = np.zeros((n, NUM_JOINTS))
            for i in range(n):
                scene = self.scene(i)
                joints[i], radius[i] = scene.joints_mm, scene.joint_radius_mm
            self._joints, self._radius = joints, radius
        return self._joints, self._radius

    def joints_world_mm(self) -> np.ndarray:
        """(F, J, 3) ground-truth joints in world mm, NaN for an absent hand."""
        return self._ground_truth()[0].copy()

    def joint_radius_mm(self) -> np.ndarray:
        """(F, J) radius of the volume around each joint (mm)."""
        return self._ground_truth()[1].copy()

    def hand_present(self) -> np.ndarray:
        """(F, 2) bool in ``skeleton.HANDS`` order."""
        joints = self._ground_truth()[0]
        return np.stack(
            [np.isfinite(joints[:, hand_slice(h), 0]).all(axis=1) for h in HANDS], axis=1
        )

    def state(self, i: int):
        """(right, left) hand states of instant ``i`` (None for an absent hand)."""
        p = self.plan[i]
        return state_at(self.scripts[p.subject][p.sequence], p.local_frame)

    def scene(self, i: int):
        """The ``render.Scene`` of instant ``i``."""
        p = self.plan[i]
        right, left = self.state(i)
        return build_scene(self.subjects[p.subject], right, left)

    def background(self, c: int) -> np.ndarray:
        if c not in self._backgrounds:
            self._backgrounds[c] = make_background(self.rig, c, self.config.seed)
        return self._backgrounds[c]

    def _noise_bank(self) -> np.ndarray:
        if self._noise is None:
            rng = np.random.default_rng([self.config.seed, 0x401])
            self._noise = np.clip(rng.normal(0.0, 16.0, _NOISE_BANK), -127, 127).astype(np.int8)
        return self._noise

    def render(self, i: int, cameras=None, *, keep_maps: bool = False) -> InstantRender:
        """Render instant ``i`` in the given camera indices (default: all)."""
        if not 0 <= i < self.num_instants:
            raise ValueError(f"instant {i} out of range 0..{self.num_instants - 1}")
        cams = range(len(self.rig)) if cameras is None else list(cameras)
        p = self.plan[i]
        scene = self.scene(i)
        appearance = self.subjects[p.subject].appearance
        noise = self._noise_bank()
        images, vis, uvs, depths, labels = [], [], [], [], []
        for c in cams:
            cam = self.rig[c]
            rng = np.random.default_rng([self.config.seed, 0x1A, i, c])
            n = cam.width * cam.height * 3
            off = int(rng.integers(0, noise.size - n))
            res: RenderResult = render_view(
                scene, cam, appearance, self.background(c), noise[off : off + n],
                grayscale=is_grayscale(self.config.seed, c), noise_sigma=self.config.noise_sigma,
            )
            v, uv = joint_visibility(scene.joints_mm, scene.joint_radius_mm, cam, res.depth_mm)
            images.append(res.image)
            vis.append(v)
            uvs.append(uv)
            if keep_maps:
                depths.append(res.depth_mm)
                labels.append(res.label)
        return InstantRender(
            images=images,
            visible=np.array(vis, dtype=bool).reshape(len(images), NUM_JOINTS),
            uv_px=np.array(uvs).reshape(len(images), NUM_JOINTS, 2),
            depth_mm=depths if keep_maps else None,
            label=labels if keep_maps else None,
        )
