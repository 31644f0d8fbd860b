"""Measuring memory: the process's peak resident set size while a block runs, and the
accelerator's peak allocation.

RSS comes from psutil, so it is measured on Linux, macOS and Windows alike.
"""

from __future__ import annotations

import sys
import threading
import time

import psutil

from benchmark.core.device import is_cuda
from benchmark.core.heap import release_free_memory

_PROCESS = psutil.Process()


def resident_bytes() -> int:
    """Current resident set size of this process."""
    return _PROCESS.memory_info().rss


class PeakMemory:
    """Samples RSS in a background thread while the `with` block runs.

    `extra_bytes` is the peak above the RSS at entry: the memory the block itself
    needed. Large buffers live for milliseconds at least, far longer than the
    sampling interval; torch releases the GIL during its kernels, so the sampler runs.
    """

    def __init__(self, interval_s: float = 0.0005):
        self.interval_s = interval_s
        self.start_bytes = 0
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self):
        release_free_memory()
        self.start_bytes = self.peak_bytes = resident_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, resident_bytes())

    @property
    def extra_bytes(self) -> int:
        return max(0, self.peak_bytes - self.start_bytes)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, resident_bytes())
            time.sleep(self.interval_s)


def reset_accelerator_peak(device: str) -> None:
    if is_cuda(device) and "torch" in sys.modules:
        sys.modules["torch"].cuda.reset_peak_memory_stats(device)


def accelerator_peak_mb(device: str) -> float | None:
    """torch.cuda.max_memory_allocated on `device` since the last reset; None off CUDA."""
    if is_cuda(device) and "torch" in sys.modules:
        return sys.modules["torch"].cuda.max_memory_allocated(device) / 2**20
    return None
