"""The commands a newcomer runs first: tasks, retrievers, run on the bundled task."""

import errno
import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from benchmark.core.vocabulary import METRIC_NAMES
from benchmark.evaluation.metrics import evaluate_run
from benchmark.results.reader import read_result
from benchmark.results.schema import SCHEMA_VERSION
from tests.conftest import make_local_folder


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory):
    """One real run of the default job, shared by the checks below."""
    from benchmark.cli import main

    out = tmp_path_factory.mktemp("results")
    assert (
        main(
            [
                "run",
                "--task",
                "debian-faq-en",
                "--retriever",
                "bm25-ocr",
                "--output-dir",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    return out / "bm25-ocr"


def test_tasks_lists_every_suite_and_the_honest_label(cli):
    code, out, _ = cli("tasks")
    assert code == 0
    for expected in (
        "debian-faq-en",
        "docvqa",
        "docvqa-beir",
        "esg-reports-v2",
        "v3-finance-en",
        "vidore-v1-beir",
    ):
        assert expected in out
    assert "not a ViDoRe score" in out
    code, out, _ = cli("tasks", "--suite", "vidore-v2")
    assert code == 0 and "docvqa" not in out and "biomedical-lectures-v2" in out


def test_results_file_has_the_documented_fields(bundled_run):
    result = read_result(bundled_run / "debian-faq-en.json")
    assert result.schema_version == SCHEMA_VERSION
    assert result.task.name == "debian-faq-en" and result.task.fingerprint.startswith("sha256:")
    assert result.task.n_queries == 123 and result.task.n_pages == 73
    assert result.retriever.name == "bm25-ocr" and result.retriever.parameters["stemmer"] == "english"
    assert set(result.metrics) == set(METRIC_NAMES)
    assert len(result.per_query) == 123
    raw = json.loads((bundled_run / "debian-faq-en.json").read_text())
    assert {"python", "packages", "device"} <= set(raw["environment"])
    assert result.environment.packages["pytrec-eval-terrier"]
    assert result.timestamps.started <= result.timestamps.finished
    # The printed-question task is easy for BM25 (see the task's note); a broken
    # tokeniser, loader or qrels mapping falls far below this.
    assert result.metrics["ndcg_at_5"] > 0.8


def test_trec_file_is_the_run_the_metrics_were_computed_on(bundled_run):
    lines = (bundled_run / "debian-faq-en.trec").read_text().splitlines()
    ranked = {}
    for line in lines:
        query_id, q0, page_id, rank, score, run_name = line.split()
        assert q0 == "Q0" and run_name == "bm25-ocr"
        ranked.setdefault(query_id, []).append((page_id, float(score)))
        assert int(rank) == len(ranked[query_id])
    assert len(ranked) == 123 and all(len(pages) == 73 for pages in ranked.values())  # top 100 of 73 pages
    from benchmark.tasks import load_task
    from benchmark.tasks.catalog import resolve_task

    task = load_task(resolve_task("debian-faq-en"))
    recomputed, _ = evaluate_run(task.qrels, ranked)
    stored = read_result(bundled_run / "debian-faq-en.json").metrics
    assert recomputed == pytest.approx(stored, abs=1e-12)


def test_two_runs_give_identical_metrics_and_run_files(bundled_run, cli, tmp_path):
    code, _, err = cli("run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--output-dir", tmp_path)
    assert code == 0, err
    again = tmp_path / "bm25-ocr"
    assert (again / "debian-faq-en.trec").read_bytes() == (bundled_run / "debian-faq-en.trec").read_bytes()
    first = json.loads((bundled_run / "debian-faq-en.json").read_text())
    second = json.loads((again / "debian-faq-en.json").read_text())
    assert first["metrics"] == second["metrics"] and first["per_query"] == second["per_query"]


def test_french_task_uses_french_stemming(cli, tmp_path):
    code, out, err = cli(
        "run", "--task", "debian-faq-fr", "--retriever", "bm25-ocr", "--output-dir", tmp_path
    )
    assert code == 0, err
    result = json.loads((tmp_path / "bm25-ocr" / "debian-faq-fr.json").read_text())
    assert result["retriever"]["parameters"]["stemmer"] == "french"
    assert result["task"]["n_pages"] == 75 and "debian-faq-fr" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["run", "--task", "debain-faq-en", "--retriever", "bm25-ocr"],
            "unknown task 'debain-faq-en'; did you mean 'debian-faq-en'",
        ),
        (
            ["run", "--task", "debian-faq-en", "--retriever", "bm25"],
            "unknown retriever 'bm25'; did you mean 'bm25-ocr'",
        ),
        (
            ["run", "--suite", "vidore-v9", "--retriever", "bm25-ocr"],
            "unknown suite 'vidore-v9'; did you mean 'vidore-v3', 'vidore-v2', 'vidore-v1'",
        ),
        (["run", "--retriever", "bm25-ocr"], "say what to evaluate"),
        (
            ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--run-name", "../x"],
            "run name '../x'",
        ),
        (
            ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--param", "k1"],
            "--param expects KEY=VALUE",
        ),
    ],
)
def test_user_mistakes_are_one_line_errors(cli, args, message):
    code, _, err = cli(*args)
    assert code == 2 and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_uncached_hub_data_is_reported_per_task(cli, tmp_path):
    # conftest sets HF_HUB_OFFLINE=1: the ten ViDoRe v1 datasets are not in the cache.
    code, _, err = cli("run", "--suite", "vidore-v1", "--retriever", "bm25-ocr", "--output-dir", tmp_path)
    assert code == 2
    assert "task 'docvqa': 'vidore/docvqa_test_subsampled' split 'test' is not in the datasets cache" in err
    assert "pagebench download --task docvqa" in err and "reach" not in err  # nothing blames the network
    assert "10 task(s) failed" in err and not (tmp_path / "bm25-ocr").exists()


def test_console_script_and_help():
    completed = subprocess.run(["pagebench", "run", "--help"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0
    for option in ("--task", "--suite", "--output-dir", "--retriever", "--batch-size", "--param"):
        assert option in completed.stdout


def test_plugin_retriever_from_an_entry_point(tmp_path, monkeypatch, cli):
    """A package registering in the `pagebench.retrievers` group is listed and runs."""
    (tmp_path / "my_plugin.py").write_text(
        textwrap.dedent(
            """
            from benchmark.retrievers.bm25_ocr import BM25OCRRetriever

            class FirstPage(BM25OCRRetriever):
                name = "first-page"

                def search(self, encoded, top_k):
                    return {query_id: [(self._ids[0], 1.0)] for query_id in encoded.ids}

            class Crashes(FirstPage):
                def search(self, encoded, top_k):
                    raise ValueError("boom")
            """
        )
    )
    dist_info = tmp_path / "my_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[pagebench.retrievers]\nfirst-page = my_plugin:FirstPage\ncrashes = my_plugin:Crashes\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    code, out, _ = cli("retrievers")
    assert code == 0 and "first-page" in out and "entry point of my-plugin" in out
    code, out, err = cli(
        "run",
        "--task",
        "debian-faq-en",
        "--retriever",
        "first-page",
        "--output-dir",
        tmp_path / "out",
    )
    assert code == 0, err
    assert len((tmp_path / "out" / "first-page" / "debian-faq-en.trec").read_text().splitlines()) == 123

    # A bug (here the plugin's) is one line without --debug, the full traceback with it.
    code, _, err = cli("run", "--task", "debian-faq-en", "--retriever", "crashes", "--output-dir", tmp_path)
    assert code == 1 and "internal error: ValueError: boom (rerun with --debug" in err
    with pytest.raises(ValueError, match="boom"):
        cli(
            "--debug",
            "run",
            "--task",
            "debian-faq-en",
            "--retriever",
            "crashes",
            "--output-dir",
            tmp_path,
        )


def test_listing_imports_no_heavy_modules():
    code = (
        "import sys; from benchmark.cli import main; main(['tasks']); main(['retrievers']); "
        "print(sorted(m for m in ('torch', 'datasets', 'transformers', 'bm25s') if m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert completed.returncode == 0 and completed.stdout.strip().endswith("[]")


def read_trec(path) -> dict[str, list[tuple[str, float]]]:
    ranked: dict[str, list[tuple[str, float]]] = {}
    for line in path.read_text().splitlines():
        query_id, _, page_id, _, score, _ = line.split()
        ranked.setdefault(query_id, []).append((page_id, float(score)))
    return ranked


def test_committed_results_still_read_and_match_their_run_files():
    """The committed results load in the current schema, and their metrics are what the
    .trec beside them scores against the task's qrels today."""
    from benchmark.tasks import load_task
    from benchmark.tasks.catalog import resolve_task, spec_root

    committed = sorted((spec_root().parent / "results").glob("*/*.json"))
    assert committed, "the repository ships baseline results"
    for path in committed:
        result = read_result(path)
        task = load_task(resolve_task(result.task.name))
        assert task.fingerprint == result.task.fingerprint, path
        metrics, per_query = evaluate_run(task.qrels, read_trec(path.with_suffix(".trec")))
        assert metrics == pytest.approx(result.metrics, abs=1e-12), path
        assert set(per_query) == set(result.per_query), path
        for query_id, values in per_query.items():
            assert values == pytest.approx(result.per_query[query_id], abs=1e-12), (path, query_id)


def test_a_run_writes_to_runs_never_over_the_committed_baselines(cli, tmp_path, monkeypatch):
    """The README's first command, run in a checkout, must leave results/ (and git) untouched."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    code, _, err = cli("run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--latency-queries", "0")
    assert code == 0, err
    written = sorted(path.relative_to(checkout).as_posix() for path in checkout.rglob("*") if path.is_file())
    assert written == [
        "runs/bm25-ocr/debian-faq-en.json",
        "runs/bm25-ocr/debian-faq-en.qrels",
        "runs/bm25-ocr/debian-faq-en.trec",
    ]


def test_params_and_protocol_give_a_run_its_own_default_folder(cli, tmp_path):
    """A run made with other settings must not land in (and be compared as) the default run."""
    args = ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--output-dir", tmp_path]
    code, _, err = cli(*args, "--param", "k1=1.2", "--param", "method=bm25+", "--protocol", "mteb")
    assert code == 0, err
    assert (tmp_path / "bm25-ocr@k1-1.2@method-bm25+mteb" / "debian-faq-en.json").is_file()
    assert not (tmp_path / "bm25-ocr").exists()


# --- how results are written, and what is checked before the work (issue 13) ---------------

FAQ_RUN = ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr"]
FAQ_RUN += ["--latency-queries", "0", "--no-cache"]


def fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def test_a_full_disk_never_leaves_a_new_trec_beside_an_old_json(cli, tmp_path, monkeypatch):
    """The .json commits the pair: a write that fails leaves the old result whole (ENOSPC
    while writing) or no result at all (a failed rename), never a mixed pair."""
    run = [*FAQ_RUN, "--output-dir", tmp_path, "--run-name", "r"]
    assert cli(*run)[0] == 0
    folder = tmp_path / "r"
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    real_fsync, real_replace = os.fsync, os.replace

    def full_at_json(fd):
        if ".json." in fd_path(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_at_json)
    code, _, err = cli(*run, "--top-k", "5")  # another .trec than the first run's
    assert code == 2 and f"{folder}: cannot write the results" in err and "No space left" in err, err
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before

    def json_rename_fails(source, target):
        if str(target).endswith(".json"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", real_fsync)
    monkeypatch.setattr(os, "replace", json_rename_fails)
    code, _, err = cli(*run, "--top-k", "5")
    assert code == 2 and "Input/output error" in err, err
    assert sorted(path.name for path in folder.iterdir()) == ["debian-faq-en.qrels", "debian-faq-en.trec"]
    monkeypatch.setattr(os, "replace", real_replace)
    code, _, err = cli("compare", folder, folder)
    assert code == 2 and "no results files" in err  # a .trec without its .json is not a result


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if the run gets as far as loading the retriever."""
    import benchmark.run.session

    def load_retriever(*_args):
        raise AssertionError("the run started its work before the check")

    monkeypatch.setattr(benchmark.run.session, "load_retriever", load_retriever)


@pytest.mark.usefixtures("no_work")
def test_an_output_or_cache_path_that_is_a_file_fails_before_the_work(cli, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for where in (["--output-dir", a_file], ["--output-dir", a_file / "below"]):
        code, _, err = cli(*FAQ_RUN, *where)
        assert code == 2 and f"output folder {a_file}" in err and "is a file, not a folder" in err, err
    code, _, err = cli(*FAQ_RUN[:-1], "--output-dir", tmp_path, "--cache-dir", a_file)
    assert code == 2 and f"cache folder {a_file}: {a_file} is a file" in err, err


@pytest.mark.usefixtures("no_work")
def test_a_read_only_output_folder_fails_before_the_work(cli, tmp_path, monkeypatch):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:  # permissions do not bind root: refuse the write as a read-only mount would
        real = tempfile.TemporaryFile

        def refused(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own name
            if Path(dir) == read_only:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    try:
        code, _, err = cli(*FAQ_RUN, "--output-dir", read_only / "runs")
    finally:
        read_only.chmod(0o755)
    expected = f"output folder {read_only / 'runs' / 'bm25-ocr'} cannot be written ({read_only}:"
    assert code == 2 and expected in err, err
    assert not (read_only / "runs").exists()


@pytest.mark.usefixtures("no_work")
def test_too_little_free_space_fails_before_the_work_naming_the_numbers(cli, tmp_path, monkeypatch):
    import shutil

    almost_full = shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: almost_full)
    code, _, err = cli(*FAQ_RUN, "--output-dir", tmp_path / "out")
    assert code == 2 and f"{tmp_path / 'out' / 'bm25-ocr'}: 1000 bytes free, but this run writes" in err, err
    assert "MiB there (output " in err


@pytest.mark.usefixtures("no_work")
def test_names_too_long_for_the_file_system_fail_before_the_work(cli, tmp_path):
    code, _, err = cli(*FAQ_RUN, "--output-dir", tmp_path, "--run-name", "r" * 300)
    assert code == 2 and "is 300 bytes" in err and "choose a shorter --run-name" in err, err
    folder = make_local_folder(tmp_path / ("d" * 240), {"p1": "words"}, {"q1": "words"}, [("q1", "p1", 1)])
    code, _, err = cli(*FAQ_RUN[:2], folder, *FAQ_RUN[3:], "--output-dir", tmp_path / "out")
    assert code == 2 and f"(folder {folder}) makes result file names of 260 bytes" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("no_work")
def test_two_task_folders_of_one_name_fail_before_the_work(cli, tmp_path):
    first, second = (
        make_local_folder(tmp_path / side / "docs", {"p1": "words"}, {"q1": "words"}, [("q1", "p1", 1)])
        for side in ("a", "b")
    )
    code, _, err = cli(*FAQ_RUN[:2], first, "--task", second, *FAQ_RUN[3:], "--output-dir", tmp_path / "out")
    assert code == 2 and f"folder {first} and folder {second} are both task 'docs'" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_results_and_leaderboard_follow_the_umask(cli, tmp_path, umask):
    previous = os.umask(umask)
    try:
        assert cli(*FAQ_RUN, "--output-dir", tmp_path, "--run-name", "r")[0] == 0
        leaderboard = tmp_path / "leaderboard.md"
        assert cli("leaderboard", tmp_path / "r", "--output", leaderboard, "--no-plots")[0] == 0
    finally:
        os.umask(previous)
    written = [*(tmp_path / "r").iterdir(), leaderboard]
    assert len(written) == 4
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in written} == {
        path.name: 0o666 & ~umask for path in written
    }


@pytest.mark.parametrize(
    "where, message",
    [("a-folder", "--output {path} is a folder, not a file"), ("a-file/p.json", "{parent} is a file")],
)
@pytest.mark.usefixtures("no_work")
def test_an_unwritable_profile_output_fails_before_the_work(cli, tmp_path, where, message):
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("")
    path = tmp_path / where
    code, _, err = cli("profile", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--output", path)
    assert code == 2 and message.format(path=path, parent=path.parent) in err, err
