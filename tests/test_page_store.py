"""The on-disk page store: the engine scores from it exactly as from memory, holds no
pages in memory, and leaves no files behind."""

import gc
import json
import re

import numpy as np
import pytest
import torch

from benchmark.core.errors import PagebenchError
from benchmark.engine.disk_store import DiskRows
from benchmark.engine.index import EngineLimits, PageVectorIndex
from benchmark.engine.ranking import id_ranks

LIMITS = EngineLimits(block_pages=32, min_bucket_pages=4, tile_bytes=1 << 16)


def float16_pages(n_pages: int, dim: int = 16, seed: int = 0) -> list:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (n_pages,), generator=generator)
    pages = [torch.randn(int(n), dim, generator=generator).half().float() for n in lengths]
    pages[3] = -pages[3].abs()  # all-negative page: the engine's exact float fallback
    pages[7] = pages[5].clone()  # a duplicate: ties broken by id
    return pages


def test_disk_store_scores_exactly_as_memory(tmp_path):
    pages = float16_pages(200)  # values float16 holds exactly: storage loses nothing
    queries = [torch.randn(6, 16, generator=torch.Generator().manual_seed(i)) for i in range(9)]
    ranks = id_ranks([f"p{i:03d}" for i in range(len(pages))])
    in_memory = PageVectorIndex(limits=LIMITS)
    on_disk = PageVectorIndex(limits=LIMITS, store_dir=tmp_path)
    for index in (in_memory, on_disk):
        for start in range(0, len(pages), 16):  # in batches, as the runner adds them
            index.add(pages[start : start + 16])
        index.finalize()
    expected, got = in_memory.search(queries, 20, ranks), on_disk.search(queries, 20, ranks)
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])
    assert on_disk.nbytes * 2 == in_memory.nbytes  # float16 on disk vs float32 in memory
    assert on_disk._pending == [] and all(isinstance(b.vectors, DiskRows) for b in on_disk._buckets)
    (store,) = tmp_path.iterdir()
    staged = [path.name for path in store.iterdir() if path.name.startswith("staging")]
    assert staged == []  # the staging file is dropped once the buckets are written
    assert sum(path.stat().st_size for path in store.iterdir()) == on_disk.nbytes
    del on_disk, index
    gc.collect()
    assert not list(tmp_path.iterdir())  # the store goes with its index


def test_bfloat16_pages_are_stored_as_scored_so_disk_equals_memory(tmp_path):
    generator = torch.Generator().manual_seed(1)
    pages = [
        torch.randn(int(n), 16, generator=generator)
        for n in torch.randint(1, 30, (120,), generator=generator)
    ]
    queries = [torch.randn(5, 16, generator=generator) for _ in range(7)]
    ranks = id_ranks([f"p{i:03d}" for i in range(len(pages))])
    in_memory = PageVectorIndex(dtype="bfloat16", limits=LIMITS)
    on_disk = PageVectorIndex(dtype="bfloat16", limits=LIMITS, store_dir=tmp_path)
    for index in (in_memory, on_disk):
        index.add(pages)  # float32 values bfloat16 does not hold: both round them once
        index.finalize()
    expected, got = in_memory.search(queries, 15, ranks), on_disk.search(queries, 15, ranks)
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])
    assert on_disk.nbytes == in_memory.nbytes  # two bytes a value, both places


def test_run_with_the_index_on_disk(cli, checkpoints, tmp_path):
    common = ["run", "--task", "debian-faq-en", "--output-dir", tmp_path, "--latency-queries", "0"]
    common += ["--no-cache", "--retriever", "colpali", "--checkpoint", checkpoints["colpali"]]
    assert cli(*common, "--run-name", "memory")[0] == 0
    code, _, err = cli(*common, "--run-name", "disk", "--index-on-disk", tmp_path / "store")
    assert code == 0, err
    memory, disk = (
        json.loads((tmp_path / name / "debian-faq-en.json").read_text()) for name in ("memory", "disk")
    )
    assert disk["retriever"]["parameters"]["index_storage"] == "disk, float16"
    assert disk["efficiency"]["index_bytes_total"] * 2 == memory["efficiency"]["index_bytes_total"]
    for name, value in memory["metrics"].items():  # float16 vectors: close, not bit-equal
        assert abs(disk["metrics"][name] - value) < 0.02, name
    gc.collect()
    assert not any((tmp_path / "store").iterdir())


def test_a_store_file_cut_short_is_an_error_naming_it(tmp_path):
    index = PageVectorIndex(limits=LIMITS, store_dir=tmp_path)
    index.add(float16_pages(40))
    index.finalize()
    bucket = index._buckets[-1].vectors
    with open(bucket.path, "r+b") as file:
        file.truncate(bucket.nbytes - 2)
    with pytest.raises(PagebenchError, match=f"{re.escape(str(bucket.path))}: the page store ends early"):
        index.search([torch.ones(2, 16)], 5, id_ranks([f"p{i:03d}" for i in range(40)]))
