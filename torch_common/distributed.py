"""Where this process stands in a ``torchrun`` job, its device, and the collective steps the
trainings and the labelling share.

``torchrun --nproc_per_node=N`` (and ``srun torchrun ...``) sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; without them this
is a single process of rank 0 in a world of 1 and every function here is a no-op.

Backends: trainings all-reduce gradients, so they join NCCL on CUDA and gloo on the CPU;
labelling needs only barriers and asks for gloo on every device.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "dist_info",
    "pick_device",
    "init_distributed",
    "barrier",
    "shutdown",
    "any_rank",
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


def pick_device(requested: str | torch.device, info: DistInfo | None = None) -> torch.device:
    """The device of a ``--device`` choice: ``auto`` is this rank's GPU when CUDA is there,
    else the CPU; ``cuda`` is this rank's GPU (``LOCAL_RANK`` modulo the GPUs); ``cuda:N``
    that GPU. A CUDA choice without CUDA, or an unknown word, is a ValueError. A CUDA device
    is also made the current one (NCCL and ``.cuda()`` use it)."""
    text = str(requested)
    info = info or dist_info()
    if text not in ("auto", "cpu", "cuda") and not text.startswith("cuda:"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {text!r}")
    if text == "cpu" or (text == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"--device {text}: no CUDA device is available")
    if text.startswith("cuda:"):
        device = torch.device(text)
    else:
        device = torch.device("cuda", info.local_rank % torch.cuda.device_count())
    torch.cuda.set_device(device)
    return device


def init_distributed(
    info: DistInfo,
    device: torch.device | None = None,
    *,
    backend: str | None = None,
    timeout_s: float = 1800.0,
) -> bool:
    """Join the process group under torchrun with WORLD_SIZE > 1; True when this call
    started it (the caller then ends it with :func:`shutdown`). The backend is ``backend``,
    else NCCL for a CUDA ``device`` and gloo otherwise."""
    if not info.distributed or (dist.is_available() and dist.is_initialized()):
        return False
    if backend is None:
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    dist.init_process_group(
        backend, rank=info.rank, world_size=info.world_size, timeout=timedelta(seconds=timeout_s)
    )
    logger.info("rank %d of %d joined the %s process group", info.rank, info.world_size, backend)
    return True


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def barrier() -> None:
    if _active():
        dist.barrier()


def shutdown() -> None:
    if _active():
        dist.destroy_process_group()


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is True on any (one tiny all-reduce; ``flag`` itself
    outside a process group). Every rank must call it at the same point: a training stops
    on all ranks at the same step when one runs out of time or is interrupted."""
    if not _active() or dist.get_world_size() == 1:
        return bool(flag)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" \
        else torch.device("cpu")
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
