"""torchrun rank, device choice and the stop-on-any-rank all-reduce (real gloo processes)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from torch_common.distributed import (
    DistInfo,
    any_rank,
    barrier,
    dist_info,
    init_distributed,
    pick_device,
    shutdown,
)


def test_rank_and_world_come_from_the_torchrun_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert dist_info() == DistInfo(0, 1, 0, 1) and not dist_info().distributed
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert dist_info() == DistInfo(3, 4, 1, 2)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="RANK=4 is not in 0..WORLD_SIZE-1"):
        dist_info()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        dist_info()


def test_device_choice():
    one = DistInfo(0, 1, 0, 1)
    assert pick_device("cpu", one) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert pick_device("auto", one) == torch.device("cpu")
        for choice in ("cuda", "cuda:0"):
            with pytest.raises(ValueError, match="no CUDA device"):
                pick_device(choice, one)
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        pick_device("tpu", one)


def test_outside_a_process_group_everything_is_local():
    one = DistInfo(0, 1, 0, 1)
    assert init_distributed(one) is False
    assert any_rank(True) is True and any_rank(False) is False
    barrier()
    shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, flags: list[bool], out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    info = DistInfo(rank, world, rank, world)
    started = init_distributed(info, torch.device("cpu"), timeout_s=60)
    try:
        out.put((rank, started, any_rank(flags[rank]), any_rank(False)))
        barrier()
    finally:
        shutdown()


@pytest.mark.parametrize("flags,expected", [([False, True], True), ([False, False], False)])
def test_any_rank_is_true_on_every_rank_when_one_says_so(flags, expected):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, 2, port, flags, out)) for r in range(2)]
    for p in procs:
        p.start()
    got = sorted(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert got == [(0, True, expected, False), (1, True, expected, False)]
