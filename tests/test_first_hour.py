"""What a new user meets in the first hour (issue 14, part 4): the README's commands leave
a clone clean, progress reaches logs, names are accepted as tables print them, and the
small promises of `--help`, `cache`, `profile` and the results file hold."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_local_folder

REPO = Path(__file__).resolve().parent.parent


def _git(folder: Path, *args: str) -> str:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]
    completed = subprocess.run(
        ["git", "-C", str(folder), *identity, *args], capture_output=True, text=True, check=True
    )
    return completed.stdout


# `pip install .` installs no torch: the README's main command runs as if these were absent
WITHOUT_THE_VISION_EXTRA = """
import importlib.abc, importlib.util, runpy, sys

ABSENT = {"torch", "torchvision", "transformers", "peft", "sentence_transformers"}

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

found = importlib.util.find_spec  # libraries ask it whether torch is there (datasets does)
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] in ABSENT else found(name, package)
)
sys.meta_path.insert(0, NotInstalled())
sys.argv[0] = "pagebench"
runpy.run_module("benchmark", run_name="__main__")
"""


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_readme_set_up_command_leaves_a_clone_clean(tmp_path):
    """`python3 -m venv .venv && ... && pagebench run --task debian-faq-en --retriever bm25-ocr`
    in a clone, without torch (`pip install .` has no vision extra): it runs, and what it
    writes (.venv, runs/, byte code, egg-info) is ignored by git."""
    clone = tmp_path / "clone"
    tracked = _git(REPO, "ls-files", "-z").split("\0")
    for name in filter(None, tracked):
        source = REPO / name
        if source.is_file():  # a file deleted in the working tree is not in the clone either
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    _git(clone, "init", "-q")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-q", "-m", "clone")
    (clone / ".venv" / "bin").mkdir(parents=True)  # what `python3 -m venv .venv` and pip leave
    (clone / ".venv" / "bin" / "python").write_text("")
    (clone / "pagebench.egg-info").mkdir()
    metadata = "Metadata-Version: 2.1\nName: pagebench\nVersion: 0.1.0\n"
    (clone / "pagebench.egg-info" / "PKG-INFO").write_text(metadata)
    environment = {**os.environ, "PYTHONPATH": str(clone), "PAGEBENCH_CACHE_DIR": str(tmp_path / "cache")}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            WITHOUT_THE_VISION_EXTRA,
            "run",
            "--task",
            "debian-faq-en",
            "--retriever",
            "bm25-ocr",
        ],
        check=False,
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert (clone / "runs" / "bm25-ocr" / "debian-faq-en.json").is_file()
    assert _git(clone, "status", "--porcelain", "--untracked-files=all") == ""


def test_an_installed_package_records_its_version_and_says_git_is_not_known(tmp_path):
    """A non-editable install (the package copied into site-packages, no checkout around it)
    records `git: null` and says why: `pagebench_source` is "installed package"."""
    site_packages = tmp_path / "site-packages"
    no_byte_code = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "benchmark", site_packages / "benchmark", ignore=no_byte_code)
    probe = "from benchmark.results.environment import environment; print(environment().model_dump_json())"
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site_packages)},
        capture_output=True,
        text=True,
        check=True,
    )
    recorded = json.loads(completed.stdout)
    assert recorded["git"] is None
    assert recorded["pagebench_source"] == "installed package"
    assert recorded["pagebench"]

    from benchmark.results.environment import environment

    here = environment()  # the tests run from the checkout
    if here.git is not None:
        assert here.pagebench_source == "git checkout"


def test_a_task_folder_with_its_own_task_toml_is_recorded_by_its_path(cli, tmp_path, monkeypatch):
    folder = make_local_folder(tmp_path / "my-docs", {"p1": "hello"}, {"q1": "hello"}, [("q1", "p1", 1)])
    (folder / "task.toml").write_text('name = "mine"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    run = ["run", "--task", "./my-docs", "--retriever", "bm25-ocr", "--output-dir", "out"]
    code, _, err = cli(*run, "--latency-queries", "0")
    assert code == 0, err
    recorded = json.loads((tmp_path / "out" / "bm25-ocr" / "mine.json").read_text(encoding="utf-8"))
    assert recorded["task"]["source"] not in (".", "")
    assert Path(recorded["task"]["source"]).resolve() == folder.resolve()


def test_no_help_shows_argparse_escapes(capsys):
    """`compare --help` said "95%%": a description is printed as written, a help string is
    %-formatted; every command's help must read as plain text."""
    from benchmark.cli.app import build_parser, main

    subcommands = next(action for action in build_parser()._actions if action.choices)
    for command in [[], *([name] for name in subcommands.choices)]:
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        shown = capsys.readouterr().out
        assert "usage" in shown
        assert "%%" not in shown and "%(" not in shown, command


def test_task_notes_point_only_at_files_that_exist():
    """Notes said "(REFERENCE.md)", a file the repository does not have."""
    import re

    from benchmark.tasks.catalog import all_specs

    noted = [spec for spec in all_specs() if spec.notes]
    assert noted
    for spec in noted:
        for named in re.findall(r"[\w./-]+\.(?:md|py|toml|txt|json)\b", spec.notes):
            assert (REPO / named).exists(), f"{spec.name}: notes name {named}, which does not exist"


def test_tiny_checkpoints_are_named_by_the_retriever_that_loads_them(tmp_path):
    """The builder said `siglip` where the retriever is `bisiglip`; `siglip` stays an alias."""
    from benchmark.devtools import tiny_checkpoints
    from benchmark.retrievers.registry import available

    loaded_by = {tiny_checkpoints.LOADED_BY.get(kind, kind) for kind in tiny_checkpoints.BUILDERS}
    assert loaded_by <= set(available())
    assert tiny_checkpoints.main(["bisiglip", str(tmp_path / "new")]) == 0
    assert tiny_checkpoints.main(["siglip", str(tmp_path / "old")]) == 0
    assert (tmp_path / "new" / "config.json").read_text() == (tmp_path / "old" / "config.json").read_text()


@pytest.mark.parametrize("spelled", ["nDCG@5", "ndcg@5", "ndcg_at_5", "NDCG@5"])
def test_a_metric_is_accepted_as_tables_print_it(cli, spelled):
    code, out, err = cli(
        "compare", REPO / "results" / "bm25-ocr", REPO / "results" / "dense-ocr", "--metric", spelled
    )
    assert code == 0, err
    assert "ndcg_at_5" in out


def test_metric_labels_read_back_as_their_names():
    from benchmark.core.vocabulary import METRIC_NAMES, metric_label, metric_name

    for name in METRIC_NAMES:
        assert metric_name(metric_label(name)) == name
    assert metric_name("Recall@10") == "recall_at_10"
    assert metric_name("MRR@10") == "mrr_at_10"
    assert metric_name("P@5") == "precision_at_5"


def test_an_unknown_metric_lists_the_valid_ones(cli):
    code, _, err = cli(
        "check",
        "--baseline",
        REPO / "results" / "bm25-ocr",
        "--current",
        REPO / "results" / "bm25-ocr",
        "--metric",
        "ndcg5",
    )
    assert code == 2
    assert "unknown metric 'ndcg5'" in err
    assert "ndcg, map, recall, precision, mrr at 1, 3, 5, 10, 20, 50, 100" in err


def test_a_spec_names_its_main_score_as_tables_print_it(tmp_path):
    from benchmark.core.errors import SpecError
    from benchmark.tasks.spec import load_spec_file
    from tests.conftest import write_spec

    fields = {"name": "x", "suite": "s", "description": "d", "format": "beir", "languages": ["en"]}
    spec = load_spec_file(
        write_spec(tmp_path / "x.toml", **fields, dataset="a/b", revision="main", main_score="nDCG@10")
    )
    assert spec.main_score == "ndcg_at_10"
    with pytest.raises(SpecError, match="field 'main_score'.*valid: ndcg_at_1"):
        load_spec_file(
            write_spec(tmp_path / "y.toml", **fields, dataset="a/b", revision="main", main_score="ndcg")
        )


def test_a_suite_given_as_a_task_suggests_suite(cli):
    code, _, err = cli("run", "--task", "debian-faq", "--retriever", "bm25-ocr")
    assert code == 2
    assert "--suite debian-faq" in err


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def progress_lines():
    import logging

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("benchmark.run.progress")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_progress_reaches_a_log_that_is_not_a_terminal(progress_lines):
    """A batch job's stderr is a file: a line every 10 % of the work or every 30 s."""
    import io

    from benchmark.run.progress import LoggedProgress, progress_bar

    assert isinstance(progress_bar(total=10, unit="page", desc="index", stream=io.StringIO()), LoggedProgress)
    assert not isinstance(
        progress_bar(total=10, unit="page", desc="index", stream=io.StringIO(), enabled=False), LoggedProgress
    )
    clock = _Clock()
    progress = LoggedProgress(total=1000, unit="page", desc="t: index", clock=clock)
    for _ in range(100):  # 1000 pages, 10 a second: 100 s
        clock.now += 1
        progress.update(10)
    assert len(progress_lines) == 10  # 10 %, 20 %, ... 100 % (the first within the quiet start)
    assert progress_lines[1] == "t: index: 200/1000 pages (20 %), 10.0 pages/s, about 80 s left"
    assert progress_lines[-1] == "t: index: 1000/1000 pages (100 %), 10.0 pages/s"

    progress_lines.clear()
    slow = LoggedProgress(total=1000, unit="query", desc="search", clock=clock)
    for _ in range(10):  # 1 query a minute: under 10 % all along, a line every 30 s
        clock.now += 60
        slow.update(1)
    assert len(progress_lines) == 10 and progress_lines[0].startswith("search: 1/1000 queries (0 %)")


def test_a_quick_job_logs_no_progress(progress_lines):
    from benchmark.run.progress import LoggedProgress

    clock = _Clock()
    progress = LoggedProgress(total=73, unit="page", desc="index", clock=clock)
    for _ in range(5):
        clock.now += 0.1
        progress.update(16)
    assert progress_lines == []


def test_a_run_logs_its_progress_when_stderr_is_a_file(cli, monkeypatch, tmp_path):
    from benchmark.run import progress

    monkeypatch.setattr(progress, "QUIET_START_S", 0.0)  # the bundled task is over in a second
    run = ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--output-dir", tmp_path]
    code, _, err = cli(*run, "--latency-queries", "0")
    assert code == 0, err
    assert "pagebench: debian-faq-en: index: 73/73 pages (100 %)" in err
    assert "pagebench: debian-faq-en: search: 123/123 queries (100 %)" in err
    code, _, err = cli(*run, "--latency-queries", "0", "--no-progress")
    assert code == 0, err
    assert "index:" not in err and "search:" not in err


def test_no_progress_silences_loading_bars_and_the_peft_warning(tmp_path):
    """A LoRA adapter load drew transformers' "Loading weights" bar despite --no-progress,
    and peft's FutureWarning (filtered only in the tests' own settings) reached the user."""
    from benchmark.devtools import tiny_checkpoints

    tiny_checkpoints.build_bipali(tmp_path / "bipali", adapter_folder=tmp_path / "adapter")
    command = [sys.executable, "-m", "benchmark", "run", "--task", "debian-faq-en", "--retriever", "bipali"]
    command += ["--checkpoint", str(tmp_path / "adapter"), "--output-dir", str(tmp_path / "out")]
    command += ["--latency-queries", "0", "--no-cache"]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [*command, "--no-progress"], env=environment, capture_output=True, text=True, check=False, timeout=600
    )
    assert completed.returncode == 0, completed.stderr
    assert "Loading weights" not in completed.stderr
    assert "Warning" not in completed.stderr
    assert "ndcg_at_5 = " in completed.stderr


def test_no_progress_leaves_the_libraries_as_it_found_them(cli, tmp_path):
    import huggingface_hub.utils as hub

    assert not hub.are_progress_bars_disabled()
    run = ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--output-dir", tmp_path]
    code, _, err = cli(*run, "--latency-queries", "0", "--no-progress")
    assert code == 0, err
    assert not hub.are_progress_bars_disabled()


def test_cache_info_and_clear_include_the_datasets_cache(cli, tmp_path):
    """`<cache-dir>/datasets` (local data's Arrow files) was neither listed nor cleared."""
    cache = tmp_path / "cache"
    run = ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out"]
    code, _, err = cli(*run, "--latency-queries", "0", "--cache-dir", cache)
    assert code == 0, err
    assert (cache / "datasets" / ".pagebench-cache").is_file()
    code, out, _ = cli("cache", "info", "--cache-dir", cache)
    assert code == 0
    assert "local datasets (Arrow files): 1 folder(s)" in out

    code, out, _ = cli("cache", "clear", "--cache-dir", cache, "--ocr-only")
    assert (cache / "datasets").is_dir()
    code, out, _ = cli("cache", "clear", "--cache-dir", cache, "--datasets-only")
    assert code == 0 and f"removed {cache / 'datasets'}" in out
    assert not (cache / "datasets").exists()
    code, out, _ = cli("cache", "info", "--cache-dir", cache)
    assert "local datasets (Arrow files): 0 folder(s), 0 B" in out

    mine = tmp_path / "mine"
    (mine / "datasets").mkdir(parents=True)  # not made by pagebench: no marker, left alone
    code, out, _ = cli("cache", "clear", "--cache-dir", mine)
    assert code == 0 and f"left {mine / 'datasets'}: it has no .pagebench-cache marker" in out
    assert (mine / "datasets").is_dir()


def test_top_k_leaves_out_the_metrics_it_cannot_compute(cli, tmp_path):
    """`--top-k 5` reported recall@100 from 5 pages: such a metric is now unavailable."""
    run = [
        "run",
        "--task",
        "debian-faq-en",
        "--retriever",
        "bm25-ocr",
        "--output-dir",
        tmp_path,
        "--top-k",
        "5",
    ]
    code, out, err = cli(*run, "--latency-queries", "0")
    assert code == 0, err
    recorded = json.loads((tmp_path / "bm25-ocr" / "debian-faq-en.json").read_text(encoding="utf-8"))
    assert "recall_at_5" in recorded["metrics"] and "recall_at_100" not in recorded["metrics"]
    assert all("ndcg_at_10" not in values for values in recorded["per_query"].values())
    assert "n/a" in out
    code, _, err = cli("compare", tmp_path / "bm25-ocr", REPO / "results" / "bm25-ocr", "--metric", "nDCG@10")
    assert code == 2 and "debian-faq-en.json: per-query values of 'ndcg_at_10' are missing" in err


def test_top_k_below_a_main_score_cutoff_is_refused_before_the_work(cli, tmp_path):
    run = [
        "run",
        "--task",
        "debian-faq-en",
        "--retriever",
        "bm25-ocr",
        "--output-dir",
        tmp_path,
        "--top-k",
        "3",
    ]
    code, _, err = cli(*run)
    assert code == 2
    assert "--top-k 3 keeps fewer pages than ndcg_at_5, the main score of task debian-faq-en" in err
    assert not (tmp_path / "bm25-ocr").exists()


def test_a_projection_from_a_tiny_model_or_a_cpu_says_so():
    """`profile` on a tiny test model projected to 100,000 pages without a word of caution."""
    from benchmark.report.efficiency import describe_growth
    from benchmark.results.schema import Efficiency

    def measured(pages: int, device: str, parameters: int) -> tuple[int, Efficiency]:
        return pages, Efficiency(
            device=device,
            model_parameters=parameters,
            index_bytes_total=pages * 100,
            search_ms_p50=pages / 1000,
        )

    tiny_on_cpu = describe_growth([measured(1000, "cpu", 264_500), measured(5000, "cpu", 264_500)])
    assert "projected at 100,000 pages" in tiny_on_cpu
    assert "caveat: a model of 264.5k parameters is a test model" in tiny_on_cpu
    assert "caveat: projected from CPU figures" in tiny_on_cpu
    real_on_gpu = describe_growth(
        [measured(1000, "cuda", 2_900_000_000), measured(5000, "cuda", 2_900_000_000)]
    )
    assert "caveat" not in real_on_gpu


def test_the_example_workflow_installs_pagebench_not_the_project_it_is_copied_into():
    import yaml

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "regression-gate.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    checkouts = [
        step.get("with", {}) for step in steps if str(step.get("uses", "")).startswith("actions/checkout")
    ]
    pagebench = next(options["path"] for options in checkouts if "repository" in options)
    assert "PAGEBENCH_REPOSITORY" in pagebench_step_options(checkouts)
    installs = [line for step in steps for line in step.get("run", "").splitlines() if "pip install" in line]
    assert installs and all(line.split()[-1] in (pagebench, f"./{pagebench}") for line in installs), installs


def pagebench_step_options(checkouts: list[dict]) -> str:
    return " ".join(str(value) for options in checkouts for value in options.values())
