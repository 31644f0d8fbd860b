"""Which retrievers exist, without importing them.

Built-in retrievers are listed as "module:attr" strings, so `pagebench retrievers`
imports neither torch nor transformers. Other packages add retrievers through the
`pagebench.retrievers` entry-point group, e.g. in their pyproject.toml:

    [project.entry-points."pagebench.retrievers"]
    my-retriever = "my_package.retriever:MyRetriever"

The target is called with a `RetrieverOptions` and returns a `Retriever`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from benchmark.core.errors import PagebenchError, unknown_name
from benchmark.retrievers.base import Retriever, RetrieverOptions

ENTRY_POINT_GROUP = "pagebench.retrievers"
PROTOCOL_METHODS = (
    "describe",
    "begin_index",
    "add_pages",
    "finish_index",
    "encode_queries",
    "search",
    "index_nbytes",
)


@dataclass(frozen=True)
class RetrieverEntry:
    name: str
    target: str  # "module:attr"
    description: str
    origin: str = "built-in"


BUILTIN = (
    RetrieverEntry(
        "bm25-ocr",
        "benchmark.retrievers.bm25_ocr:create",
        "BM25 (bm25s) over page OCR text (shipped by the task, else Tesseract); "
        "stemming and stopwords per task language; --param variant=vidore: vidore-benchmark's rank_bm25",
    ),
    RetrieverEntry(
        "dense-ocr",
        "benchmark.retrievers.dense_ocr:DenseOCRRetriever",
        "page OCR text embedded by a sentence-transformers model (default all-MiniLM-L6-v2, bundled)",
    ),
    RetrieverEntry(
        "colpali",
        "benchmark.retrievers.colpali:ColPaliRetriever",
        "ColPali late interaction, ColPaliForRetrieval (default vidore/colpali-v1.3-hf)",
    ),
    RetrieverEntry(
        "colqwen2",
        "benchmark.retrievers.colpali:ColQwen2Retriever",
        "ColQwen2 late interaction, ColQwen2ForRetrieval (default vidore/colqwen2-v1.0-hf)",
    ),
    RetrieverEntry(
        "colmodernvbert",
        "benchmark.retrievers.colmodernvbert:ColModernVBertRetriever",
        "ColModernVBert late interaction, ColModernVBertForRetrieval "
        "(default ModernVBERT/colmodernvbert-merged)",
    ),
    RetrieverEntry(
        "bipali",
        "benchmark.retrievers.bipali:BiPaliRetriever",
        "PaliGemma mean-pooled to one vector; PEFT adapters on their base (default vidore/bipali)",
    ),
    RetrieverEntry(
        "bisiglip",
        "benchmark.retrievers.bisiglip:BiSiglipRetriever",
        "SigLIP image and text embeddings, cosine (default google/siglip-so400m-patch14-384)",
    ),
)


def available() -> dict[str, RetrieverEntry]:
    entries = {entry.name: entry for entry in BUILTIN}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in entries:
            continue  # a plugin cannot shadow a built-in name
        origin = f"entry point of {point.dist.name}" if point.dist else "entry point"
        entries[point.name] = RetrieverEntry(
            point.name, point.value, f"third-party retriever ({point.value})", origin
        )
    return entries


def create(name: str, options: RetrieverOptions) -> Retriever:
    entries = available()
    if name not in entries:
        raise unknown_name("retriever", name, list(entries), "pagebench retrievers")
    entry = entries[name]
    module_name, _, attribute = entry.target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise PagebenchError(
            f"retriever {name!r} ({entry.origin}) cannot be loaded from {entry.target}: {error}"
        ) from None
    retriever = factory(options)
    missing = [method for method in PROTOCOL_METHODS if not callable(getattr(retriever, method, None))]
    if missing or getattr(retriever, "page_input", None) not in ("text", "image"):
        problem = f"lacks {', '.join(missing)}" if missing else "has no page_input of 'text' or 'image'"
        raise PagebenchError(
            f"retriever {name!r} ({entry.target}) does not follow the Retriever protocol: it {problem}"
        )
    return retriever
