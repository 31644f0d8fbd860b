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

Page text for text retrievers comes from the dataset itself or from a `_tesseract` twin.
From the dataset itself, each row keeps its own text: the `*_ocr_chunk` datasets hold
several text chunks of a page on several rows, and the official evaluator embeds each
row's `text_description`, so a page is scored by its best chunk. Such datasets may have
no `image` column: they then load for text retrievers only.
"""

from __future__ import annotations

from benchmark.core.errors import TaskDataError
from benchmark.core.types import Corpus, Query
from benchmark.tasks.assemble import assemble_task
from benchmark.tasks.content import arrow_page_contents, hashes_pages
from benchmark.tasks.data import TaskData
from benchmark.tasks.drops import DropLog, Origins
from benchmark.tasks.hub import load_split, pick_column, resolved_hub_revision, text_of
from benchmark.tasks.images import ArrowImages, MissingImages
from benchmark.tasks.spec import TaskSpec

IMAGE_COLUMN = "image"


def load_vidore_qa(spec: TaskSpec, *, need_page_text: bool, strict: bool) -> TaskData:
    import datasets

    rows = load_split(spec)
    where = f"{spec.source} (split {spec.split})"
    for column in ("query", "image_filename"):
        pick_column(rows, [column], column, where)
    has_images = IMAGE_COLUMN in rows.column_names
    if not has_images:
        _check_text_only_use(spec, where, rows.column_names, need_page_text=need_page_text)
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
        texts, text_source, text_notes = _page_texts(spec, page_names, rows, kept_rows)
        notes.extend(text_notes)

    if has_images:
        images = ArrowImages(
            rows.cast_column(IMAGE_COLUMN, datasets.Image(decode=False)),
            IMAGE_COLUMN,
            where,
            rows=kept_rows if len(kept_rows) < len(filenames) else None,
        )
    else:  # only text retrievers get here; every row has text, so nothing should ask for an image
        images = MissingImages(f"task {spec.name!r}: {where} has no {IMAGE_COLUMN!r} column")
    page_contents = None
    if hashes_pages(spec):
        shipped_text = spec.page_text_column if spec.page_text_column in rows.column_names else None
        image_rows = rows.cast_column(IMAGE_COLUMN, datasets.Image(decode=False)) if has_images else rows
        page_contents = arrow_page_contents(
            image_rows, IMAGE_COLUMN if has_images else None, shipped_text, kept_rows
        )
    corpus = Corpus(
        ids=tuple(f"row{row}" for row in kept_rows),  # the dataset row, also when rows were left out
        qrels_ids=tuple(page_names),
        images=images,
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
        page_contents=page_contents,
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


def _check_text_only_use(spec: TaskSpec, where: str, columns: list[str], *, need_page_text: bool) -> None:
    """Data without page images serves text retrievers, on the text the spec names."""
    if not need_page_text:
        raise TaskDataError(
            f"task {spec.name!r}: {where} has no {IMAGE_COLUMN!r} column, so only a text retriever "
            f"(page_input 'text', e.g. bm25-ocr) can run it; its columns are {columns}"
        )
    if not spec.page_text_column:
        raise TaskDataError(
            f"task {spec.name!r}: {where} has no {IMAGE_COLUMN!r} column and the spec names no "
            "page_text_column: there is neither an image to OCR nor text to read"
        )


def _page_texts(
    spec: TaskSpec, filenames: list[str], rows, kept_rows: list[int]
) -> tuple[tuple[str, ...], str, list[str]]:
    """Page text, its source and notes: each kept row's own, or the `_tesseract` twin's,
    joined by filename (`filenames`: the kept rows' pages)."""
    if spec.text_dataset is None:
        where = f"{spec.source} (split {spec.split})"
        column = pick_column(rows, [spec.page_text_column], "page text", where)
        cells = rows[column]
        texts, notes = _row_texts(filenames, [(row, cells[row]) for row in kept_rows], column, where)
        return texts, f"{spec.source_label} column {column!r}", notes

    rows = load_split(spec, text_dataset=True)
    where = f"{spec.text_dataset} (split {spec.split})"
    column = pick_column(rows, [spec.page_text_column], "page text", where)
    pick_column(rows, ["image_filename"], "image_filename", where)
    by_filename: dict[str, str] = {}
    several = set()
    for row, (filename, cell) in enumerate(zip(rows["image_filename"], rows[column], strict=True)):
        text = text_of(cell, f"{where} row {row} column {column!r}")
        if text is not None and by_filename.setdefault(filename, text) != text:
            several.add(filename)
    _require_text_for_every_page(filenames, by_filename, where)
    several &= set(filenames)
    notes = []
    if several:
        notes.append(
            f"{len(several)} pages have several different texts in {spec.text_dataset} column {column!r} "
            f"(e.g. {min(several)!r}); each page is given its first"
        )
    return tuple(by_filename[name] for name in filenames), f"{spec.text_dataset} column {column!r}", notes


def _row_texts(
    filenames: list[str], cells: list[tuple[int, object]], column: str, where: str
) -> tuple[tuple[str, ...], list[str]]:
    """Each row's own text (a chunk is its own entry); a row without one takes its page's first.
    `cells`: (dataset row, cell) of each kept row."""
    texts = [text_of(cell, f"{where} row {row} column {column!r}") for row, cell in cells]
    first_text: dict[str, str] = {}
    for filename, text in zip(filenames, texts, strict=True):
        if text is not None:
            first_text.setdefault(filename, text)
    _require_text_for_every_page(filenames, first_text, where)
    borrowed = sum(text is None for text in texts)
    notes = []
    if borrowed:
        notes.append(f"{borrowed} rows without text in column {column!r} take the first text of their page")
    filled = (first_text[name] if text is None else text for name, text in zip(filenames, texts, strict=True))
    return tuple(filled), notes


def _require_text_for_every_page(filenames: list[str], text_by_filename: dict[str, str], where: str) -> None:
    missing = sorted({name for name in filenames if name not in text_by_filename})
    if missing:
        raise TaskDataError(
            f"{where}: no page text for image_filename {missing[0]!r} ({len(missing)} missing)"
        )
