"""ViDoRe v1 QA-format datasets, with the official scoring semantics exactly.

One row per (query, page). The official evaluation (vidore-benchmark, QA format):
- de-duplicates queries, keeping the first occurrence, and drops `None` queries;
- keeps every row as a candidate passage (pages are *not* de-duplicated), keyed by
  `image_filename`; a page's score is the max over the rows showing it (this loader
  records which page each row shows in `Corpus.qrels_ids`; `benchmark.evaluation.pages`
  merges the rows' scores);
- gives each query exactly one relevant page: the `image_filename` of the **last** row
  with that query text (`queries2filename = {query: image_filename for every row}` in
  `vidore_evaluator_qa.py`), which for a repeated query is not the first row's page.
Keeping every row matters for corpus-statistics retrievers such as BM25 (IDF and
average length count the repeated pages), so the numbers match the official tool.
A hub dataset's rows without an `image_filename` are left out and recorded
(`benchmark.tasks.drops`, `_queries_and_qrels`); in local data they are an error.
"""

from __future__ import annotations

from benchmark.core.errors import TaskDataError
from benchmark.core.types import Corpus, Query
from benchmark.tasks.assemble import assemble_task
from benchmark.tasks.data import TaskData
from benchmark.tasks.drops import DropLog, Origins
from benchmark.tasks.hub import load_split, pick_column, resolved_hub_revision, text_of
from benchmark.tasks.images import ArrowImages
from benchmark.tasks.spec import TaskSpec


def load_vidore_qa(spec: TaskSpec, *, need_page_text: bool, strict: bool) -> TaskData:
    import datasets

    rows = load_split(spec)
    where = f"{spec.source} (split {spec.split})"
    for column in ("query", "image", "image_filename"):
        pick_column(rows, [column], column, where)
    filenames = [
        text_of(value, f"{where} row {i} column 'image_filename'")
        for i, value in enumerate(rows["image_filename"])
    ]
    drops = DropLog(spec, strict=strict)
    for row, filename in enumerate(filenames):
        if not _named(filename):
            drops.drop("empty-image-filename", f"row {row}", f"{where} row {row}: empty image_filename")
    kept_rows = [row for row, filename in enumerate(filenames) if _named(filename)]

    query_texts = [
        text_of(value, f"{where} row {row} column 'query'") for row, value in enumerate(rows["query"])
    ]
    language = spec.languages[0] if len(spec.languages) == 1 else None
    queries, qrels, notes, origins = _queries_and_qrels(query_texts, filenames, language, where)

    page_names = [filenames[row] for row in kept_rows]
    texts, text_source = (None, None)
    if need_page_text and spec.page_text_column:
        texts, text_source = _page_texts(spec, page_names, rows)

    rows = rows.cast_column("image", datasets.Image(decode=False))
    corpus = Corpus(
        ids=tuple(f"row{row}" for row in kept_rows),  # the dataset row, also when rows were left out
        qrels_ids=tuple(page_names),
        images=ArrowImages(rows, "image", where, rows=kept_rows if len(kept_rows) < len(filenames) else None),
        texts=texts,
        text_source=text_source,
    )
    return assemble_task(
        spec,
        corpus,
        queries,
        qrels,
        drops=drops,
        origins=origins,
        resolved_revision=resolved_hub_revision(spec),
        notes=notes,
    )


def _named(filename: str | None) -> bool:
    return bool(filename and filename.strip())


def _queries_and_qrels(
    texts: list[str | None], filenames: list[str | None], language: str | None, where: str
) -> tuple[list[Query], dict[str, dict[str, int]], list[str], Origins]:
    """The queries (first occurrence of each text), their one relevant page (last row's),
    notes, and the row each query and judgement came from.

    A row without an image_filename is not a page pagebench can name (the official
    evaluator merges all such rows into one page called '' or fails on None), so a
    query whose last row is one has no relevant page left and is left out, with a note.
    """
    relevant_row = {text: row for row, text in enumerate(texts)}  # last row wins
    queries: list[Query] = []
    qrels: dict[str, dict[str, int]] = {}
    origins = Origins()
    seen_texts: set[str] = set()
    dropped_none = dropped_duplicate = moved = 0
    unjudged: list[str] = []
    for row, text in enumerate(texts):
        if text is None:
            dropped_none += 1
            continue
        if text in seen_texts:
            dropped_duplicate += 1
            continue
        seen_texts.add(text)
        query_id = f"q{row}"  # row of the first occurrence: stable for a pinned revision
        page = filenames[relevant_row[text]]
        if not _named(page):
            unjudged.append(query_id)
            continue
        queries.append(Query(id=query_id, text=text, language=language))
        qrels[query_id] = {page: 1}
        origins.queries[query_id] = f"{where} row {row}"
        origins.qrels[(query_id, page)] = f"{where} row {relevant_row[text]}"
        moved += page != filenames[row]

    notes = []
    if dropped_none:
        notes.append(f"{dropped_none} rows without a query (None) dropped, as the official evaluation does")
    if dropped_duplicate:
        notes.append(
            f"{dropped_duplicate} repeated queries dropped (first occurrence kept), "
            "as the official evaluation does"
        )
    if moved:
        notes.append(
            f"{moved} repeated queries judged against their last row's page, not their first, "
            "as the official evaluation does"
        )
    if unjudged:
        notes.append(
            f"{len(unjudged)} queries left out: the last row with their text has an empty "
            f"image_filename, so they have no relevant page (e.g. {unjudged[0]!r})"
        )
    return queries, qrels, notes, origins


def _page_texts(spec: TaskSpec, filenames: list[str], rows) -> tuple[tuple[str | None, ...], str]:
    """Page OCR text from the task itself or from its `_tesseract` twin, joined by filename."""
    source = spec.source
    if spec.text_dataset is not None:
        source = spec.text_dataset
        rows = load_split(spec, text_dataset=True)
    where = f"{source} (split {spec.split})"
    column = pick_column(rows, [spec.page_text_column], "page text", where)
    pick_column(rows, ["image_filename"], "image_filename", where)
    by_filename: dict[str, str] = {}
    for row, (filename, cell) in enumerate(zip(rows["image_filename"], rows[column], strict=True)):
        text = text_of(cell, f"{where} row {row} column {column!r}")
        if text is not None:
            by_filename.setdefault(filename, text)
    missing = sorted({name for name in filenames if name not in by_filename})
    if missing:
        raise TaskDataError(
            f"{where}: no page text for image_filename {missing[0]!r} ({len(missing)} missing)"
        )
    label = spec.text_dataset or spec.source_label
    return tuple(by_filename[name] for name in filenames), f"{label} column {column!r}"
