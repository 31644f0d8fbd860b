"""Which retrievers exist, without importing them.

Built-in retrievers are listed as "module:attr" strings, so `pagebench retrievers`
imports neither torch nor transformers. Other packages add retrievers through the
`pagebench.retrievers` entry-point group, e.g. in their pyproject.toml:

    [project.entry-points."pagebench.retrievers"]
    my-retriever = "my_package.retriever:MyRetriever"

The target is called with a `RetrieverOptions` and returns a `Retriever`.

A class no registry names is given as `module:attr` (`--retriever my_package.model:MyRetriever`),
imported only when a run asks for it. Its target is called the same way; what it returns
may also be an encoder (`encode_queries(list[str])` and `encode_pages(list[PIL.Image])`,
see `benchmark/retrievers/encoder.py`), which is then evaluated as an embedding retriever.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, replace
from importlib.metadata import entry_points

from benchmark.core.errors import PagebenchError, unknown_name
from benchmark.retrievers.base import Retriever, RetrieverOptions

ENTRY_POINT_GROUP = "pagebench.retrievers"
_DOTTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
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
    """The retriever a registered name, an entry point or a `module:attr` target makes."""
    from benchmark.retrievers.encoder import EncoderRetriever, is_encoder  # torch only when it runs

    entries = available()
    if name in entries:
        entry = entries[name]
    elif ":" in name:
        entry = RetrieverEntry(name, _checked_target(name), f"class {name}", origin="module:attr")
    else:
        raise unknown_name("retriever", name, list(entries), "pagebench retrievers")
    made = _load_target(entry)(options)
    if not follows_protocol(made) and is_encoder(made):
        # the options reached the encoder's constructor; the wrapper takes no --param of its own
        return EncoderRetriever(made, replace(options, params={}), name=entry.name.rpartition(":")[2])
    check_protocol(made, f"retriever {name!r} ({entry.target})")
    return made


def follows_protocol(candidate: object) -> bool:
    """Whether `candidate` has every method of the Retriever protocol and a valid page_input."""
    return not _protocol_problem(candidate)


def check_protocol(candidate: object, what: str) -> None:
    """A `PagebenchError` naming `what` and what it lacks, unless it is a Retriever."""
    problem = _protocol_problem(candidate)
    if problem:
        raise PagebenchError(f"{what} does not follow the Retriever protocol: it {problem}")


def _protocol_problem(candidate: object) -> str:
    missing = [method for method in PROTOCOL_METHODS if not callable(getattr(candidate, method, None))]
    if missing:
        return f"lacks {', '.join(missing)}"
    if getattr(candidate, "page_input", None) not in ("text", "image"):
        return "has no page_input of 'text' or 'image'"
    return ""


def _checked_target(target: str) -> str:
    module_name, _, attribute = target.partition(":")
    if not _DOTTED_NAME.match(module_name) or not _DOTTED_NAME.match(attribute):
        raise PagebenchError(
            f"--retriever {target!r}: expected a registered name or module:attr, "
            "e.g. my_package.model:MyRetriever"
        )
    return target


def _load_target(entry: RetrieverEntry):
    """The object `module:attr` names, imported now; an error says which part is missing."""
    module_name, _, attribute = entry.target.partition(":")
    where = f"retriever {entry.name!r} ({entry.origin})"
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        hint = ""
        if isinstance(error, ModuleNotFoundError) and error.name == module_name.split(".")[0]:
            hint = " (is its folder on PYTHONPATH, or its package installed?)"
        raise PagebenchError(f"{where} cannot be loaded: module {module_name!r}: {error}{hint}") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PagebenchError(f"{where} cannot be loaded: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise PagebenchError(
            f"{where}: {entry.target} is a {type(target).__name__}, not a class or function "
            "taking a RetrieverOptions"
        )
    _check_takes_options(target, where, entry.target)
    return target


def _check_takes_options(target, where: str, name: str) -> None:
    """Refuse, before calling it, a target that cannot be called with one RetrieverOptions."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # no signature to read (a builtin): let the call say
        return
    try:
        signature.bind(RetrieverOptions())
    except TypeError:
        raise PagebenchError(
            f"{where}: {name}{signature} cannot be called with one argument, the run's RetrieverOptions"
        ) from None
