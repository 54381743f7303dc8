"""Child of the crash-safety test: continue the numbered saves until there are ``total``.

Save k sets the click (instant k // J, camera 0, joint k % J) to (k, k + 0.5) and the 3D
joint of the same instant and joint to (k, 2k, 3k); so the saved state tells how many
saves completed.
"""

from __future__ import annotations

import sys

import numpy as np

from annotator import skeleton
from annotator.store import ProjectStore

J = skeleton.NUM_JOINTS


def main(path: str, total: int) -> int:
    store = ProjectStore.open(path, mode="w")
    done = sum(
        int(np.count_nonzero(~np.isnan(store.labels(i).clicks_uv_px[0, :, 0])))
        for i in range(store.num_instants)
    )
    print("ready", done, flush=True)
    for k in range(done, total):
        i, j = divmod(k, J)
        store.set_click(i, 0, j, (float(k), k + 0.5), annotator="crash")
        joints = np.full((J, 3), np.nan)
        joints[j] = [k, 2 * k, 3 * k]
        store.set_joints_3d(i, joints, annotator="crash")
        store.save()
        print("saved", k, flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
