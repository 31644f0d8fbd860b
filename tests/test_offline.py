"""The hub, offline: an unreachable hub fails every hub task at once (one probe per process),
offline mode says what is missing from the cache, and `pagebench download` fills the caches
so that a run with HF_HUB_OFFLINE=1 needs no network.

No test reaches the hub. The unreachable hub is a closed local port (HF_ENDPOINT); the
download half is tested at the `datasets` / `huggingface_hub` boundary (what is asked
for, at which revision), its fake writing the datasets cache exactly as a hub download
lays it out; the offline half then runs the real `datasets` offline path on that cache.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import benchmark.core.hub_access as hub_access
from benchmark.core.errors import TaskDataError
from benchmark.tasks import load_task
from benchmark.tasks.catalog import specs_in_suite
from benchmark.tasks.spec import load_spec_file
from tests.conftest import write_parquet, write_spec
from tests.test_vidore_qa import ROWS, docvqa_columns

REPOSITORY = Path(__file__).resolve().parent.parent
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, a connect is refused at once
COMMIT = "1" * 40
TEXT_COMMIT = "2" * 40
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def _pagebench(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """`python -m benchmark ARGS` in a fresh process (the hub libraries read their
    environment once, at import), with its own HF_HOME and no offline variable unless given."""
    environment = {key: value for key, value in os.environ.items() if key not in OFFLINE_VARIABLES}
    environment.update(HF_HOME=str(tmp_path / "hf-home"), PYTHONPATH=str(REPOSITORY), **env)
    clock = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "benchmark", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=150,  # before the fix this run took about 230 s
        check=False,
    )
    return completed, time.perf_counter() - clock


def test_unreachable_hub_fails_every_hub_task_at_once(tmp_path):
    completed, seconds = _pagebench(
        tmp_path,
        *("run", "--suite", "vidore-v1", "--retriever", "bm25-ocr", "--output-dir", "out"),
        HF_ENDPOINT=CLOSED_PORT,
    )
    err = completed.stderr
    assert completed.returncode == 2, err
    # was 12 retry lines and ~23 s per task; the bound leaves room for a loaded machine's imports
    assert "Retrying" not in err and seconds < 60, (seconds, err[-2000:])
    names = [spec.name for spec in specs_in_suite("vidore-v1")]
    for name in names:
        line = next(line for line in err.splitlines() if line.startswith(f"pagebench: error: task {name!r}"))
        assert f"the Hugging Face hub ({CLOSED_PORT}) cannot be reached (ConnectError" in line
        assert f"`pagebench download --task {name}`" in line and "HF_HUB_OFFLINE=1" in line
        assert "local folder" in line
    assert f"{len(names)} task(s) failed" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "bm25-ocr").exists()


def test_datasets_offline_mode_says_what_is_not_cached(tmp_path):
    completed, _ = _pagebench(
        tmp_path,
        *("run", "--task", "docvqa", "--retriever", "bm25-ocr", "--output-dir", "out"),
        HF_DATASETS_OFFLINE="1",  # datasets' own switch, without HF_HUB_OFFLINE
        HF_ENDPOINT=CLOSED_PORT,
    )
    err = completed.stderr
    assert completed.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "task 'docvqa': 'vidore/docvqa_test_subsampled' split 'test' is not in the datasets cache" in err
    assert str(tmp_path / "hf-home" / "datasets") in err and "`pagebench download --task docvqa`" in err
    assert "reach" not in err  # offline was asked for: the network is not to blame


def test_download_refuses_offline_mode_and_an_unreachable_hub(tmp_path):
    offline, _ = _pagebench(tmp_path, "download", "--task", "docvqa", HF_HUB_OFFLINE="1")
    assert offline.returncode == 2 and "offline mode is on" in offline.stderr
    unreachable, seconds = _pagebench(tmp_path, "download", "--suite", "vidore-v1", HF_ENDPOINT=CLOSED_PORT)
    assert unreachable.returncode == 2 and "Retrying" not in unreachable.stderr and seconds < 60
    assert f"the Hugging Face hub ({CLOSED_PORT}) cannot be reached" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1


class _RefusingSession:
    def __init__(self):
        self.probes = []

    def head(self, url, **kwargs):
        self.probes.append((url, kwargs))
        raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
def fresh_probe():
    hub_access.hub_unreachable_reason.cache_clear()
    yield
    hub_access.hub_unreachable_reason.cache_clear()  # no later test inherits this one's answer


@pytest.mark.usefixtures("fresh_probe")
def test_one_short_probe_answers_for_every_hub_task(monkeypatch):
    import datasets
    import huggingface_hub.utils

    session = _RefusingSession()
    monkeypatch.setattr(huggingface_hub.utils, "get_session", lambda: session)
    monkeypatch.setattr("benchmark.tasks.hub.hub_offline", lambda: False)

    def no_download(*_args, **_kwargs):
        raise AssertionError("an unreachable hub must not be asked for data")

    monkeypatch.setattr(datasets, "load_dataset", no_download)
    specs = specs_in_suite("vidore-v1")[:3] + specs_in_suite("vidore-v2")[:1]  # vidore-qa and BEIR
    for spec in specs:
        with pytest.raises(TaskDataError, match="cannot be reached \\(ConnectionRefusedError"):
            load_task(spec, need_page_text=True)
    assert len(session.probes) == 1
    ((url, options),) = session.probes
    assert url == hub_access.hub_endpoint() and options["timeout"] <= 5


# --- download, then an offline run -------------------------------------------------------


@pytest.fixture
def hub_task(tmp_path):
    """A ViDoRe-v1-shaped task naming hub datasets at pinned commits; the 'hub' is a folder
    of parquet files, one per dataset id."""
    hub = tmp_path / "fake-hub"
    columns, features = docvqa_columns(ROWS)
    write_parquet(hub / "org" / "mini-docvqa" / "test.parquet", columns, features)
    columns, features = docvqa_columns(ROWS, with_text=True)
    write_parquet(hub / "org" / "mini-docvqa_tesseract" / "test.parquet", columns, features)
    spec = write_spec(
        tmp_path / "mini.toml",
        name="mini-docvqa",
        suite="test",
        description="DocVQA-shaped fixture on the hub",
        format="vidore-qa",
        dataset="org/mini-docvqa",
        revision=COMMIT,
        languages=["en"],
        text_dataset="org/mini-docvqa_tesseract",
        text_dataset_revision=TEXT_COMMIT,
        page_text_column="text_description",
    )
    return spec, hub


def cache_like_a_hub_download(hub: Path, cache: Path, repo_id: str, commit: str):
    """Build the Arrow cache `datasets` writes for a hub dataset loaded at `commit`:
    <cache>/<org>___<name>/default/0.0.0/<commit>/<name>-test.arrow, with its
    dataset_info.json, by the same parquet builder a hub download runs."""
    from datasets import Dataset
    from datasets.packaged_modules.parquet.parquet import Parquet

    org, name = repo_id.split("/")
    folder = cache / f"{org}___{name}" / "default" / "0.0.0" / commit
    builder = Parquet(
        cache_dir=str(cache.parent / "scratch"),
        dataset_name=name,
        config_name="default",
        hash=commit,
        data_files={"test": [str(hub / org / name / "test.parquet")]},
    )
    builder.download_and_prepare(output_dir=str(folder))
    return Dataset.from_file(str(folder / f"{name}-test.arrow"))


@pytest.fixture
def datasets_cache(tmp_path, monkeypatch):
    import datasets

    cache = tmp_path / "hf-datasets-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


def _fake_hub_online(monkeypatch, hub: Path, cache: Path) -> list:
    """The hub reachable, `datasets.load_dataset` served from `hub`: each call recorded."""
    import datasets

    calls = []

    def load_dataset(path, name=None, *, split, revision, cache_dir):
        calls.append((path, name, split, revision, cache_dir))
        return cache_like_a_hub_download(hub, cache, path, revision)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    for module in ("benchmark.tasks.hub", "benchmark.run.download"):
        monkeypatch.setattr(f"{module}.hub_offline", lambda: False)
        monkeypatch.setattr(f"{module}.hub_unreachable_reason", lambda: None)
    return calls


def _no_network(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("an offline run opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_download_then_an_offline_run_needs_no_network(cli, hub_task, datasets_cache, monkeypatch, tmp_path):
    spec_file, hub = hub_task
    with monkeypatch.context() as online:
        calls = _fake_hub_online(online, hub, datasets_cache)
        code, out, err = cli("download", "--task", spec_file)
    assert code == 0, err
    # the very calls a run makes, at the revisions the spec pins, into the shared HF cache
    assert calls == [
        ("org/mini-docvqa", None, "test", COMMIT, None),
        ("org/mini-docvqa_tesseract", None, "test", TEXT_COMMIT, None),
    ]
    assert f"mini-docvqa: org/mini-docvqa split test @ {COMMIT}: 5 rows (commit {COMMIT})" in out
    assert "HF_HUB_OFFLINE=1" in out

    import datasets

    assert datasets.config.HF_HUB_OFFLINE  # conftest: the real offline path of `datasets`
    _no_network(monkeypatch)
    output = tmp_path / "out"
    code, out, err = cli("run", "--task", spec_file, "--retriever", "bm25-ocr", "--output-dir", output)
    assert code == 0, err
    (results_file,) = (tmp_path / "out").rglob("mini-docvqa.json")
    task = json.loads(results_file.read_text())["task"]
    assert task["dataset"] == "org/mini-docvqa" and task["resolved_revision"] == COMMIT
    assert task["n_queries"] == 3 and task["n_pages"] == 4


def test_offline_refuses_a_cached_copy_of_another_revision(hub_task, datasets_cache):
    spec_file, hub = hub_task
    cache_like_a_hub_download(hub, datasets_cache, "org/mini-docvqa", "3" * 40)
    with pytest.raises(TaskDataError) as refused:
        load_task(load_spec_file(spec_file))
    assert f"is revision {'3' * 40}, not the pinned {COMMIT}" in str(refused.value)
    assert "pagebench download --task mini-docvqa" in str(refused.value)


def test_offline_run_of_an_unpinned_task_records_the_cached_commit(hub_task, datasets_cache, tmp_path):
    _, hub = hub_task
    unpinned = write_spec(
        tmp_path / "unpinned.toml",
        name="mini-main",
        suite="test",
        description="DocVQA-shaped fixture at 'main'",
        format="vidore-qa",
        dataset="org/mini-docvqa",
        revision="main",
        languages=["en"],
    )
    cache_like_a_hub_download(hub, datasets_cache, "org/mini-docvqa", COMMIT)
    task = load_task(load_spec_file(unpinned))
    assert task.resolved_revision == COMMIT  # what was read, not None


def test_download_fetches_the_checkpoint_and_its_adapter_base(cli, monkeypatch, tmp_path):
    import huggingface_hub

    snapshots = []

    def snapshot_download(repo_id, *, revision, ignore_patterns):
        assert "*.gguf" in ignore_patterns  # weight formats pagebench cannot load are not fetched
        snapshots.append((repo_id, revision))
        folder = tmp_path / "snapshots" / repo_id / (revision or "main")
        folder.mkdir(parents=True, exist_ok=True)
        if repo_id == "me/my-adapter":
            config = {"base_model_name_or_path": "org/base-model", "revision": "v2", "peft_type": "LORA"}
            (folder / "adapter_config.json").write_text(json.dumps(config))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr("benchmark.run.download.hub_offline", lambda: False)
    monkeypatch.setattr("benchmark.run.download.hub_unreachable_reason", lambda: None)

    adapter = ("--checkpoint", "me/my-adapter", "--revision", "abc")
    code, out, err = cli("download", "--retriever", "colqwen2", *adapter)
    assert code == 0, err
    assert snapshots == [("me/my-adapter", "abc"), ("org/base-model", "v2")]
    assert "checkpoint me/my-adapter @ abc" in out and "checkpoint org/base-model @ v2" in out

    from benchmark.retrievers.colpali import ColQwen2Retriever

    snapshots.clear()
    code, out, err = cli("download", "--retriever", "colqwen2")
    assert code == 0 and snapshots == [(ColQwen2Retriever.default_checkpoint, None)]
    snapshots.clear()
    code, out, err = cli("download", "--retriever", "bm25-ocr")
    assert code == 0 and snapshots == [] and "no hub checkpoint to download" in out


def test_download_reads_the_splits_each_format_loads():
    from benchmark.tasks.catalog import resolve_task
    from benchmark.tasks.hub import hub_splits

    qa, beir, local = resolve_task("docvqa"), resolve_task("esg-reports-v2"), resolve_task("debian-faq-en")
    assert hub_splits(qa) == [(None, False), (None, True)]  # the data, then its OCR-text twin
    assert hub_splits(qa, page_text=False) == [(None, False)]
    assert hub_splits(beir) == [("corpus", False), ("queries", False), ("qrels", False)]
    assert hub_splits(local) == []


def test_download_of_a_local_task_fetches_nothing(cli, monkeypatch):
    monkeypatch.setattr("benchmark.run.download.hub_offline", lambda: False)
    monkeypatch.setattr("benchmark.run.download.hub_unreachable_reason", lambda: None)
    code, out, err = cli("download", "--task", "debian-faq-en")
    assert code == 0, err
    assert "debian-faq-en: local data, nothing to download" in out


@pytest.mark.usefixtures("fresh_probe")
def test_a_probe_that_hangs_counts_as_unreachable_within_the_wait(monkeypatch):
    import threading

    import huggingface_hub.utils

    release = threading.Event()

    class HangingSession:
        def head(self, _url, **_kwargs):  # e.g. a name lookup that never returns
            release.wait(30)
            raise ConnectionError("too late")

    monkeypatch.setattr(huggingface_hub.utils, "get_session", HangingSession)
    monkeypatch.setattr(hub_access, "PROBE_WAIT_S", 0.2)
    clock = time.perf_counter()
    try:
        assert hub_access.hub_unreachable_reason() == "no answer within 0.2 s"
        assert time.perf_counter() - clock < 2
    finally:
        release.set()


def test_an_unreachable_hub_fails_a_hub_checkpoint_at_once(tmp_path):
    """transformers retried each checkpoint file for about 28 s; the one probe answers."""
    completed, seconds = _pagebench(
        tmp_path,
        *("run", "--task", "debian-faq-en", "--retriever", "colpali"),
        *("--checkpoint", "vidore/colpali-v1.3-hf"),
        HF_ENDPOINT=CLOSED_PORT,
    )
    err = completed.stderr
    assert completed.returncode == 2, err
    assert "Retrying" not in err and seconds < 25, (seconds, err[-2000:])
    hub = f"the Hugging Face hub ({CLOSED_PORT}) cannot be reached"
    assert f"checkpoint 'vidore/colpali-v1.3-hf': {hub}" in err
    assert "pagebench download --retriever colpali --checkpoint vidore/colpali-v1.3-hf" in err
