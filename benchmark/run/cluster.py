"""Runs across several processes, GPUs or machines, on torch.distributed.

`torchrun --nproc_per_node N -m benchmark run ...` starts N copies of pagebench. Each
joins the process group (gloo on CPU, nccl on CUDA), encodes its share of the page
batches and query chunks, and sends the vectors to rank 0, which builds the index,
searches, computes the metrics and writes the one results file.

Work is shared round-robin by *batch*: batch i goes to rank i mod N, so each batch
holds exactly the pages it holds in a single-process run, every embedding is computed
from the same inputs, and the results equal a single-process run's.

The ranks agree on every outcome: work between two collectives runs inside
`agreed(cluster)`, a check-in where each rank says whether it raised a
`PagebenchError`. If one did, every rank raises the same `AgreedFailure`, so all of
them leave at the same point (rank 0 writes nothing for a task that failed anywhere)
and the next collective, the next task's, starts in step.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import NoReturn

from benchmark.core.device import is_cuda, resolve_device
from benchmark.core.errors import PagebenchError


class AgreedFailure(PagebenchError):
    """A PagebenchError raised on one rank, raised on every rank at the same check-in."""

    def __init__(self, message: str, rank: int):
        super().__init__(message)
        self.rank = rank  # the rank where it happened


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

    @contextmanager
    def agreed(self) -> Iterator[None]:
        """Work that ends in a check-in; a PagebenchError on any rank raises on every rank.

        Every rank raises `AgreedFailure` with the failing rank's message (the lowest
        rank's, if several failed), whatever its own work did. Other exceptions are bugs:
        that rank dies and torchrun stops the others.
        """
        import torch.distributed as dist

        failure: tuple[int, str] | None = None
        cause: PagebenchError | None = None
        try:
            yield
        except PagebenchError as error:
            # an AgreedFailure comes from a check-in nested in this one: already agreed
            origin = error.rank if isinstance(error, AgreedFailure) else self.rank
            failure, cause = (origin, str(error)), error
        failures: list = [None] * self.world_size
        dist.all_gather_object(failures, failure)
        reported = [each for each in failures if each is not None]
        if reported:
            rank, message = min(reported)
            raise AgreedFailure(message, rank) from cause


def agreed(cluster: Cluster | None) -> AbstractContextManager:
    """`cluster.agreed()` under torchrun; nothing to agree on in a single-process run."""
    return nullcontext() if cluster is None else cluster.agreed()


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
    try:
        backend = cluster_backend(resolve_device(device))
    except PagebenchError:  # a bad --device: `rank_device` raises it again, in a check-in
        backend = "gloo"
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
    if cluster is None:  # the retriever resolves it: a text baseline runs without torch installed
        return device
    resolve_device(device)  # under torchrun a bad --device fails here, inside the ranks' check-in
    if cluster.backend != "nccl":
        return device
    return f"cuda:{cluster.local_rank}"


def leave_cluster(cluster: Cluster | None, *, exit_status: int | None = None) -> None:
    """Leave the process group. Given the status this rank will exit with, first wait until
    every rank is here (never after a bug, which left the other ranks elsewhere).

    torchrun stops every rank still running (SIGTERM, status -15) as soon as one exits with
    an error. Python's shutdown takes long enough for that to happen, so the ranks of a
    failed run skip it: they exit together, right after the barrier, and a SIGTERM that
    still comes in between ends the rank with its own status.
    """
    if cluster is None:
        return
    import torch.distributed as dist

    if exit_status is not None:
        dist.barrier()
    if exit_status:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(exit_status))
    dist.destroy_process_group()
    if exit_status:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_status)


def exit_together(status: int) -> NoReturn:
    """End this torchrun rank with `status` once every rank is here: for an error found before
    the ranks joined (in the command line, which every rank reads alike)."""
    leave_cluster(join_cluster("cpu"), exit_status=status)
    raise SystemExit(status)  # not reached: leave_cluster ended the process


def to_host(vectors: list) -> list:
    """Tensors as gather_object can send them (CPU), whatever device they were made on."""
    return [vector.detach().cpu() for vector in vectors]
