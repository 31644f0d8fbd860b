"""One device resolution for retrievers, engine and sharded runs (auto, cpu, mps, cuda,
cuda:N), tested without a GPU by describing the machine; and the instruments that
depend on the device (synchronised timers, peak memory)."""

import json
import os
import time
from pathlib import Path

import pytest

from benchmark.core.device import (
    Accelerators,
    resolve_device,
    resolve_dtype,
    resolve_scoring_dtype,
)
from benchmark.core.errors import PagebenchError
from benchmark.run.cluster import Cluster, cluster_backend, rank_device

TWO_GPUS = Accelerators(cuda_devices=2)
MAC = Accelerators(mps=True)
CPU_ONLY = Accelerators()


@pytest.mark.parametrize(
    "requested, machine, expected",
    [
        ("auto", TWO_GPUS, "cuda"),
        ("auto", MAC, "mps"),
        ("auto", CPU_ONLY, "cpu"),
        ("cuda", TWO_GPUS, "cuda"),
        ("cuda:0", TWO_GPUS, "cuda:0"),
        ("cuda:1", TWO_GPUS, "cuda:1"),  # what torchrun's second rank is given
        ("cpu", TWO_GPUS, "cpu"),
        ("mps", MAC, "mps"),
    ],
)
def test_devices_resolve(requested, machine, expected):
    assert resolve_device(requested, machine) == expected


@pytest.mark.parametrize(
    "requested, machine, message",
    [
        ("cuda:2", TWO_GPUS, "--device cuda:2: this machine has 2 CUDA device(s)"),
        ("cuda:0", CPU_ONLY, "--device cuda:0 is not available on this machine (available: cpu)"),
        ("cuda", MAC, "--device cuda is not available on this machine (available: mps, cpu)"),
        ("gpu", TWO_GPUS, "--device 'gpu' is not one of auto, cuda, mps, cpu or cuda:N"),
        ("cuda:x", TWO_GPUS, "is not one of"),
    ],
)
def test_device_mistakes_are_named(requested, machine, message):
    with pytest.raises(PagebenchError) as raised:
        resolve_device(requested, machine)
    assert message in str(raised.value)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_every_cuda_device_defaults_to_bfloat16(device):
    assert resolve_dtype("auto", device) == "bfloat16"
    assert resolve_scoring_dtype("auto", device) == "bfloat16"


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_elsewhere_the_defaults_are_exact(device):
    assert resolve_dtype("auto", device) == "float32"
    assert resolve_scoring_dtype("auto", device) == "float32"
    assert resolve_dtype("float16", device) == "float16"


def test_each_torchrun_rank_gets_its_own_gpu():
    for local_rank in (0, 1):
        cluster = Cluster(rank=local_rank, world_size=2, local_rank=local_rank, backend="nccl")
        device = rank_device(cluster, "auto")
        assert device == f"cuda:{local_rank}"
        assert resolve_device(device, TWO_GPUS) == device  # what the retriever then resolves
        assert resolve_dtype("auto", device) == "bfloat16" and cluster_backend(device) == "nccl"
    gloo = Cluster(rank=1, world_size=2, local_rank=1, backend="gloo")
    assert rank_device(gloo, "cpu") == "cpu" and cluster_backend("cpu") == "gloo"


def test_a_run_takes_a_numbered_gpu(cli, checkpoints, tmp_path):
    """`--device cuda:0` (what each torchrun rank is given) runs in bfloat16 on a GPU machine,
    and is a one-line error naming what is available on a machine without one."""
    import torch

    args = [
        "run",
        "--task",
        "debian-faq-en",
        "--retriever",
        "colpali",
        "--checkpoint",
        checkpoints["colpali"],
    ]
    code, _, err = cli(*args, "--device", "cuda:0", "--output-dir", tmp_path, "--run-name", "gpu")
    if torch.cuda.is_available():
        assert code == 0, err
        result = json.loads((tmp_path / "gpu" / "debian-faq-en.json").read_text())
        assert result["retriever"]["device"] == "cuda:0" and result["retriever"]["dtype"] == "bfloat16"
        assert result["retriever"]["parameters"]["scoring_dtype"] == "bfloat16"
    else:
        assert code == 2 and "--device cuda:0 is not available on this machine (available: cpu)" in err
        assert len(err.strip().splitlines()) == 1


def test_timers_wait_for_apple_gpus(monkeypatch):
    """MPS work is queued like CUDA work: a timer must synchronise it, or it times nothing."""
    import torch

    from benchmark.measure.timing import Timer

    calls = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    with Timer("mps"):
        pass
    assert calls == ["mps", "mps"]  # at entry and at exit
    with Timer("cpu"):
        pass
    assert calls == ["mps", "mps"]


def test_resident_memory_is_measured_with_psutil():
    """RSS comes from psutil (Linux, macOS, Windows), not from /proc alone."""
    import numpy as np
    import psutil

    from benchmark.measure.memory import PeakMemory, resident_bytes

    assert abs(resident_bytes() - psutil.Process().memory_info().rss) < 64 << 20
    with PeakMemory() as memory:
        block = np.ones(64 << 20, dtype=np.uint8)  # touch 64 MB
        time.sleep(0.05)  # held for a hundred sampling intervals
        del block
    assert memory.peak_bytes > 0 and memory.extra_bytes >= 32 << 20


def test_torch_threads_stay_within_an_openmp_thread_limit(tmp_path):
    """With OMP_THREAD_LIMIT below torch's thread count, torch 2.13 computes wrong numbers
    on the CPU without an error; pagebench's torch keeps within the limit, so a late-interaction
    score in bfloat16 matches the float64 one to bfloat16 rounding."""
    import subprocess
    import sys

    script = tmp_path / "scores.py"
    script.write_text(
        "import torch\n"
        "from benchmark.core.device import import_torch\n"
        "torch = import_torch()\n"
        "g = torch.Generator().manual_seed(0)\n"
        "q = torch.randn(131, 9, 16, generator=g).bfloat16()\n"
        "d = torch.randn(4, 12, 16, generator=g).bfloat16()\n"
        "s = torch.einsum('bnd,csd->bcns', q, d).amax(dim=3).sum(dim=2)\n"
        "r = torch.einsum('bnd,csd->bcns', q.double(), d.double()).amax(dim=3).sum(dim=2)\n"
        "print(torch.get_num_threads(), float((s.double() - r).abs().max()))\n"
    )
    environment = {**os.environ, "OMP_THREAD_LIMIT": "1", "OMP_NUM_THREADS": "2"}
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    threads, largest_error = completed.stdout.split()
    assert int(threads) == 1
    assert float(largest_error) < 1.0, completed.stdout  # wrong by tens without the cap
