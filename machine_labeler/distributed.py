"""Where this process stands in a ``torchrun`` job, and deterministic sharding of instants.

``torchrun --nproc_per_node=N`` (and ``srun torchrun ...``) sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; without them
this is a single process of rank 0 in a world of 1. Labelling needs no gradients, only
barriers, so the process group is gloo on every device (CPU tests and GPU nodes alike).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "dist_info",
    "init_distributed",
    "barrier",
    "shutdown",
    "shard_instants",
    "pick_device",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def dist_info() -> DistInfo:
    """Rank and world from the torchrun environment (rank 0 of 1 without it)."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    local_world = _env_int("LOCAL_WORLD_SIZE", world)
    local_rank = _env_int("LOCAL_RANK", rank % max(1, local_world))
    return DistInfo(rank, world, local_rank, local_world)


def init_distributed(info: DistInfo, timeout_s: float = 1800.0) -> None:
    """Join the gloo process group when running under torchrun with WORLD_SIZE > 1."""
    if not info.distributed or (dist.is_available() and dist.is_initialized()):
        return
    dist.init_process_group(
        "gloo", rank=info.rank, world_size=info.world_size, timeout=timedelta(seconds=timeout_s)
    )
    logger.info("rank %d of %d joined the process group", info.rank, info.world_size)


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_instants(instants: Sequence[int], rank: int, world_size: int) -> np.ndarray:
    """Rank ``rank``'s share of the sorted instants: every ``world_size``-th, from ``rank``.

    A function of the sorted list alone, so every rank computes the same partition, each
    instant belongs to exactly one rank, and interleaving balances instants of different
    sequences.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
    arr = np.unique(np.asarray(instants, np.int64))
    return arr[rank::world_size]


def pick_device(requested: str, info: DistInfo) -> torch.device:
    """``auto`` -> this rank's GPU when CUDA is there, else the CPU; ``cuda`` without CUDA
    is a ValueError."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {requested!r}")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return torch.device("cuda", info.local_rank % torch.cuda.device_count())
