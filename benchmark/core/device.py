"""Which device and dtype a run uses: one resolution for retrievers, engine and sharded runs.

`--device` takes auto, cpu, mps, cuda or cuda:N (under torchrun each rank is given its
own `cuda:<local rank>`). The logic is a pure function of what the machine has
(`Accelerators`), so it is tested without a GPU; `Accelerators.detect()` asks torch.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from benchmark.core.defaults import DEVICES, DTYPES, SCORING_DTYPE_CHOICES
from benchmark.core.errors import DependencyError, PagebenchError

_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")
log = logging.getLogger(__name__)


def import_torch():
    try:
        import torch
    except ImportError:
        raise DependencyError(
            "this retriever needs torch and transformers: pip install -c constraints.txt 'pagebench[vision]'"
        ) from None
    _within_openmp_thread_limit(torch)
    return torch


def _within_openmp_thread_limit(torch) -> None:
    """Fewer torch threads when OMP_THREAD_LIMIT allows fewer than torch would use: torch
    schedules CPU work for threads OpenMP then refuses, and the results are wrong (seen
    with torch 2.13: MaxSim scores off by tens, or NaN), with no error."""
    try:
        limit = int(os.environ.get("OMP_THREAD_LIMIT", "0"))
    except ValueError:
        return
    if 0 < limit < torch.get_num_threads():
        wanted = torch.get_num_threads()
        log.warning("OMP_THREAD_LIMIT=%d: torch uses %d CPU threads, not %d", limit, limit, wanted)
        torch.set_num_threads(limit)


@dataclass(frozen=True)
class Accelerators:
    """What this machine offers torch."""

    cuda_devices: int = 0
    mps: bool = False

    @classmethod
    def detect(cls) -> Accelerators:
        torch = import_torch()
        mps = getattr(torch.backends, "mps", None)
        return cls(
            cuda_devices=torch.cuda.device_count() if torch.cuda.is_available() else 0,
            mps=mps is not None and mps.is_available(),
        )

    def available(self) -> list[str]:
        return [name for name, ok in (("cuda", self.cuda_devices), ("mps", self.mps), ("cpu", True)) if ok]


def device_type(device: str) -> str:
    """`cuda:1` -> `cuda`."""
    return device.split(":", 1)[0]


def is_cuda(device: str) -> bool:
    return device_type(device) == "cuda"


def resolve_device(requested: str, accelerators: Accelerators | None = None) -> str:
    """auto: cuda, then mps, then cpu. An explicit device (cuda:N included) must exist."""
    cuda_index = _CUDA_INDEX.match(requested)
    if requested not in DEVICES and cuda_index is None:
        raise PagebenchError(f"--device {requested!r} is not one of {', '.join(DEVICES)} or cuda:N")
    accelerators = accelerators or Accelerators.detect()
    available = accelerators.available()
    if requested == "auto":
        return available[0]
    if device_type(requested) not in available:
        raise PagebenchError(
            f"--device {requested} is not available on this machine (available: {', '.join(available)})"
        )
    if cuda_index is not None and int(cuda_index.group(1)) >= accelerators.cuda_devices:
        raise PagebenchError(
            f"--device {requested}: this machine has {accelerators.cuda_devices} CUDA device(s), "
            f"numbered from 0"
        )
    return requested


def resolve_dtype(requested: str, device: str) -> str:
    """The model's dtype name. auto: bfloat16 on CUDA, float32 elsewhere (exact, fast enough on CPU)."""
    if requested not in DTYPES:
        raise PagebenchError(f"--dtype {requested!r} is not one of {', '.join(DTYPES)}")
    if requested == "auto":
        return "bfloat16" if is_cuda(device) else "float32"
    return requested


def resolve_scoring_dtype(requested: str, device: str) -> str:
    """The engine's dtype. auto: bfloat16 on CUDA (fast, top-10 nearly identical), else float32 (exact)."""
    if requested not in SCORING_DTYPE_CHOICES:
        raise PagebenchError(
            f"--scoring-dtype {requested!r} is not one of {', '.join(SCORING_DTYPE_CHOICES)}"
        )
    if requested == "auto":
        return "bfloat16" if is_cuda(device) else "float32"
    return requested
