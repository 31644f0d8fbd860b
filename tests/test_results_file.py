"""The results file has one typed definition: the writer dumps it, every reader validates
against it, and a bad file is one line naming the file and the field (exit 2)."""

import json
from pathlib import Path

import pytest

from benchmark.core.errors import ResultsFileError
from benchmark.results.reader import read_result
from benchmark.results.schema import SCHEMA_VERSION, ResultsFile
from tests.result_files import REPO, TEMPLATE

COMMITTED = sorted((REPO / "results").glob("*/*.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_committed_results_round_trip_byte_for_byte(path):
    """Reading a file and writing it back gives the same bytes: the model holds every field,
    in the order the writer has always written them."""
    assert read_result(path).to_json() == path.read_text(encoding="utf-8")


def damaged(tmp_path: Path, change) -> Path:
    document = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "run" / "debian-faq-en.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # 1e400 is valid JSON that Python would read as infinity
    path.write_text(json.dumps(document).replace("1e+300", "1e400"), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("efficiency"), "field 'efficiency': Field required"),
        (
            lambda d: d["metrics"].update(ndcg_at_5="high"),
            "field 'metrics.ndcg_at_5': Input should be a valid number",
        ),
        (lambda d: d["task"].pop("fingerprint"), "field 'task.fingerprint': Field required"),
        (
            lambda d: d["efficiency"].update(index_s=[1]),
            "field 'efficiency.index_s': Input should be a valid number",
        ),
        (
            lambda d: d.update(schema_version=7),
            f"schema_version 7 is not one this pagebench reads (1 to {SCHEMA_VERSION})",
        ),
        (lambda d: d["per_query"].update(q1=3), "field 'per_query.q1': Input should be a valid dictionary"),
        # issue 13, case 2: what the CI gate used to pass, or coerce, or fail on as a regression
        (lambda d: d.pop("task"), "field 'task': Field required"),
        (
            lambda d: d["metrics"].update(ndcg_at_5="0.5"),
            "field 'metrics.ndcg_at_5': Input should be a valid number (got '0.5')",
        ),
        (lambda d: d["metrics"].update(ndcg_at_5=float("nan")), "NaN is not a JSON number"),
        (lambda d: d["metrics"].update(ndcg_at_5=float("inf")), "Infinity is not a JSON number"),
        (lambda d: d["retriever"]["parameters"].update(k1=float("-inf")), "-Infinity is not a JSON number"),
        (lambda d: d["retriever"]["parameters"].update(k1=1e300), "1e400 is too large for a number"),
        (
            lambda d: d["metrics"].update(ndcg_at_5=1e308),
            "field 'metrics.ndcg_at_5': Input should be less than or equal to 1",
        ),
        (
            lambda d: d["main_score"].update(value=-0.1),
            "field 'main_score.value': Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["per_query"]["q001"].update(ndcg_at_5=True),
            "field 'per_query.q001.ndcg_at_5': Input should be a valid number",
        ),
        (lambda d: d["task"].update(n_queries="5"), "field 'task.n_queries': Input should be a valid int"),
        (lambda d: d["task"].update(n_pages=-1), "field 'task.n_pages': Input should be greater than"),
        (
            lambda d: d["efficiency"].update(query_ms_p50=-2.0),
            "field 'efficiency.query_ms_p50': Input should be greater than or equal to 0",
        ),
        (lambda d: d.update(schema_version=1, timing=[1]), "field 'timing': expected an object"),
        # compare and check --significant failed on it with an internal error
        (lambda d: d.update(per_query={}), "field 'per_query': Dictionary should have at least 1 item"),
    ],
)
def test_a_bad_results_file_is_one_line_naming_file_and_field(tmp_path, cli, change, message):
    path = damaged(tmp_path, change)
    with pytest.raises(ResultsFileError) as raised:
        read_result(path)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    # as the reports see it: exit 2, one line, no traceback
    code, _, err = cli(
        "check", "--baseline", REPO / "results" / "bm25-ocr" / "debian-faq-en.json", "--current", path
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_the_schema_describes_itself():
    """A typed-schema tool can describe the file (e.g. for other languages' readers)."""
    schema = ResultsFile.model_json_schema()
    assert {"task", "retriever", "metrics", "per_query", "efficiency"} <= set(schema["required"])


@pytest.mark.parametrize("param", ["k1=nan", "b=inf", "k1=-3", "b=1.5", "k1=1e400", "b=-0.1"])
def test_a_non_finite_or_out_of_range_retriever_param_is_refused_before_anything_is_written(
    cli, tmp_path, param
):
    """Issue 13, case 16: `--param k1=nan` was accepted and NaN written into the results file."""
    code, _, err = cli(
        "run",
        "--task",
        "debian-faq-en",
        "--retriever",
        "bm25-ocr",
        "--param",
        param,
        "--output-dir",
        tmp_path,
    )
    assert code == 2 and f"--param {param} must be a finite number" in err
    assert len(err.strip().splitlines()) == 1 and not any(tmp_path.rglob("*.json"))


def test_results_json_never_holds_nan():
    """Issue 13, case 16: the model refuses a NaN metric, and the JSON writer refuses a NaN anywhere."""
    document = read_result(TEMPLATE)
    with pytest.raises(ValueError):
        ResultsFile.model_validate({**document.model_dump(), "metrics": {"ndcg_at_5": float("nan")}})
    parameters = document.retriever.model_copy(update={"parameters": {"k1": float("nan")}})
    with pytest.raises(ValueError, match="JSON compliant"):
        document.model_copy(update={"retriever": parameters}).to_json()


def test_a_key_with_a_newline_is_named_on_one_line(tmp_path):
    """Found by hypothesis: a per-query key holding a newline split the error message."""
    document = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    first_query = next(iter(document["per_query"]))
    document["per_query"][first_query]["\n"] = {}
    path = tmp_path / "task.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ResultsFileError) as raised:
        read_result(path)
    message = str(raised.value)
    assert "\n" not in message and f"per_query.{first_query}.\\n" in message
