"""BEIR-layout datasets: `corpus`, `queries` and `qrels` configs of one repository.

Used by ViDoRe v2/v3, the MTEB mirrors of v1 and the bundled Debian FAQ tasks.
Column names differ between them (`corpus-id` in v2 and MTEB, `corpus_id` in v3),
so each role accepts the known spellings and an error lists the columns found.
Graded relevance is kept as is.
"""

from __future__ import annotations

from benchmark.core.errors import TaskDataError
from benchmark.core.languages import language_of_label
from benchmark.core.types import Corpus, Query
from benchmark.tasks.assemble import assemble_task
from benchmark.tasks.content import arrow_page_contents, hashes_pages
from benchmark.tasks.data import TaskData
from benchmark.tasks.drops import DropLog, Origins
from benchmark.tasks.entries import add_judgement, relevance_of
from benchmark.tasks.hub import id_of, load_split, pick_column, resolved_hub_revision, text_of
from benchmark.tasks.images import ArrowImages
from benchmark.tasks.spec import TaskSpec

CORPUS_ID_COLUMNS = ("corpus-id", "corpus_id", "_id", "id")

# The README header that makes a local folder of parquet files load like a hub BEIR
# repository: corpus/, queries/ and qrels/ each hold `test-*.parquet`.
BEIR_FOLDER_CARD = """---
configs:
- config_name: corpus
  data_files:
  - split: test
    path: corpus/test-*
- config_name: queries
  data_files:
  - split: test
    path: queries/test-*
- config_name: qrels
  data_files:
  - split: test
    path: qrels/test-*
---
"""
QUERY_ID_COLUMNS = ("query-id", "query_id", "_id", "id")
QUERY_TEXT_COLUMNS = ("query", "text")


def load_beir(spec: TaskSpec, *, need_page_text: bool, strict: bool) -> TaskData:
    import datasets

    corpus_rows = load_split(spec, "corpus")
    query_rows = load_split(spec, "queries")
    qrel_rows = load_split(spec, "qrels")
    name = spec.source

    where = f"{name} config 'corpus'"
    id_column = pick_column(corpus_rows, CORPUS_ID_COLUMNS, "page id", where)
    image_column = pick_column(corpus_rows, ["image"], "image", where)
    page_ids = [id_of(value, f"{where} row {row}") for row, value in enumerate(corpus_rows[id_column])]
    texts = text_source = None
    if need_page_text and spec.page_text_column:
        text_column = pick_column(corpus_rows, [spec.page_text_column], "page text", where)
        texts = tuple(
            text_of(value, f"{where} row {row} column {text_column!r}")
            for row, value in enumerate(corpus_rows[text_column])
        )
        text_source = f"{spec.source_label} column {text_column!r}"
    corpus_rows = corpus_rows.cast_column(image_column, datasets.Image(decode=False))
    page_contents = None
    if hashes_pages(spec):
        shipped_text = spec.page_text_column if spec.page_text_column in corpus_rows.column_names else None
        page_contents = arrow_page_contents(corpus_rows, image_column, shipped_text)
    corpus = Corpus(
        ids=tuple(page_ids),
        qrels_ids=tuple(page_ids),
        images=ArrowImages(corpus_rows, image_column, where),
        texts=texts,
        text_source=text_source,
    )

    origins = Origins()
    queries, other_language_ids = _queries(spec, query_rows, f"{name} config 'queries'", origins)
    qrels = _qrels(qrel_rows, f"{name} config 'qrels'", other_language_ids, origins)
    return assemble_task(
        spec,
        corpus,
        queries,
        qrels,
        drops=DropLog(spec, strict=strict),
        origins=origins,
        resolved_revision=resolved_hub_revision(spec),
        page_contents=page_contents,
    )


def _queries(spec: TaskSpec, rows, where: str, origins: Origins) -> tuple[list[Query], set[str]]:
    """The selected queries, and the ids of queries left out for their language."""
    id_column = pick_column(rows, QUERY_ID_COLUMNS, "query id", where)
    text_column = pick_column(rows, QUERY_TEXT_COLUMNS, "query text", where)
    labels = rows["language"] if "language" in rows.column_names else [None] * len(rows)
    if spec.query_language and "language" not in rows.column_names:
        raise TaskDataError(f"{where}: no 'language' column to select {spec.query_language!r} queries by")
    default_language = spec.languages[0] if len(spec.languages) == 1 else None
    queries, other_language_ids = [], set()
    for row, (id_cell, text_cell, label) in enumerate(
        zip(rows[id_column], rows[text_column], labels, strict=True)
    ):
        query_id = id_of(id_cell, f"{where} row {row}")
        language = language_of_label(label) if label is not None else default_language
        if spec.query_language and language != spec.query_language:
            other_language_ids.add(query_id)
            continue
        text = text_of(text_cell, f"{where} row {row} column {text_column!r}") or ""
        queries.append(Query(id=query_id, text=text, language=language))
        origins.queries[query_id] = f"{where} row {row}"
    return queries, other_language_ids


def _qrels(rows, where: str, skip_queries: set[str], origins: Origins) -> dict[str, dict[str, int]]:
    query_column = pick_column(rows, QUERY_ID_COLUMNS, "query id", where)
    page_column = pick_column(rows, CORPUS_ID_COLUMNS, "page id", where)
    score_column = pick_column(rows, ["score"], "score", where)
    qrels: dict[str, dict[str, int]] = {}
    first_seen: dict[tuple[str, str], str] = {}
    for row, (query_cell, page_cell, score) in enumerate(
        zip(rows[query_column], rows[page_column], rows[score_column], strict=True)
    ):
        query_id = id_of(query_cell, f"{where} row {row}")
        if isinstance(score, str):  # a text column holding "1" is a mistake, not a grade
            raise TaskDataError(f"{where} row {row}: score must be an integer, got {score!r}")
        relevance = relevance_of(score, f"{where} row {row}")
        # With a language selected, qrels of the other languages' queries are not ours.
        if query_id not in skip_queries:
            page_id = id_of(page_cell, f"{where} row {row}")
            add_judgement(
                qrels, query_id, page_id, relevance,
                here=f"{where} row {row}", first_seen=first_seen, seen_here=f"in {where} row {row}",
            )  # fmt: skip
            origins.qrels.setdefault((query_id, page_id), f"{where} row {row}")
    return qrels
