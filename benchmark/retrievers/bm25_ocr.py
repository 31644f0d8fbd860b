"""OCR + BM25: the text baseline of the ColPali paper, with bm25s.

Page text arrives in the batches (the runner takes it from the task, or runs
Tesseract); this class only tokenises and ranks. Tokenisation follows the task
language: Snowball stemmer and stopword list for a single-language task, plain
lower-cased words for a multilingual one (one stemmer would mangle the others).

`--param variant=vidore` gives vidore-benchmark's BM25 instead (rank_bm25 over NLTK
tokens, English, no stemming: `bm25_official.py`); `create` picks the class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from benchmark.core.errors import PagebenchError
from benchmark.core.languages import LANGUAGES
from benchmark.core.types import PageBatch, Query, RankedRun
from benchmark.engine.ranking import id_ranks, top_k
from benchmark.retrievers.base import EncodedQueries, Retriever, RetrieverOptions
from benchmark.retrievers.bm25_official import ViDoReBM25Retriever

METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
VARIANTS = ("pagebench", "vidore")  # the first is the default
TOKENISER = r"bm25s: lower-cased (?u)\b\w\w+\b words"  # bm25s Tokenizer's default splitter


def create(options: RetrieverOptions) -> Retriever:
    """The registry's bm25-ocr: pagebench's BM25 (bm25s), or vidore-benchmark's for variant=vidore."""
    if options.params.get("variant") == "vidore":
        return ViDoReBM25Retriever(options)
    return BM25OCRRetriever(options)


def _number_param(key: str, text: str, allowed: str, *, minimum: float, maximum: float = math.inf) -> float:
    """A finite number in range: `k1=nan` or `b=inf` would score every page NaN (and be
    written into the results file), `k1=-3` inverts term-frequency saturation."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise PagebenchError(f"bm25-ocr: --param {key}={text} must be a finite number {allowed}")
    return value


class BM25OCRRetriever:
    name = "bm25-ocr"
    page_input = "text"

    def __init__(self, options: RetrieverOptions):
        params = dict(options.params)
        variant = params.pop("variant", VARIANTS[0])
        if variant != "pagebench":  # variant=vidore is another class (`create`)
            raise PagebenchError(f"bm25-ocr: variant {variant!r} is not one of {', '.join(VARIANTS)}")
        self.k1 = _number_param("k1", params.pop("k1", "1.5"), "0 or more", minimum=0.0)
        self.b = _number_param("b", params.pop("b", "0.75"), "from 0 to 1", minimum=0.0, maximum=1.0)
        self.method = params.pop("method", "lucene")
        if self.method not in METHODS:
            raise PagebenchError(f"bm25-ocr: method {self.method!r} is not one of {', '.join(METHODS)}")
        if params:
            raise PagebenchError(
                f"bm25-ocr: unknown --param {min(params)!r} (it takes variant, k1, b, method)"
            )
        if options.checkpoint:
            raise PagebenchError("bm25-ocr has no checkpoint; drop --checkpoint")
        self._tokenizer = None
        self._language: str | None = None

    def describe(self) -> dict:
        return {
            "checkpoint": None,
            "revision": None,
            "parameters": {
                "variant": "pagebench",
                "implementation": "bm25s",
                "k1": self.k1,
                "b": self.b,
                "method": self.method,
                "tokeniser": TOKENISER,
                "stemmer": self._language and LANGUAGES[self._language].name,
                "stopwords": self._language and LANGUAGES[self._language].name,
            },
        }

    def begin_index(self, languages: Sequence[str]) -> None:
        import Stemmer
        from bm25s.tokenization import Tokenizer

        self._language = languages[0] if len(languages) == 1 else None
        if self._language is None:
            self._tokenizer = Tokenizer(stopwords=[], stemmer=None)
        else:
            name = LANGUAGES[self._language].name
            self._tokenizer = Tokenizer(stopwords=name, stemmer=Stemmer.Stemmer(name))
        self._ids: list[str] = []
        self._token_ids: list[list[int]] = []

    def add_pages(self, batch: PageBatch) -> None:
        # Tokenising batch by batch (the vocabulary grows as it goes) gives the same
        # index as one pass, and puts the work where the runner times indexing.
        texts = [text or "" for text in batch.texts]
        self._token_ids.extend(
            self._tokenizer.tokenize(texts, update_vocab=True, return_as="ids", show_progress=False)
        )
        self._ids.extend(batch.ids)

    def finish_index(self) -> None:
        import bm25s
        from bm25s.tokenization import Tokenized

        vocabulary = self._tokenizer.get_vocab_dict()
        no_word = vocabulary.get("")  # what an empty text tokenises to
        if all(token == no_word for tokens in self._token_ids for token in tokens):
            raise PagebenchError("bm25-ocr: no page has any word (is the page text empty?)")
        self._index = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        self._index.index(Tokenized(ids=self._token_ids, vocab=vocabulary), show_progress=False)
        self._tie_ranks = id_ranks(self._ids)
        self._token_ids = []  # the index holds what is needed

    def encode_queries(self, queries: Sequence[Query]) -> EncodedQueries:
        tokens = self._tokenizer.tokenize(
            [query.text for query in queries], update_vocab=False, return_as="string", show_progress=False
        )
        # words outside the corpus vocabulary come back as "": they cannot match
        return EncodedQueries([query.id for query in queries], [[t for t in words if t] for words in tokens])

    def search(self, encoded: EncodedQueries, top_k_pages: int) -> RankedRun:
        run: RankedRun = {}
        for query_id, words in zip(encoded.ids, encoded.payload, strict=True):
            scores = (
                self._index.get_scores(words).astype(np.float64)
                if words
                else np.zeros(len(self._ids))  # no word of the query is in the corpus
            )
            best = top_k(scores, top_k_pages, self._tie_ranks)
            run[query_id] = [(self._ids[i], float(scores[i])) for i in best]
        return run

    def index_nbytes(self) -> int:
        """The sparse score matrix bm25s keeps (data, indices, indptr)."""
        return sum(getattr(value, "nbytes", 0) for value in self._index.scores.values())
