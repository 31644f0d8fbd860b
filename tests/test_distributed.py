"""torchrun with two processes (gloo, CPU) gives exactly the single-process results.

`--device cpu` keeps the ranks on gloo even on a GPU machine, which may have one GPU only."""

import json
import subprocess
import sys

import pytest

TASK = "debian-faq-en"


def torchrun(tmp_path, *args: str) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "benchmark", "run", "--task", TASK, "--output-dir", str(tmp_path / "ranks")]
    command += ["--run-name", "r", "--latency-queries", "0", "--no-progress", "--device", "cpu", *args]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((tmp_path / "ranks" / "r" / f"{TASK}.json").read_text())


def single(cli, tmp_path, *args: str) -> dict:
    code, _, err = cli(
        "run", "--task", TASK, "--output-dir", tmp_path / "one", "--run-name", "r",
        "--latency-queries", "0", "--no-progress", "--device", "cpu", *args,
    )  # fmt: skip
    assert code == 0, err
    return json.loads((tmp_path / "one" / "r" / f"{TASK}.json").read_text())


def same_run_files(tmp_path) -> bool:
    return (tmp_path / "ranks" / "r" / f"{TASK}.trec").read_bytes() == (
        tmp_path / "one" / "r" / f"{TASK}.trec"
    ).read_bytes()


@pytest.mark.parametrize("cache", ["--no-cache", "shared cache"])
def test_two_ranks_give_the_single_process_results(cli, checkpoints, tmp_path, cache):
    options = ["--retriever", "colpali", "--checkpoint", checkpoints["colpali"], "--batch-size", "4"]
    options += ["--no-cache"] if cache == "--no-cache" else ["--cache-dir", str(tmp_path / "cache")]
    sharded = torchrun(tmp_path, *options)
    alone = single(cli, tmp_path, *options)
    assert sharded["metrics"] == alone["metrics"] and sharded["per_query"] == alone["per_query"]
    assert same_run_files(tmp_path)
    efficiency = sharded["efficiency"]
    assert efficiency["world_size"] == 2 and alone["efficiency"]["world_size"] == 1
    assert len(efficiency["index_pages_per_s_per_rank"]) == 2
    assert all(rate > 0 for rate in efficiency["index_pages_per_s_per_rank"])
    assert efficiency["pages_encoded"] + efficiency["pages_from_cache"] == 73
    if cache == "shared cache":  # both ranks wrote their batches; the single run found them all
        assert alone["efficiency"]["pages_encoded"] == 0


def test_a_retriever_without_page_vectors_runs_on_rank_zero(cli, tmp_path):
    sharded = torchrun(tmp_path, "--retriever", "bm25-ocr")
    alone = single(cli, tmp_path, "--retriever", "bm25-ocr")
    assert sharded["metrics"] == alone["metrics"] and same_run_files(tmp_path)
    assert sharded["efficiency"]["world_size"] == 1  # not sharded: rank 0 did the work
