"""Under torchrun the ranks agree on each task's outcome before rank 0 writes.

Two local tasks of 8 pages in batches of 2: batch i goes to rank i mod 2, so page 4
(batch 1) is encoded by rank 1 alone. When it is unreadable, the task fails on both
ranks with rank 0's one message naming it, nothing is written for it, and the next
task runs in step and gives the single-process results. Bad input ends every rank
with pagebench's one-line error and status 2. Each rank's own output is read from
torchrun's per-rank log files (`--redirects 3`); torchrun's own report of a failed
run is torch's, not ours.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_local_folder

TASKS = ("alpha", "beta")
BAD_PAGE = "alpha4"  # position 3: batch 1 of 4, rank 1's


@pytest.fixture
def two_tasks(tmp_path) -> list[Path]:
    folders = []
    for name in TASKS:
        pages = {f"{name}{i}": f"{name} page {i} words" for i in range(1, 9)}
        queries = {f"q{i}": f"{name} page {i}" for i in range(1, 4)}
        qrels = [(f"q{i}", f"{name}{i}", 1) for i in range(1, 4)]
        folders.append(make_local_folder(tmp_path / "tasks" / name, pages, queries, qrels))
    (folders[0] / "pages" / f"{BAD_PAGE}.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    return folders


def options(checkpoints, *extra) -> list[str]:
    return [
        "--retriever", "colpali", "--checkpoint", checkpoints["colpali"], "--batch-size", "2",
        "--no-cache", "--latency-queries", "0", "--no-progress", "--device", "cpu", "--run-name", "r",
        *extra,
    ]  # fmt: skip


def torchrun(tmp_path, *args: str) -> tuple[int, list[int], list[str]]:
    """torchrun's status, each rank's exit status and each rank's stderr, in rank order."""
    logs = tmp_path / "rank-logs"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["--log-dir", str(logs), "--redirects", "3", "-m", "benchmark", "run"]
    command += ["--output-dir", str(tmp_path / "ranks"), *map(str, args)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    stderrs = [
        next(logs.glob(f"*/attempt_0/{rank}/stderr.log")).read_text(encoding="utf-8") for rank in (0, 1)
    ]
    # a failed run: torchrun lists every rank's status ("exitcode  : 2 (pid: ...)")
    statuses = [int(code) for code in re.findall(r"exitcode\s*:\s*(-?\d+) \(pid", completed.stderr)]
    if completed.returncode == 0:
        statuses = [0, 0]
    return completed.returncode, statuses, stderrs


def errors(stderr: str) -> list[str]:
    """pagebench's error lines (argparse's name the sub-command: `pagebench run: error:`)."""
    return [line for line in stderr.splitlines() if re.match(r"pagebench( run)?: error:", line)]


def single(cli, tmp_path, task: Path, *args: str) -> tuple[dict, bytes]:
    code, _, err = cli("run", "--task", task, "--output-dir", tmp_path / "one", *args)
    assert code == 0, err
    folder = tmp_path / "one" / "r"
    return json.loads((folder / f"{task.name}.json").read_text()), (folder / f"{task.name}.trec").read_bytes()


def test_a_bad_page_on_rank_one_fails_its_task_on_every_rank(cli, checkpoints, two_tasks, tmp_path):
    status, statuses, stderrs = torchrun(
        tmp_path, "--task", two_tasks[0], "--task", two_tasks[1], *options(checkpoints)
    )
    assert status != 0 and statuses == [2, 2], stderrs
    assert not any("Traceback" in stderr for stderr in stderrs), stderrs
    assert errors(stderrs[1]) == []  # rank 0 says it, once
    (message,) = errors(stderrs[0])
    assert f"page {BAD_PAGE!r} (" in message and "cannot decode image" in message
    assert "1 task(s) failed: alpha" in stderrs[0]
    written = tmp_path / "ranks" / "r"
    assert not (written / "alpha.json").exists() and not (written / "alpha.trec").exists()
    sharded = json.loads((written / "beta.json").read_text())
    alone, alone_run = single(cli, tmp_path, two_tasks[1], *options(checkpoints))
    assert sharded["metrics"] == alone["metrics"] and sharded["per_query"] == alone["per_query"]
    assert (written / "beta.trec").read_bytes() == alone_run
    assert sharded["efficiency"]["world_size"] == 2


def test_pages_skipped_on_any_rank_are_recorded(cli, checkpoints, two_tasks, tmp_path):
    skip = options(checkpoints, "--on-bad-page", "skip")
    status, _, stderrs = torchrun(tmp_path, "--task", two_tasks[0], "--task", two_tasks[1], *skip)
    assert status == 0, stderrs
    assert "alpha: 1 unreadable page(s) skipped" in stderrs[0]
    written = tmp_path / "ranks" / "r"
    sharded = json.loads((written / "alpha.json").read_text())
    assert [page["id"] for page in sharded["skipped_pages"]] == [BAD_PAGE]
    assert BAD_PAGE not in (written / "alpha.trec").read_text().split()
    alone, alone_run = single(cli, tmp_path, two_tasks[0], *skip)
    assert sharded["metrics"] == alone["metrics"] and (written / "alpha.trec").read_bytes() == alone_run
    assert json.loads((written / "beta.json").read_text())["skipped_pages"] == []


@pytest.mark.parametrize(
    "bad_input, message",
    [
        (["--task", "no-such-task"], "unknown task 'no-such-task'"),
        (["--device", "tpu"], "--device 'tpu' is not one of"),  # found before the ranks could talk
        (["--top-k", "0"], "argument --top-k: expected a positive integer"),  # argparse's
    ],
)
def test_bad_input_ends_every_rank_with_one_error(checkpoints, two_tasks, tmp_path, bad_input, message):
    arguments = ["--task", two_tasks[1], *options(checkpoints), *bad_input]
    status, statuses, stderrs = torchrun(tmp_path, *arguments)
    assert status != 0 and statuses == [2, 2], stderrs
    assert not any("Traceback" in stderr for stderr in stderrs), stderrs
    assert errors(stderrs[1]) == []
    (line,) = errors(stderrs[0])
    assert message in line
    assert not (tmp_path / "ranks").exists()
