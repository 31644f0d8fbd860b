"""A task in a local folder, for users' own documents.

    my-docs/
      corpus.jsonl      {"_id": "p1", "image": "pages/p1.png", "text": "optional OCR text"}
                        {"_id": "p2", "image": "report.pdf#page=3"}     (1-based PDF page)
      queries.jsonl     {"_id": "q1", "text": "what is ...?"}
      qrels/test.tsv    query-id <TAB> corpus-id <TAB> score   (first line is a header)
      task.toml         optional: name, languages, pdf_dpi, description...

These small text files are parsed line by line here rather than through
`datasets`, so that every error can name the file and line at fault. Images and
PDF pages are only checked to exist now and decoded later, batch by batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from benchmark.core.errors import TaskDataError
from benchmark.core.types import Corpus, Query
from benchmark.tasks.assemble import assemble_task
from benchmark.tasks.data import TaskData
from benchmark.tasks.drops import DropLog, Origins
from benchmark.tasks.hub import id_of, text_of
from benchmark.tasks.images import FileImages, PageFile, pdf_page_count
from benchmark.tasks.spec import TaskSpec


def load_local_folder(spec: TaskSpec, *, need_page_text: bool, strict: bool) -> TaskData:
    folder = spec.path
    if folder is None or not folder.is_dir():
        raise TaskDataError(f"task {spec.name!r}: folder {folder} does not exist")

    ids, files, texts = [], [], []
    pdf_pages: dict[Path, int] = {}
    corpus_file = folder / "corpus.jsonl"
    for where, record in _jsonl(corpus_file):
        page_id = id_of(_field(record, "_id", where), where)
        image = _field(record, "image", where)
        if not isinstance(image, str) or not image:
            raise TaskDataError(f"{where} (page {page_id!r}): 'image' must be a path, got {image!r}")
        files.append(_page_file(folder, image, f"{where} (page {page_id!r})", pdf_pages))
        ids.append(page_id)
        texts.append(text_of(record.get("text"), f"{where} (page {page_id!r}) field 'text'"))

    has_texts = need_page_text and any(text is not None for text in texts)
    corpus = Corpus(
        ids=tuple(ids),
        qrels_ids=tuple(ids),
        images=FileImages(files, spec.pdf_dpi),
        texts=tuple(texts) if has_texts else None,
        text_source=f"{corpus_file.name} field 'text'" if has_texts else None,
    )

    queries = []
    origins = Origins()
    language = spec.languages[0] if len(spec.languages) == 1 else None
    for where, record in _jsonl(folder / "queries.jsonl"):
        query_id = id_of(_field(record, "_id", where), where)
        text = text_of(_field(record, "text", where), f"{where} (query {query_id!r}) field 'text'")
        queries.append(Query(id=query_id, text=text or "", language=language))
        origins.queries[query_id] = where

    qrels = _read_qrels(folder / "qrels" / f"{spec.split}.tsv", origins)
    # a local folder's spec has a path, never a hub dataset: its faults are always errors
    return assemble_task(
        spec,
        corpus,
        queries,
        qrels,
        drops=DropLog(spec, strict=strict),
        origins=origins,
        resolved_revision=spec.revision,
    )


def _jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    """(\"file line N\", record) for each non-blank line."""
    for line_number, line in _lines(path):
        where = f"{path} line {line_number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise TaskDataError(f"{where}: invalid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise TaskDataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        yield where, record


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise TaskDataError(f"{path}: file not found")
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise TaskDataError(f"{path} line {line_number}: not valid UTF-8") from None
            if line.strip():
                yield line_number, line.rstrip("\r\n")


def _field(record: dict, name: str, where: str):
    if name not in record:
        raise TaskDataError(f"{where}: missing field {name!r}")
    return record[name]


def _page_file(folder: Path, reference: str, where: str, pdf_pages: dict[Path, int]) -> PageFile:
    location, _, fragment = reference.partition("#")
    path = Path(location) if Path(location).is_absolute() else folder / location
    if not path.is_file():
        raise TaskDataError(f"{where}: image file {location!r} not found")
    if path.suffix.lower() != ".pdf":
        if fragment:
            raise TaskDataError(f"{where}: '#{fragment}' only makes sense after a .pdf file")
        return PageFile(path)
    if not fragment.startswith("page=") or not fragment[5:].isdigit():
        raise TaskDataError(f"{where}: a PDF page is written 'file.pdf#page=N' (N from 1), got {reference!r}")
    page = int(fragment[5:])
    if path not in pdf_pages:
        # None: unreadable. Its pages then fail (or are skipped, --on-bad-page skip) when rendered.
        pdf_pages[path] = pdf_page_count(path)
    if pdf_pages[path] is not None and not 1 <= page <= pdf_pages[path]:
        raise TaskDataError(f"{where}: {location} has {pdf_pages[path]} pages, there is no page {page}")
    return PageFile(path, page)


def _read_qrels(path: Path, origins: Origins) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    lines = _lines(path)
    next(lines, None)  # header: query-id, corpus-id, score
    for line_number, line in lines:
        columns = line.split("\t")
        where = f"{path} line {line_number}"
        if len(columns) != 3:
            raise TaskDataError(
                f"{where}: expected 3 tab-separated columns (query-id, corpus-id, score), got {len(columns)}"
            )
        query_id, page_id, score = (column.strip() for column in columns)
        try:
            relevance = int(score)
        except ValueError:
            raise TaskDataError(f"{where}: score must be an integer, got {score!r}") from None
        if not query_id or not page_id:
            raise TaskDataError(f"{where}: empty query-id or corpus-id")
        qrels.setdefault(query_id, {})[page_id] = relevance
        origins.qrels[(query_id, page_id)] = where
    return qrels
