"""Child of the crash-safety test: continue the numbered saves until there are ``total``.

Save k changes all three committed files together: it appends instant (capture "0",
sequence "crash", frame k) to frames.h5, sets that instant's click (camera 0, joint k % J)
to (k, k + 0.5) and its 3D joint k % J to (k, 2k, 3k) in labels.h5, and sets
``metadata["saves"] = k + 1`` in project.toml. So each file tells how many saves completed.

Every ``os.replace`` in this process sleeps 5 ms first: the kills stay real SIGKILLs, but
the stretch between a save's journal and its last rename gets long enough that many of
them land inside it.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from annotator import skeleton
from annotator.store import ProjectStore

J = skeleton.NUM_JOINTS


_real_replace = os.replace


def _slow_replace(src, dst):
    time.sleep(0.005)
    _real_replace(src, dst)


def main(path: str, total: int) -> int:
    os.replace = _slow_replace
    store = ProjectStore.open(path, mode="w")
    done = int(store.metadata.get("saves", 0))
    print("ready", done, flush=True)
    for k in range(done, total):
        paths = np.array([[f"0/crash/cam{c}/image{k:04d}.jpg" for c in store.camera_names]])
        (i,) = store.add_instants(["0"], ["crash"], [k], paths)
        j = k % J
        store.set_click(int(i), 0, j, (float(k), k + 0.5), annotator="crash")
        joints = np.full((J, 3), np.nan)
        joints[j] = [k, 2 * k, 3 * k]
        store.set_joints_3d(int(i), joints, annotator="crash")
        store.metadata["saves"] = k + 1
        store.save()
        print("saved", k, flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
