"""leaderboard, compare and check on results files with known per-query scores, and the
import of published results (ViDoRe results JSON, MTEB result files)."""

import errno
import json
import math
import os
import shlex
import shutil
from pathlib import Path

import pytest

from benchmark.cli import build_parser
from benchmark.core.errors import PagebenchError
from benchmark.report.plots import pareto_front
from benchmark.report.published import REVISION_NOT_RECORDED, read_published
from benchmark.tasks.catalog import all_specs
from tests.result_files import REPO, write_result_file

FIXTURES = Path(__file__).parent / "fixtures"
PUBLISHED = FIXTURES / "published"
EN, FR = "debian-faq-en", "debian-faq-fr"
ALTERNATING = [1.0, 0.0] * 20  # mean 0.5


def two_task_run(root: Path, name: str, en: list[float], fr: list[float], **options) -> Path:
    write_result_file(root, name, EN, en, **options)
    write_result_file(root, name, FR, fr, **options)
    return root / name


# --- compare ---------------------------------------------------------------------------


def test_compare_identical_runs(cli, tmp_path):
    a = two_task_run(tmp_path, "a", ALTERNATING, ALTERNATING)
    b = two_task_run(tmp_path, "b", ALTERNATING, ALTERNATING)
    code, out, _ = cli("compare", a, b, "--json")
    assert code == 0
    report = json.loads(out)
    for comparison in (*report["tasks"].values(), report["overall"]):
        assert comparison["difference"] == 0 and comparison["p_value"] == 1.0
        assert comparison["ties"] == comparison["n_queries"]
    assert report["not_comparable"] == {}


def test_compare_finds_a_better_run_and_skips_tasks_on_other_data(cli, tmp_path):
    a = two_task_run(tmp_path, "a", [0.5] * 40, [0.5] * 40)
    write_result_file(tmp_path, "b", EN, [0.9] * 30 + [0.4] * 10)  # wins 30, loses 10
    write_result_file(tmp_path, "b", FR, [0.9] * 40, fingerprint="other-data")
    code, out, _ = cli("compare", a, tmp_path / "b", "--json", "--resamples", "2000")
    assert code == 0
    report = json.loads(out)
    en = report["tasks"][EN]
    assert en["difference"] == pytest.approx(0.4 * 30 / 40 - 0.1 * 10 / 40)
    assert (en["wins"], en["ties"], en["losses"]) == (30, 0, 10)
    assert en["p_value"] < 0.001 and 0 < en["ci_low"] < en["difference"] < en["ci_high"]
    assert list(report["tasks"]) == [EN] and report["overall"] is None
    assert "different data" in report["not_comparable"][FR]

    code, out, _ = cli("compare", a, tmp_path / "b")  # the table
    assert code == 0
    assert "not comparable:" in out and f"{FR}: different data" in out and "30/0/10" in out


# --- check: each exit code ------------------------------------------------------------


def test_check_passes_within_tolerance(cli, tmp_path):
    baseline = two_task_run(tmp_path, "base", ALTERNATING, ALTERNATING)
    current = two_task_run(tmp_path, "now", ALTERNATING, [0.9] + ALTERNATING[1:])  # -0.1/40 = -0.0025
    code, out, _ = cli("check", "--baseline", baseline, "--current", current)
    assert code == 0, out
    assert "check passed" in out and f"ok         {EN}" in out
    assert f"ok         {FR}: ndcg_at_5 baseline 0.5000, current 0.4975, delta -0.0025" in out


def test_check_names_each_regression(cli, tmp_path):
    baseline = two_task_run(tmp_path, "base", ALTERNATING, ALTERNATING)
    current = two_task_run(tmp_path, "now", ALTERNATING, [0.0] * 40)
    code, out, _ = cli("check", "--baseline", baseline, "--current", current)
    assert code == 1
    assert f"REGRESSION {FR}: ndcg_at_5 baseline 0.5000, current 0.0000, delta -0.5000" in out
    assert f"ok         {EN}" in out and "check failed: 1 task(s)" in out


def test_check_tolerance_is_a_bound(cli, tmp_path):
    baseline = two_task_run(tmp_path, "base", ALTERNATING, ALTERNATING)
    current = two_task_run(tmp_path, "now", ALTERNATING, [0.0] + ALTERNATING[1:])  # -1/40 = -0.025
    assert cli("check", "--baseline", baseline, "--current", current, "--tolerance", "0.03")[0] == 0
    assert cli("check", "--baseline", baseline, "--current", current, "--tolerance", "0.02")[0] == 1


@pytest.mark.parametrize("current_metric", [float("nan"), float("inf"), 1e308, -0.5])
def test_check_refuses_a_non_finite_or_out_of_range_metric_instead_of_passing_it(
    cli, tmp_path, current_metric
):
    """Issue 13, case 2: NaN, Infinity and 1e308 used to pass the gate (exit 0)."""
    baseline = two_task_run(tmp_path, "base", ALTERNATING, ALTERNATING)
    current = two_task_run(
        tmp_path, "now", ALTERNATING, ALTERNATING, metric_means={"ndcg_at_5": current_metric}
    )
    code, out, err = cli("check", "--baseline", baseline, "--current", current)
    assert code == 2 and "check passed" not in out
    assert str(current / f"{EN}.json") in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "options",
    [
        ("--tolerance", "nan"),
        ("--tolerance", "inf"),
        ("--tolerance", "-0.1"),
        ("--significant", "--alpha", "nan"),
        ("--significant", "--alpha", "0"),
        ("--significant", "--alpha", "1.5"),
        ("--resamples", "0"),
        ("--resamples", "-3"),
        ("--resamples", "100000000000"),  # was a MemoryError
        ("--seed", "-1"),  # was NumPy's ValueError
    ],
)
def test_check_refuses_a_numeric_option_out_of_range(cli, tmp_path, options):
    """Issue 13, case 2: `--tolerance nan` and `--alpha nan` used to pass a fall from 1.0 to 0.1;
    `--resamples 0` was an internal error (exit 1, the regression code)."""
    baseline = two_task_run(tmp_path, "base", [1.0] * 40, [1.0] * 40)
    current = two_task_run(tmp_path, "now", [1.0] * 40, [0.1] * 40)
    with pytest.raises(SystemExit) as exited:
        cli("check", "--baseline", baseline, "--current", current, *options)
    assert exited.value.code == 2


def test_compare_refuses_bad_statistics_options_and_non_finite_data(cli, tmp_path):
    """Issue 13, cases 2 and 16: `compare --json` printed NaN (not JSON) and p 0.0 for NaN data."""
    a = two_task_run(tmp_path, "a", ALTERNATING, ALTERNATING)
    b = two_task_run(tmp_path, "b", [float("nan")] * 40, ALTERNATING)
    code, out, err = cli("compare", a, b, "--json")
    assert code == 2 and out == "" and str(b / f"{EN}.json") in err
    with pytest.raises(SystemExit) as exited:
        cli("compare", a, a, "--resamples", "0")
    assert exited.value.code == 2


def test_check_not_comparable_when_a_task_is_missing_or_on_other_data(cli, tmp_path):
    baseline = two_task_run(tmp_path, "base", ALTERNATING, ALTERNATING)
    write_result_file(tmp_path, "only-en", EN, ALTERNATING)
    code, out, _ = cli("check", "--baseline", baseline, "--current", tmp_path / "only-en")
    assert code == 2
    assert f"NOT COMPARABLE {FR}: in the baseline but missing from the current run" in out

    other = two_task_run(tmp_path, "other", ALTERNATING, ALTERNATING, fingerprint="changed")
    code, out, _ = cli("check", "--baseline", baseline, "--current", other)
    assert code == 2 and "different data (fingerprint" in out


def test_runs_under_different_protocols_or_tie_rules_are_never_compared(cli, tmp_path):
    baseline = two_task_run(tmp_path, "base", ALTERNATING, ALTERNATING)
    vidore = two_task_run(tmp_path, "vidore", ALTERNATING, ALTERNATING, protocol="vidore")
    code, out, _ = cli("check", "--baseline", baseline, "--current", vidore)
    assert code == 2
    assert (
        f"NOT COMPARABLE {EN}: evaluated differently (protocol pagebench, ties by trec_eval vs "
        "protocol vidore" in out
    )
    code, out, _ = cli("compare", baseline, vidore)
    assert "not comparable:" in out and "evaluated differently" in out

    # a results file from before schema 3 ranked ties by page id ascending
    old = tmp_path / "old" / f"{EN}.json"
    old.parent.mkdir()
    document = json.loads((FIXTURES / "results-schema-v2.json").read_text(encoding="utf-8"))
    current = REPO / "results" / "bm25-ocr"
    # same data (the fingerprint then did not cover page content): only the tie rule differs
    document["task"]["fingerprint"] = json.loads((current / f"{EN}.json").read_text())["task"]["fingerprint"]
    old.write_text(json.dumps(document), encoding="utf-8")
    code, out, _ = cli("check", "--baseline", old.parent, "--current", current)
    assert code == 2 and "ties by page id ascending vs protocol pagebench, ties by trec_eval" in out


def test_check_significant_mode_ignores_a_drop_the_test_cannot_tell_from_noise(cli, tmp_path):
    baseline = two_task_run(tmp_path, "base", ALTERNATING, ALTERNATING)
    # 3 queries of 40 lost, 1 gained: -0.05 on the mean, p about 0.6
    noisy = [0.0, 1.0, 0.0, 0.0, 0.0] + ALTERNATING[5:]
    current = two_task_run(tmp_path, "now", ALTERNATING, noisy)
    assert cli("check", "--baseline", baseline, "--current", current)[0] == 1
    code, out, _ = cli("check", "--baseline", baseline, "--current", current, "--significant")
    assert code == 0 and "p = 0." in out
    collapsed = two_task_run(tmp_path, "worse", ALTERNATING, [0.0] * 40)
    assert cli("check", "--baseline", baseline, "--current", collapsed, "--significant")[0] == 1


def test_todays_code_passes_the_check_against_the_committed_baseline(cli, tmp_path):
    """What CI gates on: bm25-ocr run now on the bundled tasks, checked against results/."""
    code, _, err = cli("run", "--suite", "debian-faq", "--retriever", "bm25-ocr", "--output-dir", tmp_path)
    assert code == 0, err
    code, out, _ = cli(
        "check", "--baseline", REPO / "results" / "bm25-ocr", "--current", tmp_path / "bm25-ocr"
    )
    assert code == 0, out
    assert out.count("ok ") == 2 and "delta +0.0000" in out


def test_report_input_errors_are_one_line(cli, tmp_path):
    code, _, err = cli("check", "--baseline", tmp_path / "nothing", "--current", tmp_path)
    assert code == 2 and "no such results file or folder" in err
    code, _, err = cli("compare", REPO / "results", REPO / "results" / "bm25-ocr")
    assert code == 2 and "holds the runs bm25-ocr, dense-ocr: name one of them" in err
    code, _, err = cli(
        "compare", REPO / "results" / "bm25-ocr", REPO / "results" / "dense-ocr", "--metric", "ndcg5"
    )
    assert code == 2 and "unknown metric 'ndcg5'" in err
    broken = tmp_path / "broken" / "t.json"
    broken.parent.mkdir()
    broken.write_text("{not json")
    code, _, err = cli("check", "--baseline", broken.parent, "--current", broken.parent)
    assert code == 2 and str(broken) in err


# --- published results ----------------------------------------------------------------


def ndcg_at_5(run) -> dict[str, float]:
    return {task: metrics["ndcg_at_5"] for task, metrics in run.scores.items()}


def test_import_official_vidore_results_json():
    (run,) = read_published(PUBLISHED / "vidore-fixture-model_metrics.json", all_specs())
    assert run.label == "fixture-org/vidore-format-model" and run.source.startswith("ViDoRe results JSON")
    assert ndcg_at_5(run) == {"docvqa": 0.5123, "tabfquad": 0.8456}  # QA datasets -> QA-format tasks
    assert run.scores["docvqa"] == {"ndcg_at_1": 0.41, "ndcg_at_5": 0.5123, "recall_at_5": 0.6}
    assert run.unmatched == ["vidore/some_dataset_we_do_not_have"]
    assert run.notes == {}  # the QA specs pin no commit ("main"): nothing to compare


def test_import_bare_vidore_results_json_matches_beir_mirrors_by_name():
    (run,) = read_published(PUBLISHED / "bare-fixture-model.json", all_specs())
    assert run.label == "bare-fixture-model"
    assert ndcg_at_5(run) == {"arxivqa": 0.7011, "shift-beir": 0.6022, "docvqa-beir": 0.5533}
    # the BEIR mirrors are pinned, and this file says nothing of revisions
    assert run.notes == dict.fromkeys(["shift-beir", "docvqa-beir"], REVISION_NOT_RECORDED)


def test_import_mteb_results_folder():
    (run,) = read_published(PUBLISHED / "mteb", all_specs())
    assert run.label == "fixture-org/fixture-model@0123456789ab"
    assert run.scores["docvqa-beir"] == {"ndcg_at_1": 0.5, "ndcg_at_5": 0.6012}
    # four language subsets: averaged for the task, kept per language
    assert run.score("esg-reports-v2", "ndcg_at_5") == pytest.approx(0.35)
    assert run.score("esg-reports-v2@fr", "ndcg_at_5") == 0.4
    assert run.score("esg-reports-v2@de", "ndcg_at_5") == 0.2
    assert run.unmatched == ["SomeTextTaskRetrieval"]
    assert run.notes == {} and run.partial == {}  # the revisions the specs pin, every language
    (single,) = read_published(
        PUBLISHED / "mteb/fixture-org__fixture-model/0123456789abcdef/VidoreDocVQARetrieval.json", all_specs()
    )
    assert ndcg_at_5(single) == {"docvqa-beir": 0.6012}


def test_import_refuses_files_of_neither_format(tmp_path):
    not_results = tmp_path / "list.json"
    not_results.write_text("[1, 2]")
    with pytest.raises(PagebenchError, match="list.json"):
        read_published(not_results, all_specs())
    percent = tmp_path / "percent.json"
    percent.write_text(json.dumps({"metrics": {"vidore/docvqa_test_subsampled": {"ndcg_at_5": 51.2}}}))
    with pytest.raises(PagebenchError, match="between 0 and 1"):
        read_published(percent, all_specs())
    with pytest.raises(PagebenchError, match="no MTEB result files"):
        read_published(tmp_path, all_specs())  # a folder whose JSON files are not MTEB results


# --- leaderboard ----------------------------------------------------------------------


def fixture_results(root: Path) -> Path:
    """Three runs on debian-faq (one covers one task only) and one on a vidore-v1 task."""
    two_task_run(root, "strong", [0.9] * 10, [0.7] * 10, efficiency={"query_ms_p50": 30.0})
    two_task_run(
        root,
        "colpali--tiny",
        [0.6] * 10,
        [0.8] * 10,
        retriever="colpali",
        checkpoint="./tiny-colpali",
        efficiency={"query_ms_p50": 5.0, "index_s": 20.0, "index_bytes_total": 4_000_000},
    )
    write_result_file(root, "partial", EN, [1.0] * 10, efficiency={"query_ms_p50": 1.0})
    write_result_file(root, "strong", "docvqa", [0.25] * 10)
    return root


def test_leaderboard_matches_the_expected_file(cli, tmp_path, monkeypatch):
    fixture_results(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "published.json").write_text((PUBLISHED / "vidore-fixture-model_metrics.json").read_text())
    shutil.copytree(PUBLISHED / "mteb", tmp_path / "mteb")
    code, out, _ = cli(
        "leaderboard", "results", "--import", "published.json", "--import", "mteb", "--no-plots"
    )
    assert code == 0, out
    written = (tmp_path / "leaderboard.md").read_text()
    expected = (FIXTURES / "leaderboard-expected.md").read_text()
    assert written == expected


def test_leaderboard_ranks_complete_runs_by_average_and_never_averages_a_partial_run(
    cli, tmp_path, monkeypatch
):
    fixture_results(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert cli("leaderboard", "results", "--no-plots")[0] == 0
    lines = (tmp_path / "leaderboard.md").read_text().splitlines()
    heading = lines.index("## debian-faq")
    assert lines[heading + 2] == "Ranked by nDCG@5 (`ndcg_at_5`) ×100, the suite's main score."
    debian = lines[heading + 6 : heading + 9]
    # strong: (90+70)/2 = 80 first; colpali: 70; partial: 100 on one task, not ranked
    assert debian[0].startswith("| 1 | `strong` |") and "| **80.00** |" in debian[0]
    assert debian[1].startswith("| 2 | `colpali--tiny` |") and "| 70.00 |" in debian[1]
    assert debian[2].startswith("|  | `partial` |") and "incomplete (1/2)" in debian[2]
    assert "| **100.00** |" in debian[2]  # still the best on its one task
    assert "**1.00**" in debian[2]  # lowest latency is marked best too


def test_leaderboard_regenerates_identically_with_plots(cli, tmp_path, monkeypatch):
    fixture_results(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert cli("leaderboard", "results")[0] == 0
    plots = sorted((tmp_path / "leaderboard").glob("*.png"))
    assert [p.name for p in plots] == [
        "debian-faq-quality-vs-bytes.png",
        "debian-faq-quality-vs-latency.png",
        "debian-faq-tasks.png",
        "vidore-v1-tasks.png",  # one run, no efficiency beside a complete average: bars only
    ]
    markdown = (tmp_path / "leaderboard.md").read_text()
    for plot in plots:
        assert f"(leaderboard/{plot.name})" in markdown
    before = {p: p.read_bytes() for p in plots}
    code, out, _ = cli("leaderboard", "results")
    assert code == 0 and "unchanged" in out
    assert (tmp_path / "leaderboard.md").read_text() == markdown
    assert {p: p.read_bytes() for p in plots} == before


def test_leaderboard_warns_when_runs_used_different_data(cli, tmp_path, monkeypatch):
    write_result_file(tmp_path / "results", "a", EN, [0.5] * 10)
    write_result_file(tmp_path / "results", "b", EN, [0.5] * 10, fingerprint="other")
    monkeypatch.chdir(tmp_path)
    assert cli("leaderboard", "results", "--no-plots")[0] == 0
    assert "debian-faq-en: runs were evaluated on different data" in (tmp_path / "leaderboard.md").read_text()


@pytest.mark.parametrize("suite", ["../../escaped", "/ABSOLUTE/escaped", "..", "a/../../escaped"])
def test_leaderboard_plots_stay_in_their_folder_whatever_the_suite(cli, tmp_path, monkeypatch, suite):
    """Issue 13, case 3: a results file's `task.suite` chose where the PNGs went."""
    if suite.startswith("/ABSOLUTE"):
        suite = str(tmp_path / "absolute" / "escaped")
    work = tmp_path / "deep" / "work"
    for run in ("a", "b"):
        write_result_file(work / "results", run, "my-task", [0.5] * 10, suite=suite, fingerprint="f")
    monkeypatch.chdir(work)
    assert cli("leaderboard", "results")[0] == 0
    plots_folder = work / "leaderboard"
    written = {path for path in tmp_path.rglob("*.png")}
    assert written and all(path.parent == plots_folder for path in written), written


def test_leaderboard_escapes_names_from_results_files(cli, tmp_path, monkeypatch):
    """Issue 13, case 3: run names (and other text from results files) went unescaped into
    the markdown: a `|` split the row, `<img onerror>` was HTML, a newline ended the table."""
    hostile = {
        "x | y": None,
        "<img src=x onerror=alert(1)>": None,
        "tick`<b>`tock": None,
        "line\nbreak [link](javascript:alert(1))": None,
    }
    for number, name in enumerate(hostile):
        path = write_result_file(tmp_path / "results", f"run{number}", EN, [0.5] * 10)
        document = json.loads(path.read_text())
        document["run_name"] = name
        document["retriever"]["name"] = name
        document["efficiency"]["device"] = name
        path.write_text(json.dumps(document))
    monkeypatch.chdir(tmp_path)
    assert cli("leaderboard", "results", "--no-plots")[0] == 0
    markdown = (tmp_path / "leaderboard.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("|  | ")]
    assert len(rows) == len(hostile)  # no row was split in two by a line break
    header_cells = markdown.splitlines()[markdown.splitlines().index(rows[0]) - 2].count(" | ")
    for row in rows:
        assert row.replace("\\|", "").count(" | ") == header_cells  # no cell added by a `|`
    assert "<img" not in markdown and "<b>" not in markdown
    assert "](javascript" not in markdown.replace("\\](javascript", "")  # brackets escaped: no link


def test_leaderboard_refuses_an_infinite_score_instead_of_ranking_it_first(cli, tmp_path, monkeypatch):
    """Issue 13, case 16: a run whose metric was `Infinity` was ranked first."""
    write_result_file(tmp_path / "results", "honest", EN, [0.5] * 10)
    bad = write_result_file(
        tmp_path / "results", "infinite", EN, [0.5] * 10, metric_means={"ndcg_at_5": math.inf}
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("leaderboard", "results", "--no-plots")
    assert code == 2 and str(bad.relative_to(tmp_path)) in err
    assert not (tmp_path / "leaderboard.md").exists()


def test_committed_leaderboard_is_generated_from_committed_results(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    assert cli("leaderboard", "results", "--output", tmp_path / "leaderboard.md", "--no-plots")[0] == 0
    regenerated = (tmp_path / "leaderboard.md").read_text()
    committed = (REPO / "leaderboard.md").read_text()
    without_images = [line for line in committed.splitlines() if not line.startswith("![")]
    assert regenerated.split() == " ".join(without_images).split()
    for line in committed.splitlines():
        if line.startswith("!["):
            assert (REPO / line.rsplit("](", 1)[1].rstrip(")")).is_file()


def test_pareto_front_keeps_only_undominated_points():
    points = [(1.0, 50.0, "cheap"), (2.0, 40.0, "dominated"), (3.0, 80.0, "good"), (10.0, 80.0, "same")]
    points += [(20.0, 90.0, "best"), (1.0, 45.0, "tied-cost-worse")]
    assert [label for _, _, label in pareto_front(points)] == ["cheap", "good", "best"]


# --- the CI gate as shipped -----------------------------------------------------------


def test_example_workflow_gates_with_valid_commands():
    import yaml

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "regression-gate.yml").read_text())
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    commands = [
        line.strip() for step in steps for line in step.splitlines() if line.strip().startswith("pagebench")
    ]
    assert any(c.startswith("pagebench run") for c in commands)
    assert any(c.startswith("pagebench check") for c in commands)
    for command in commands:
        build_parser().parse_args(shlex.split(command)[1:])  # exits on an invalid command line
        baseline = shlex.split(command)
        if "--baseline" in baseline:
            # pagebench's own results, from its checkout (pagebench-src/ in the workflow)
            folder = baseline[baseline.index("--baseline") + 1].removeprefix("pagebench-src/")
            assert (REPO / folder).is_dir()


def test_a_disk_that_fills_up_during_a_command_is_a_named_error_not_a_bug(cli, tmp_path, monkeypatch):
    """After the preflight the disk can still fill up (or a folder go read-only): the
    machine refused, so the message names the file, exit 2, not an internal error."""
    import benchmark.core.files as files

    fixture_results(tmp_path / "results")
    monkeypatch.chdir(tmp_path)

    def full_disk(files_to_write):
        path = files_to_write[0][0]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(files, "write_files_atomic", full_disk)
    code, out, err = cli("leaderboard", "results", "--no-plots")
    assert code == 2, out + err
    assert "leaderboard.md: No space left on device" in err
    assert "internal error" not in err


def test_check_and_compare_take_an_output_folder_holding_one_run(cli, tmp_path):
    """`pagebench check --baseline runs --current runs`: the folder --output-dir wrote holds
    one run, which is meant (and named); with several, naming one is still required."""
    runs = tmp_path / "runs"
    code, _, err = cli("run", "--suite", "debian-faq", "--retriever", "bm25-ocr", "--output-dir", runs)
    assert code == 0, err
    code, out, err = cli("check", "--baseline", REPO / "results" / "bm25-ocr", "--current", runs)
    assert code == 0, out + err
    assert f"{runs} holds one run, bm25-ocr: reading it" in err and out.count("ok ") == 2
    code, out, err = cli("compare", REPO / "results" / "bm25-ocr", runs)
    assert code == 0, out + err
    code, _, err = cli("compare", REPO / "results", runs)  # two runs in results/: still an error
    assert code == 2 and "holds the runs bm25-ocr, dense-ocr: name one of them" in err


# --- the leaderboard's plots, as a user reads them (issue 15) --------------------------


def debian_faq_table(root: Path):
    fixture_results(root)
    # a run far below the others: its bars are the short ones a legend in the axes hid
    two_task_run(root, "weak", [0.05] * 10, [0.02] * 10, efficiency={"query_ms_p50": 2.0})
    return _debian_faq(root)


def _debian_faq(root: Path):
    from benchmark.report.collect import read_results
    from benchmark.report.leaderboard import entries_from, suite_tables

    tables = suite_tables(entries_from(read_results([root]), []), all_specs())
    (table,) = [t for t in tables if t.suite == "debian-faq"]
    return table


def test_task_bars_keep_the_legend_off_the_bars_and_label_each_bar(tmp_path):
    from benchmark.report.plots import task_scores_figure

    table = debian_faq_table(tmp_path / "results")
    figure = task_scores_figure(table)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    (axes,) = figure.axes
    legend = figure.legends[0] if figure.legends else axes.get_legend()
    legend_box = legend.get_window_extent(renderer)
    bars = [bar for container in axes.containers for bar in container]
    assert len(bars) == len(table.tasks) * len(table.grid)
    covered = [bar for bar in bars if legend_box.overlaps(bar.get_window_extent(renderer))]
    assert not covered, f"the legend covers {len(covered)} bars"
    values = sorted(text.get_text() for text in axes.texts)
    scores = [100 * table.grid.loc[key, task] for key in table.grid.index for task in table.tasks]
    assert values == sorted("–" if math.isnan(v) else f"{v:.1f}" for v in scores)
    assert "–" in values  # the partial run has no French score: a dash, not a bar reading 0
    assert axes.get_title() == "debian-faq: nDCG@5 per task"
    assert axes.get_ylabel() == "nDCG@5 ×100"


def test_bytes_axis_ticks_read_as_sizes_and_left_out_runs_are_named(tmp_path):
    from benchmark.report.plots import COST_AXES, quality_vs_cost_figure

    root = tmp_path / "results"
    debian_faq_table(root)
    two_task_run(root, "big", [0.5] * 10, [0.5] * 10, efficiency={"index_bytes_total": 900_000_000})
    two_task_run(root, "unsized", [0.5] * 10, [0.5] * 10, efficiency={"index_bytes_total": None})
    table = _debian_faq(root)
    by_key = {axis.key: axis for axis in COST_AXES}
    figure, left_out = quality_vs_cost_figure(table, by_key["bytes_per_page"])
    figure.canvas.draw()
    (axes,) = figure.axes
    low, high = axes.get_xlim()
    labels = zip(axes.get_xticklabels(), axes.get_xticks(), strict=True)
    ticks = [label.get_text() for label, at in labels if low <= at <= high]
    assert len(ticks) >= 2 and all(t.endswith((" B", " KB", " MB", " GB")) for t in ticks), ticks
    assert not any("10^" in t or "$" in t for t in ticks), ticks
    assert axes.get_ylabel() == "average nDCG@5 ×100"
    assert left_out == {"partial": "incomplete, 1/2 tasks", "unsized": "not measured"}
    notes = [text.get_text() for text in axes.texts if text.get_text().startswith("not shown")]
    assert notes == ["not shown: partial (incomplete, 1/2 tasks); unsized (not measured)"]


def test_leaderboard_captions_name_the_runs_a_scatter_leaves_out(cli, tmp_path, monkeypatch):
    fixture_results(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    assert cli("leaderboard", "results")[0] == 0
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert "![nDCG@5 per task, debian-faq](leaderboard/debian-faq-tasks.png)" in markdown
    assert (
        "![debian-faq: average nDCG@5 against query latency p50 in ms, encode + search; "
        "not shown: partial (incomplete, 1/2 tasks)](leaderboard/debian-faq-quality-vs-latency.png)"
    ) in markdown
    assert "ndcg_at_5 per task" not in markdown
