"""A task in a local folder, for users' own documents.

    my-docs/
      corpus.jsonl      {"_id": "p1", "image": "pages/p1.png", "text": "optional OCR text"}
                        {"_id": "p2", "image": "report.pdf#page=3"}     (1-based PDF page)
      queries.jsonl     {"_id": "q1", "text": "what is ...?"}
      qrels/test.tsv    query-id <TAB> corpus-id <TAB> score   (an optional header line)
      task.toml         optional: name, languages, pdf_dpi, description...

These small text files are parsed line by line here rather than through
`datasets`, so that every error can name the file and line at fault. Pages must lie
inside the folder (symlinks resolved) unless the run allows outside pages; they are
checked to exist and hashed now (the fingerprint covers their bytes), and decoded
later, batch by batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from benchmark.core.errors import TaskDataError
from benchmark.core.types import Corpus, Query
from benchmark.tasks.assemble import assemble_task
from benchmark.tasks.content import file_page_contents
from benchmark.tasks.data import TaskData
from benchmark.tasks.drops import DropLog, Origins
from benchmark.tasks.entries import add_judgement, entry_id, entry_text, relevance_of
from benchmark.tasks.images import FileImages, PageFile, pdf_page_count
from benchmark.tasks.spec import TaskSpec

_PDF_PAGE = re.compile(r"page=([0-9]{1,9})", re.ASCII)


def load_local_folder(
    spec: TaskSpec, *, need_page_text: bool, strict: bool, allow_outside_pages: bool = False
) -> TaskData:
    folder = spec.path
    if folder is None or not folder.is_dir():
        raise TaskDataError(f"task {spec.name!r}: folder {folder} does not exist")
    folder = folder.resolve()

    ids, files, texts = [], [], []
    pdf_pages: dict[Path, int] = {}
    corpus_file = folder / "corpus.jsonl"
    for where, record in _jsonl(corpus_file):
        page_id = entry_id(_field(record, "_id", where), where)
        image = _field(record, "image", where)
        if not isinstance(image, str) or not image:
            raise TaskDataError(f"{where} (page {page_id!r}): 'image' must be a path, got {image!r}")
        page_where = f"{where} (page {page_id!r})"
        files.append(_page_file(folder, image, page_where, pdf_pages, allow_outside=allow_outside_pages))
        ids.append(page_id)
        texts.append(entry_text(record.get("text"), f"{page_where} field 'text'"))

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
        query_id = entry_id(_field(record, "_id", where), where)
        text = entry_text(_field(record, "text", where), f"{where} (query {query_id!r}) field 'text'")
        queries.append(Query(id=query_id, text=text or "", language=language))
        origins.queries[query_id] = where

    qrels = read_qrels(folder / "qrels" / f"{spec.split}.tsv", origins)
    # a local folder's spec has a path, never a hub dataset: its faults are always errors
    return assemble_task(
        spec,
        corpus,
        queries,
        qrels,
        drops=DropLog(spec, strict=strict),
        origins=origins,
        resolved_revision=spec.revision,
        page_contents=file_page_contents(files, texts),
    )


def _jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    """(\"file line N\", record) for each non-blank line."""
    for line_number, line in _lines(path):
        where = f"{path} line {line_number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise TaskDataError(f"{where}: invalid JSON ({error.msg})") from None
        except ValueError as error:  # an integer of more than 4300 digits
            raise TaskDataError(f"{where}: invalid JSON ({error})") from None
        except RecursionError:
            raise TaskDataError(f"{where}: invalid JSON (nested too deeply)") from None
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


def _page_file(
    folder: Path, reference: str, where: str, pdf_pages: dict[Path, int], *, allow_outside: bool
) -> PageFile:
    """The page a corpus entry names, confined to `folder` (resolved) unless `allow_outside`;
    refused before the file is opened."""
    location, _, fragment = reference.partition("#")
    path = _resolved_page_path(folder, location, where, allow_outside=allow_outside)
    try:
        is_file = path.is_file()
    except OSError as error:  # a name too long for the file system, ...
        raise TaskDataError(f"{where}: image file {location!r} cannot be read ({error.strerror})") from None
    if not is_file:
        raise TaskDataError(f"{where}: image file {location!r} not found")
    if path.suffix.lower() != ".pdf":
        if fragment:
            raise TaskDataError(f"{where}: '#{fragment}' only makes sense after a .pdf file")
        return PageFile(path)
    match = _PDF_PAGE.fullmatch(fragment)
    if not match:
        raise TaskDataError(f"{where}: a PDF page is written 'file.pdf#page=N' (N from 1), got {reference!r}")
    page = int(match.group(1))
    if path not in pdf_pages:
        # None: unreadable. Its pages then fail (or are skipped, --on-bad-page skip) when rendered.
        pdf_pages[path] = pdf_page_count(path)
    if pdf_pages[path] is not None and not 1 <= page <= pdf_pages[path]:
        raise TaskDataError(f"{where}: {location} has {pdf_pages[path]} pages, there is no page {page}")
    return PageFile(path, page)


def _resolved_page_path(folder: Path, location: str, where: str, *, allow_outside: bool) -> Path:
    """`location` (relative to `folder`, or absolute) with symlinks resolved. A task folder
    is data someone handed over: its entries must not read files elsewhere on this machine
    (`../../etc/passwd`, a symlink out) unless the run says so (--allow-outside-pages)."""
    if "\0" in location:
        raise TaskDataError(f"{where}: image path {location!r} contains a NUL character")
    try:
        path = (folder / location).resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop; RuntimeError before Python 3.13
        raise TaskDataError(f"{where}: image path {location!r} cannot be resolved ({error})") from None
    if not allow_outside and not path.is_relative_to(folder):
        raise TaskDataError(
            f"{where}: image {location!r} is outside the task folder {folder} (it resolves to {path}); "
            "pass --allow-outside-pages to read pages from elsewhere"
        )
    return path


def read_qrels(path: Path, origins: Origins) -> dict[str, dict[str, int]]:
    """query-id, corpus-id, score per line. The first line is a header only if its score
    column is not an integer, so a file without a header keeps its first judgement. A
    judgement repeated with another score is an error naming both lines."""
    qrels: dict[str, dict[str, int]] = {}
    first_seen: dict[tuple[str, str], str] = {}
    first_line = True
    for line_number, line in _lines(path):
        columns = line.split("\t")
        where = f"{path} line {line_number}"
        if len(columns) != 3:
            raise TaskDataError(
                f"{where}: expected 3 tab-separated columns (query-id, corpus-id, score), got {len(columns)}"
            )
        if first_line and not _looks_like_integer(columns[2]):
            first_line = False
            continue  # a header: query-id, corpus-id, score
        first_line = False
        query_id, page_id = (entry_id(column.strip(), where) for column in columns[:2])
        relevance = relevance_of(columns[2], where)
        add_judgement(
            qrels, query_id, page_id, relevance,
            here=where, first_seen=first_seen, seen_here=f"on line {line_number}",
        )  # fmt: skip
        origins.qrels.setdefault((query_id, page_id), where)
    return qrels


def _looks_like_integer(cell: str) -> bool:
    try:
        relevance_of(cell, "")
    except TaskDataError:
        return False
    return True
