"""Timing a region: a monotonic clock with the accelerator synchronised around it, and
latency percentiles.

Used by the runner's efficiency report, `pagebench profile` and the benchmark scripts,
so every figure pagebench prints is measured the same way.
"""

from __future__ import annotations

import os
import sys
import time

from benchmark.core.device import device_type


def synchronize(device: str) -> None:
    """Wait for queued GPU work (CUDA or Apple MPS), so a timer around it measures the work."""
    torch = sys.modules.get("torch")  # loaded whenever a model runs on an accelerator
    if torch is None:
        return
    kind = device_type(device)
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


class Timer:
    """Monotonic wall-clock timing of a region, with the device synchronised around it."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.seconds = 0.0

    def __enter__(self):
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation, as numpy's default); None when empty."""
    import numpy as np

    return float(np.percentile(values, q)) if values else None


def thread_count() -> int:
    """Threads the math libraries use: torch's when torch is loaded, else the CPU count."""
    if "torch" in sys.modules:
        return sys.modules["torch"].get_num_threads()
    return os.cpu_count() or 1
