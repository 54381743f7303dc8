"""Child process for test_loader_workers: a forkserver DataLoader whose items are the pids of
the workers that made them; prints them, then waits to be killed."""

from __future__ import annotations

import os
import sys
import time

import torch

from machine_labeler.loader_workers import worker_init_fn


class PidDataset(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 10_000

    def __getitem__(self, k: int) -> int:
        return os.getpid()


if __name__ == "__main__":
    loader = torch.utils.data.DataLoader(
        PidDataset(), batch_size=1, num_workers=2, multiprocessing_context="forkserver",
        worker_init_fn=worker_init_fn(),
    )
    batches = iter(loader)
    pids = {int(next(batches)[0]) for _ in range(8)}
    print(" ".join(str(p) for p in sorted(pids)), flush=True)
    sys.stdout.close()
    time.sleep(600)
