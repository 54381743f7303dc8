"""DataLoader worker set-up shared by training and labelling.

Workers decode images with one thread each (one decoding process per core; no OpenCV or
torch pool inside), and they end with the process that started them. The loaders use the
``forkserver`` context, whose workers are children of the fork server, not of the training
or labelling process: when that process is killed (``kill -9``, a Slurm preemption, a
torchrun restart), PyTorch's own watchdog (which compares the parent pid) never fires, and
the orphaned worker stayed alive, holding its memory (~300 MB each, seen here after a killed
demo). Each worker therefore watches the pid of the process that built the loader and exits
within a second of it.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable

__all__ = ["worker_init_fn"]

_POLL_S = 1.0


def worker_init_fn() -> Callable[[int], None]:
    """``worker_init_fn`` for a DataLoader built by this process."""
    return functools.partial(_init, os.getpid())


def _init(owner_pid: int, _worker_id: int) -> None:
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    threading.Thread(target=_exit_with, args=(owner_pid,), daemon=True,
                     name=f"exit-with-{owner_pid}").start()


def _exit_with(pid: int) -> None:
    while True:
        time.sleep(_POLL_S)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid was reused by another user's process
            os._exit(0)
