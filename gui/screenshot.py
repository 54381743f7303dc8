"""``--screenshot``: draw the window offscreen with some joints placed and save a PNG.

Joints are placed through the session the way an annotator would (clicks at the ground-truth
2D positions in two of the shown views) when the project has ground truth; the edits are
discarded afterwards, so taking a screenshot never changes the project.
"""

from __future__ import annotations

import logging

import numpy as np

from annotator import skeleton

__all__ = ["place_from_ground_truth"]

log = logging.getLogger(__name__)


def place_from_ground_truth(session, fraction: float = 0.75, views: int = 2,
                            noise_px: float = 0.8, seed: int = 0) -> int:
    """Click the first ``fraction`` of the visible joints in ``views`` cameras.

    Clicks land at the ground-truth 2D of the current instant plus Gaussian noise of
    ``noise_px`` (a careful annotator), in the shown cameras first, then any camera seeing
    the joint. The next joint gets a single click (so its epipolar curves show) and is
    selected. Returns the number of clicks.
    """
    store = session.store
    if not store.has_ground_truth:
        return 0
    gt = store.ground_truth(session.instant)
    cam_idx = {c: k for k, c in enumerate(store.camera_names)}
    shown = [cam_idx[c] for c in session.views]
    others = [k for k in (cam_idx[c] for c in session.cameras) if k not in shown]
    rng = np.random.default_rng(seed)
    order = [j for j in range(skeleton.NUM_JOINTS)
             if gt.hand_present[skeleton.HANDS.index(skeleton.HAND_OF_JOINT[j])]]
    for h, hand in enumerate(skeleton.HANDS):
        if not gt.hand_present[h]:
            session.set_hand_absent(hand, True)
    n_full = int(round(fraction * len(order)))
    clicks = 0
    last = None
    for rank, j in enumerate(order):
        seen = [k for k in shown + others if gt.visible[k, j]]
        if len(seen) < 2:
            continue
        want = views if rank < n_full else 1
        for k in seen[:want]:
            cam = store.camera_names[k]
            w, h = session.store.rig(store.instant(session.instant).capture)[cam].size
            uv = np.clip(gt.uv_px[k, j] + rng.normal(0.0, noise_px, 2), 0, [w - 1, h - 1])
            session.click(cam, uv, joint=j)
            clicks += 1
        last = j
        if rank >= n_full:
            break
    if last is not None:
        session.select_joint(last)
    return clicks


def take_screenshot(window, path, place: bool = True) -> None:
    """Place joints (if asked and possible), fit the panels to the hands, save ``path``."""
    from PyQt5.QtWidgets import QApplication

    session = window.session
    if place and not window.read_only:
        n = window.intent(place_from_ground_truth, session)
        log.info("screenshot: %s clicks placed from ground truth", n)
    QApplication.processEvents()
    window.act_fit_hands()
    window.flush()
    image = window.grab()
    if not image.save(str(path)):
        raise OSError(f"cannot write the screenshot {path}")
    if not window.read_only:
        session.store.discard_changes()
