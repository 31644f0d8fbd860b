"""Runs across several processes, GPUs or machines, on torch.distributed.

`torchrun --nproc_per_node N -m benchmark run ...` starts N copies of pagebench. Each
joins the process group (gloo on CPU, nccl on CUDA), encodes its share of the page
batches and query chunks, and sends the vectors to rank 0, which builds the index,
searches, computes the metrics and writes the one results file.

Work is shared round-robin by *batch*: batch i goes to rank i mod N, so each batch
holds exactly the pages it holds in a single-process run, every embedding is computed
from the same inputs, and the results equal a single-process run's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from benchmark.core.device import is_cuda, resolve_device


@dataclass(frozen=True)
class Cluster:
    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, index: int) -> bool:
        return index % self.world_size == self.rank

    def rounds(self, n_items: int) -> range:
        """Rounds of one item per rank: item `round * world_size + rank` in each."""
        return range(-(-n_items // self.world_size))

    def gather(self, value) -> list | None:
        """Every rank's `value`, in rank order, on rank 0; None elsewhere."""
        import torch.distributed as dist

        received = [None] * self.world_size if self.is_main else None
        dist.gather_object(value, received, dst=0)
        return received


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def join_cluster(device: str) -> Cluster | None:
    """Join the process group torchrun set up; None for an ordinary single-process run.

    `device` is the --device asked for: on CUDA each rank takes GPU `LOCAL_RANK` (nccl).
    """
    if not launched_by_torchrun():
        return None
    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = cluster_backend(resolve_device(device))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Cluster(dist.get_rank(), dist.get_world_size(), local_rank, backend)


def cluster_backend(device: str) -> str:
    """nccl when the ranks compute on CUDA, gloo otherwise."""
    return "nccl" if is_cuda(device) else "gloo"


def rank_device(cluster: Cluster | None, device: str) -> str:
    """Each rank's --device: its own GPU (`cuda:<local rank>`) when on CUDA."""
    if cluster is None or cluster.backend != "nccl":
        return device
    return f"cuda:{cluster.local_rank}"


def leave_cluster(cluster: Cluster | None) -> None:
    if cluster is not None:
        import torch.distributed as dist

        dist.destroy_process_group()


def to_host(vectors: list) -> list:
    """Tensors as gather_object can send them (CPU), whatever device they were made on."""
    return [vector.detach().cpu() for vector in vectors]
