"""Child process of test_session_crash: edits, autosaves, edits again, then waits to be killed.

argv: PROJECT. Prints "saved" after the autosave of joint A's clicks and "edited" after the
unsaved clicks of joint B, then sleeps.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from annotator.session import AnnotationSession
from annotator.store import ProjectStore


def two_views(store, i: int, j: int) -> list[str]:
    gt = store.ground_truth(i)
    return [c for c in store.rig(store.instant(i).capture).names
            if gt.visible[store.camera_index(c), j]][:2]


def main(path: str) -> None:
    store = ProjectStore.open(path, mode="w")
    session = AnnotationSession(store, annotator="crash", autosave_s=0.05)
    gt = store.ground_truth(0)
    counts = gt.visible.sum(0)
    a, b = (int(j) for j in np.nonzero(counts >= 2)[0][:2])
    for j in (a,):
        for cam in two_views(store, 0, j):
            session.click(cam, gt.uv_px[store.camera_index(cam), j], joint=j)
    time.sleep(0.1)
    assert session.maybe_autosave()
    print("saved", a, b, flush=True)
    for cam in two_views(store, 0, b):
        session.click(cam, gt.uv_px[store.camera_index(cam), b], joint=b)
    print("edited", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    main(sys.argv[1])
