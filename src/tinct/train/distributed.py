"""Distributed training with PyTorch's engine: torchrun environment -> process group, sampler."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_type: str) -> DistInfo:
    """Joins the process group when launched by torchrun (WORLD_SIZE > 1): gloo on CPU,
    nccl on CUDA. A single process returns the trivial DistInfo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    if device_type == "cuda":
        torch.cuda.set_device(local)
    return DistInfo(rank, world, local)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        value = value.clone()
        dist.all_reduce(value)
        value /= info.world_size
    return value


def broadcast_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Copies rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP treats rank 0's buffers as the truth and broadcasts them before each forward; after
    the last step of a phase the ranks hold their own updates, so sync before saving.
    """
    if info.enabled:
        for buf in model.buffers():
            dist.broadcast(buf, 0)


class ShardSampler(Sampler[int]):
    """This rank's share of an epoch (every ``world``-th position, as DistributedSampler with
    ``shuffle=False``), starting after ``skip`` positions already consumed by the run.

    The dataset's own epoch order is already shuffled deterministically, so sharding it by
    stride keeps every rank's data disjoint and makes resuming at any position exact.
    """

    def __init__(self, length: int, rank: int, world: int, skip: int = 0):
        self.length, self.rank, self.world, self.skip = length, rank, world, skip

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.skip * self.world + self.rank, self.length, self.world))

    def __len__(self) -> int:
        return len(range(self.skip * self.world + self.rank, self.length, self.world))
