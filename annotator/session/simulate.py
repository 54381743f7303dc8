"""A simulated human annotator that works through the app's own session model.

For a deterministic choice of instants (a seeded permutation, at least one) it opens each
instant in an :class:`~annotator.session.AnnotationSession`, marks the hands that the
ground truth says are absent (and the others present), and for every joint of a present
hand asks the session for its best ``views`` cameras among those where the ground truth
says the joint is visible (the same automatic choice the app makes for its panels, from the
3D it has so far), clicks there at the true 2D position plus Gaussian noise (clipped into
the image), and saves after each instant like the app's autosave on instant change. The
human 3D labels it leaves are compared with the ground truth.

Instants it labels are relabelled from scratch: their clicks, marks and human 3D joints
are cleared first.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from annotator import skeleton
from annotator.session import AnnotationSession

__all__ = ["SimulationResult", "choose_instants", "simulate_annotator", "human_label_errors"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationResult:
    """3D error of the simulated human labels against ground truth.

    instants: (F',) int64 instants labelled; errors_mm: (N,) Euclidean error of every
    human-labelled joint of a present hand on them; clicks: clicks placed; skipped_joints:
    joints of present hands visible in fewer than two cameras (not labelled).
    """

    instants: np.ndarray
    errors_mm: np.ndarray
    clicks: int
    skipped_joints: int
    views: int
    noise_px: float

    @property
    def median_mm(self) -> float:
        return float(np.median(self.errors_mm)) if self.errors_mm.size else float("nan")

    @property
    def mean_mm(self) -> float:
        return float(np.mean(self.errors_mm)) if self.errors_mm.size else float("nan")

    def summary(self) -> dict:
        """``{"median_mm", "mean_mm", "instants", "joints"}`` (the ``--json`` document)."""
        return {
            "median_mm": self.median_mm,
            "mean_mm": self.mean_mm,
            "instants": int(self.instants.size),
            "joints": int(self.errors_mm.size),
        }


def choose_instants(num_instants: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``max(1, round(fraction * num_instants))`` instants (seeded)."""
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if num_instants < 1:
        raise ValueError("the project has no instants")
    n = max(1, int(round(float(fraction) * num_instants)))
    perm = np.random.default_rng([int(seed), 0]).permutation(num_instants)
    return np.sort(perm[:n]).astype(np.int64)


def human_label_errors(store, instants: np.ndarray) -> np.ndarray:
    """(N,) mm: error of every human 3D joint of a ground-truth-present hand on ``instants``."""
    out = []
    present_joint = np.repeat(np.arange(2), skeleton.JOINTS_PER_HAND)
    for i in np.asarray(instants).tolist():
        gt = store.ground_truth(i)
        lab = store.labels(i)
        keep = (lab.joint_source == "human") & gt.hand_present[present_joint]
        keep &= np.isfinite(lab.joints_world_mm[:, 0])
        out.append(np.linalg.norm(lab.joints_world_mm[keep] - gt.joints_world_mm[keep], axis=1))
    return np.concatenate(out) if out else np.zeros(0)


def simulate_annotator(
    store,
    fraction: float = 0.25,
    views: int = 2,
    noise_px: float = 1.5,
    seed: int = 0,
    annotator: str = "simulated",
    progress: Callable[[int, int], None] | None = None,
    view_policy: str = "session",
    click_seconds: float | None = None,
) -> SimulationResult:
    """Label a seeded ``fraction`` of the instants of ``store`` (opened for writing, with
    ground truth) through an :class:`AnnotationSession`; see the module docstring.

    Args:
        views: cameras clicked per joint (>= 2; fewer where fewer see the joint).
        noise_px: standard deviation of the Gaussian click noise per axis, px.
        progress: ``progress(instants_done, instants_total)`` after each instant.
        view_policy: "session" (the session's automatic choice, as the app) or "random"
            (seeded random cameras among those that see the joint: a baseline for benchmarks).
        click_seconds: None: clicks and joints carry the real time; else a simulated clock
            stamps them, starting now and advancing by a seeded log-normal pause of this mean
            (seconds) before every click and ten times it before every instant (the pace a
            quality report turns into joints per hour).
    """
    if isinstance(views, bool) or not isinstance(views, (int, np.integer)) or views < 2:
        raise ValueError(f"views must be an integer >= 2, got {views!r}")
    if not np.isfinite(noise_px) or noise_px < 0:
        raise ValueError(f"noise_px must be finite and >= 0, got {noise_px}")
    if view_policy not in ("session", "random"):
        raise ValueError(f"view_policy must be 'session' or 'random', got {view_policy!r}")
    if not store.has_ground_truth:
        raise ValueError(
            f"{store.path}: the project has no ground truth (simulate-annotator needs a "
            "synthetic project, e.g. from 'annotator synth')"
        )
    if click_seconds is not None and not (np.isfinite(click_seconds) and click_seconds > 0):
        raise ValueError(f"click_seconds must be finite and > 0, got {click_seconds}")
    chosen = choose_instants(store.num_instants, fraction, seed)
    rng = np.random.default_rng([int(seed), 1])
    clock = _PacedClock(click_seconds, seed)
    session = AnnotationSession(store, annotator=annotator, autosave_s=None,
                                instant=int(chosen[0]), wall_clock=clock)
    for i in chosen.tolist():  # relabel from scratch: earlier runs must not steer the views
        session.goto(i)
        session.clear_joint(None)
    clicks = skipped = 0
    for done, i in enumerate(chosen.tolist(), start=1):
        gt = store.ground_truth(i)
        if gt is None:
            raise ValueError(f"{store.path}: instant {i} has no ground truth")
        session.goto(i)
        clock.pause(10.0)
        n_clicks, n_skipped = _label_instant(session, gt, int(views), float(noise_px), rng,
                                               view_policy, clock)
        clicks += n_clicks
        skipped += n_skipped
        session.save()
        if progress is not None:
            progress(done, len(chosen))
    errors = human_label_errors(store, chosen)
    logger.info("simulated %d clicks on %d instants", clicks, len(chosen))
    return SimulationResult(chosen, errors, clicks, skipped, int(views), float(noise_px))


class _PacedClock:
    """Unix seconds of a simulated annotator: with ``click_seconds`` None the real time
    (pauses do nothing); else it starts now and moves only when told."""

    def __init__(self, click_seconds: float | None, seed: int):
        self.now = _time.time()
        self.mean = None if click_seconds is None else float(click_seconds)
        self.rng = np.random.default_rng([int(seed), 2])

    def pause(self, clicks: float = 1.0) -> None:
        """Advance by a log-normal pause of mean ``clicks * click_seconds`` (sigma 0.5)."""
        if self.mean is None:
            return
        sigma = 0.5
        self.now += float(self.rng.lognormal(np.log(clicks * self.mean) - sigma**2 / 2, sigma))

    def __call__(self) -> float:
        return _time.time() if self.mean is None else self.now


def _label_instant(
    session: AnnotationSession, gt, views: int, noise_px: float, rng, view_policy: str,
    clock: _PacedClock,
) -> tuple:
    """Click every visible joint of the present hands of the current instant."""
    rig = session.rig
    names = rig.names
    proj = np.array([session.store.camera_index(n) for n in names], np.int64)
    visible = gt.visible[proj]  # (Cr, J) on the rig's camera axis
    uv_true = gt.uv_px[proj]  # (Cr, J, 2)
    hi = rig.sizes - 0.5  # (Cr, 2) last pixel edge
    index = {n: k for k, n in enumerate(names)}
    clicks = skipped = 0
    for h, hand in enumerate(skeleton.HANDS):
        present = bool(gt.hand_present[h])
        session.set_hand_absent(hand, absent=not present)
        if not present:
            continue
        for j in skeleton.hand_joints(hand).tolist():
            seen = visible[:, j] & np.isfinite(uv_true[:, j, 0])
            if seen.sum() < 2:
                skipped += 1
                continue
            if view_policy == "random":
                picked = [names[k] for k in rng.permutation(np.flatnonzero(seen))[:views]]
            else:
                picked = session.auto_views(views, candidates=seen)
            for name in picked:
                c = index[name]
                uv = uv_true[c, j] + rng.normal(0.0, noise_px, 2)
                clock.pause()
                session.click(name, np.clip(uv, -0.5, hi[c]), joint=j)
                clicks += 1
    return clicks, skipped
