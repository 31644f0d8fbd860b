"""Property-based: whatever a user writes, the spec parser and the local-folder loader
either load it or fail with pagebench's own error, never with an unhandled exception."""

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from benchmark.core.errors import PagebenchError, SpecError
from benchmark.tasks import load_task
from benchmark.tasks.catalog import local_folder_spec
from benchmark.tasks.spec import _FIELD_TYPES, load_spec_file, parse_spec
from tests.conftest import png_bytes

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
