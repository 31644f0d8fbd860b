"""Property-based: whatever a user writes, the spec parser, the local-folder loader and
the results-file reader either load it or fail with pagebench's own error, never with an
unhandled exception."""

import contextlib
import copy
import io
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from benchmark.cli import main
from benchmark.core.errors import PagebenchError, ResultsFileError, SpecError
from benchmark.results.reader import read_result
from benchmark.tasks import load_task
from benchmark.tasks.catalog import local_folder_spec
from benchmark.tasks.spec import _FIELD_TYPES, load_spec_file, parse_spec
from tests.conftest import png_bytes
from tests.result_files import TEMPLATE

scalars = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=True),
    st.none(),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=5), scalars, max_size=3)
)
# mostly real field names (so deep validation is reached), sometimes anything
field_names = st.one_of(st.sampled_from(sorted(_FIELD_TYPES)), st.text(max_size=12))
plausible = {
    "name": st.sampled_from(["t", "my-task", "Bad Name", "", "x" * 80]),
    "format": st.sampled_from(["beir", "vidore-qa", "local", "csv"]),
    "languages": st.lists(st.sampled_from(["en", "fr", "xx", ""]), max_size=3),
    "dataset": st.sampled_from(["vidore/x", "", "a b"]),
    "path": st.sampled_from([".", "nowhere", "/tmp", ""]),
    "revision": st.sampled_from(["main", "0" * 40, ""]),
    "main_score": st.sampled_from(["ndcg_at_5", "ndcg@5", "recall_at_100"]),
}


VALID = {
    "name": "t",
    "suite": "s",
    "description": "d",
    "format": "beir",
    "languages": ["en"],
    "dataset": "vidore/x",
    "revision": "main",
}


@settings(max_examples=300, deadline=None)
@given(
    chosen=st.fixed_dictionaries({}, optional=plausible),
    dropped=st.sets(st.sampled_from(sorted(VALID)), max_size=2),
    noise=st.one_of(st.just({}), st.dictionaries(field_names, values, max_size=3)),
)
def test_any_spec_table_loads_or_raises_spec_error(chosen, dropped, noise):
    """A valid spec, with fields changed to plausible values, dropped, or random noise added."""
    raw = {key: value for key, value in {**VALID, **chosen}.items() if key not in dropped} | noise
    try:
        spec = parse_spec(raw, None, base_dir=Path("/tmp"))
    except SpecError as error:
        event(f"refused: {str(error).split(':')[1].strip()}")
        return
    event("loaded")
    assert spec.name and spec.languages  # what loaded is a usable spec


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_spec_file_loads_or_raises_spec_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.toml"
        path.write_bytes(content)
        try:
            load_spec_file(path)
        except SpecError:
            pass


ids = st.one_of(st.sampled_from(["p1", "p2", "q1", "q2", ""]), st.text(max_size=6), st.integers(-3, 3))
images = st.sampled_from(
    ["pages/p1.png", "pages/bad.png", "nowhere.png", "doc.pdf#page=1", "doc.pdf#page=9", "doc.pdf"]
)
corpus_records = st.fixed_dictionaries(
    {"_id": ids},
    optional={"image": st.one_of(images, scalars), "text": st.one_of(st.text(max_size=10), scalars)},
)
query_records = st.fixed_dictionaries(
    {"_id": ids}, optional={"text": st.one_of(st.text(max_size=10), scalars)}
)


def jsonl_file(valid: list[dict], extra) -> st.SearchStrategy[bytes]:
    """Valid records with random ones mixed in, or arbitrary bytes."""
    mixed = st.lists(extra, max_size=2).flatmap(lambda more: st.permutations(valid + more))
    as_bytes = mixed.map(lambda records: "".join(json.dumps(record) + "\n" for record in records).encode())
    return st.one_of(
        st.just(valid).map(lambda records: "".join(json.dumps(r) + "\n" for r in records).encode()),
        as_bytes,
        as_bytes,
        st.binary(max_size=60),
    )


qrels_rows = st.lists(
    st.tuples(ids, ids, st.one_of(st.integers(-2, 3), st.text(max_size=3))).map(
        lambda row: "\t".join(str(cell) for cell in row)
    ),
    max_size=3,
).map(lambda rows: ("query-id\tcorpus-id\tscore\nq1\tp1\t1\n" + "\n".join(rows) + "\n").encode())
task_toml = st.one_of(
    st.none(),
    st.sampled_from(
        [b'languages = ["fr"]\n', b'name = "x"\npdf_dpi = 0\n', b"format = 'beir'\n", b"[broken"]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    corpus=jsonl_file(
        [{"_id": "p1", "image": "pages/p1.png"}, {"_id": "p2", "image": "pages/p1.png"}], corpus_records
    ),
    queries=jsonl_file([{"_id": "q1", "text": "a page"}], query_records),
    qrels=st.one_of(qrels_rows, qrels_rows, st.binary(max_size=40)),
    spec=task_toml,
)
def test_any_local_folder_loads_or_raises_our_error(corpus, queries, qrels, spec):
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "docs"
        (folder / "pages").mkdir(parents=True)
        (folder / "qrels").mkdir()
        (folder / "pages" / "p1.png").write_bytes(png_bytes("a page"))
        (folder / "pages" / "bad.png").write_bytes(b"\x89PNG not really")
        (folder / "doc.pdf").write_bytes(b"%PDF-1.4 broken")
        (folder / "corpus.jsonl").write_bytes(corpus)
        (folder / "queries.jsonl").write_bytes(queries)
        (folder / "qrels" / "test.tsv").write_bytes(qrels)
        if spec is not None:
            (folder / "task.toml").write_bytes(spec)
        try:
            task = load_task(local_folder_spec(folder), need_page_text=False)
            corpus = task.corpus
            images = corpus.images.load(list(range(len(corpus))), list(corpus.ids))  # decoding included
            assert len(images) == len(corpus)
        except PagebenchError:
            event("refused")
            return
        event("loaded")
        assert task.queries and task.qrels


# --- results files (issue 13): whatever a results file holds, it loads in range or is refused


def _small_results_document() -> dict:
    """The committed template with three queries, so mutations reach every section often."""
    document = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    document["per_query"] = dict(list(document["per_query"].items())[:3])
    return document


RESULTS_DOCUMENT = _small_results_document()


def _json_paths(node, prefix: tuple = ()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _json_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _json_paths(value, (*prefix, index))


RESULTS_PATHS = list(_json_paths(RESULTS_DOCUMENT))
json_values = st.recursive(
    st.one_of(scalars, st.integers(), st.floats(min_value=-2.0, max_value=2.0)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
mutations = st.one_of(
    st.tuples(st.just("replace"), st.sampled_from(RESULTS_PATHS), json_values),
    st.tuples(st.just("delete"), st.sampled_from(RESULTS_PATHS[1:]), st.none()),
    st.tuples(st.just("add"), st.sampled_from(RESULTS_PATHS), st.tuples(st.text(max_size=8), json_values)),
    st.tuples(st.just("replace"), st.just(("schema_version",)), st.sampled_from([1, 2, 3, 1.0, "3", True])),
)


def _mutated(document, mutation) -> object:
    kind, path, value = mutation
    if not path:
        return value if kind == "replace" else document
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if kind == "replace":
        parent[path[-1]] = value
    elif kind == "delete":
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        key, added = value
        parent[path[-1]][key] = added
    return document


def _loads_in_range_or_raises_our_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "task.json"
        path.write_bytes(content)
        try:
            result = read_result(path)
        except ResultsFileError as error:
            assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
            return
    event("loaded")
    # what loads is what every report may trust: finite scores in [0, 1], and it writes back
    scores = [result.main_score.value, *result.metrics.values()]
    scores += [value for values in result.per_query.values() for value in values.values()]
    assert all(math.isfinite(value) and 0 <= value <= 1 for value in scores)
    json.loads(result.to_json())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(mutations, min_size=1, max_size=4))
def test_any_edited_results_file_loads_in_range_or_raises_results_file_error(changes):
    document = copy.deepcopy(RESULTS_DOCUMENT)
    for change in changes:
        try:
            document = _mutated(document, change)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed or replaced the path: skip this one
    # json.dumps writes NaN and Infinity as Python's json does: a reader must refuse them
    _loads_in_range_or_raises_our_error(json.dumps(document).encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        json_values.map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_bytes_as_a_results_file_load_or_raise_results_file_error(content):
    _loads_in_range_or_raises_our_error(content)


def _pagebench(*args: str) -> tuple[int, str]:
    """`pagebench ARGS` in-process: (exit code, stdout); an argparse error is exit 2."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exited:
            code = exited.code
    assert "internal error" not in stderr.getvalue(), stderr.getvalue()
    return code, stdout.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    baseline_changes=st.lists(mutations, max_size=2),
    current_changes=st.lists(mutations, max_size=2),
    scores=st.lists(st.floats(min_value=0, max_value=1), min_size=3, max_size=3),
    significant=st.booleans(),  # 3 queries are never significant: without it, falls are regressions
)
def test_check_and_compare_on_any_results_files_exit_0_1_or_2_never_internal_error(
    baseline_changes, current_changes, scores, significant
):
    """The CI gate reads what it is given: 0 and 1 only for files the reader accepts,
    2 for anything else, and `compare --json` always prints real JSON."""
    with tempfile.TemporaryDirectory() as folder:
        runs = []
        for name, changes in (("baseline", baseline_changes), ("current", current_changes)):
            document = copy.deepcopy(RESULTS_DOCUMENT)
            if name == "current":
                for query, value in zip(document["per_query"], scores, strict=True):
                    document["per_query"][query]["ndcg_at_5"] = value
                document["metrics"]["ndcg_at_5"] = sum(scores) / len(scores)
            for change in changes:
                try:
                    document = _mutated(document, change)
                except (KeyError, IndexError, TypeError):
                    pass
            path = Path(folder) / name / "debian-faq-en.json"
            path.parent.mkdir()
            path.write_text(json.dumps(document), encoding="utf-8")
            runs.append(path.parent)
        baseline, current = runs
        statistics = ("--significant",) * significant + ("--resamples", "50")
        code, _ = _pagebench("check", "--baseline", str(baseline), "--current", str(current), *statistics)
        assert code in (0, 1, 2)
        event(f"check exit {code}")
        code, out = _pagebench("compare", str(baseline), str(current), "--json", "--resamples", "50")
        assert code in (0, 2)
        if code == 0:
            json.loads(out, parse_constant=lambda name: pytest.fail(f"compare --json printed {name}"))


# --- qrels files and task.toml: arbitrary text parses or raises pagebench's own error ---

qrels_cells = st.one_of(
    st.sampled_from(["q1", "p1", "1", "0", "-1", "1_0", "\u0661", "99999999999999999999", "score", " ", ""]),
    st.text(max_size=8),
    st.integers().map(str),
)
qrels_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.lists(qrels_cells, min_size=1, max_size=4).map("\t".join), max_size=6).map("\n".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(
        qrels_text.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=80)
    )
)
def test_any_qrels_file_parses_or_raises_our_error(content):
    from benchmark.tasks.drops import Origins
    from benchmark.tasks.local_folder import read_qrels

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test.tsv"
        path.write_bytes(content)
        try:
            qrels = read_qrels(path, Origins())
        except PagebenchError:
            event("refused")
            return
    event("parsed")
    for query_id, judged in qrels.items():
        assert query_id and not any(c.isspace() for c in query_id)
        assert all(isinstance(score, int) and abs(score) < 2**31 for score in judged.values())


toml_values = st.recursive(
    st.one_of(
        st.text(max_size=12),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.booleans(),
        st.floats(),
        st.sampled_from(["en", "fr", "local", "beir", "."]),
    ),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


def toml_line(key: str, value) -> str:
    """`key = value` in TOML; json's spelling is TOML's for these values, mostly (what is
    not, such as NaN, is invalid TOML and must be refused as such)."""
    return f"{json.dumps(key)} = {json.dumps(value)}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(
        st.text(max_size=200),
        st.tuples(
            st.fixed_dictionaries({}, optional={"languages": toml_values, "pdf_dpi": toml_values}),
            st.dictionaries(field_names, toml_values, max_size=3),
        ).map(lambda tables: "\n".join(toml_line(k, v) for k, v in (tables[1] | tables[0]).items())),
    )
)
def test_any_task_toml_loads_or_raises_spec_error(content):
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "docs"
        folder.mkdir()
        (folder / "task.toml").write_bytes(content.encode("utf-8", "surrogatepass"))
        try:
            spec = local_folder_spec(folder)
        except SpecError as error:
            event(f"refused: {str(error).split(':')[1].strip()[:30]}")
            return
    event("loaded")
    assert spec.format == "local" and spec.languages and all(isinstance(code, str) for code in spec.languages)
