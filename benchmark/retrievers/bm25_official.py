"""vidore-benchmark's BM25 (`--param variant=vidore`), to compare with its OCR baselines.

vidore-benchmark 5.0.0 (`retrievers/bm25_retriever.py`, `BM25Retriever.get_scores_bm25`)
scores every page with rank_bm25's `BM25Okapi` at its defaults (k1 1.5, b 0.75, epsilon
0.25) over `nltk.word_tokenize` tokens, keeping `word.lower()` for the tokens that are
`isalnum()` and not in NLTK's English stopword list: no stemming, and English whatever the
task language. This class does exactly that (`tests/test_official_bm25.py` runs the
official code on the same texts), then ranks by trec_eval's rule like every retriever.

The tokeniser needs NLTK data (`punkt_tab`, `stopwords`: `python -m nltk.downloader
punkt_tab stopwords`). Where it is missing, and only there, stand-ins are used, with one
warning, and `describe()` records which: an untrained Punkt sentence splitter (the trained
English model mainly adds abbreviations such as "e.g." that do not end a sentence) and
bm25s's copy of NLTK's English list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.core.errors import DependencyError, PagebenchError
from benchmark.core.types import PageBatch, Query, RankedRun
from benchmark.engine.ranking import id_ranks, top_k
from benchmark.retrievers.base import EncodedQueries, RetrieverOptions

log = logging.getLogger(__name__)

EXTRA = "bm25-vidore"  # the optional dependencies of pyproject.toml: rank-bm25, nltk
OKAPI = {"k1": 1.5, "b": 0.75, "epsilon": 0.25}  # BM25Okapi's defaults, which vidore-benchmark keeps
WORD_TOKENIZE = "nltk word_tokenize (punkt english)"
UNTRAINED_PUNKT = "nltk word_tokenize, punkt untrained: no nltk punkt_tab data"
NLTK_DATA_HINT = "python -m nltk.downloader punkt_tab stopwords"


@dataclass(frozen=True)
class OfficialTokenizer:
    """`BM25Retriever.preprocess_text` for one text, and where its parts came from."""

    split_words: Callable[[str], list[str]]
    stopwords: frozenset[str]
    tokeniser: str
    stopword_list: str

    def __call__(self, text: str) -> list[str]:
        return [
            word.lower()
            for word in self.split_words(text)
            if word.isalnum() and word.lower() not in self.stopwords
        ]


def _untrained_word_tokenize() -> Callable[[str], list[str]]:
    """`word_tokenize` with a Punkt model that has learnt nothing: it still ends sentences
    at . ? ! before a space, but knows no abbreviation, collocation or sentence starter."""
    from nltk.tokenize import word_tokenize
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    sentences = PunktSentenceTokenizer()

    def split_words(text: str) -> list[str]:
        # preserve_line=True applies, to one sentence, the word tokenizer word_tokenize
        # applies to each sentence (NLTKWordTokenizer, the improved Treebank, in nltk 3.10)
        return [word for line in sentences.tokenize(text) for word in word_tokenize(line, preserve_line=True)]

    return split_words


def load_tokenizer() -> OfficialTokenizer:
    """The official preprocessing from NLTK's data, or its stand-ins where that data is missing."""
    import nltk
    from nltk.corpus import stopwords

    stand_ins = []  # what the missing data is replaced by, for the one warning
    try:
        nltk.word_tokenize("Probe.")  # loads the punkt model as the official code will
        split_words, tokeniser = nltk.word_tokenize, WORD_TOKENIZE
    except LookupError:
        stand_ins.append("no punkt_tab: sentences are split by an untrained Punkt model")
        split_words, tokeniser = _untrained_word_tokenize(), UNTRAINED_PUNKT
    try:
        words = frozenset(stopwords.words("english"))
        stopword_list = f"nltk english ({len(words)} words)"
    except LookupError:
        stand_ins.append("no stopwords: NLTK's classic English list from bm25s")
        # STOPWORDS_EN_PLUS is NLTK's classic English list: the same 179 words as nltk_data's
        # corpora/stopwords/english from 2017 to 2025 (checked against the 2019-2022 versions
        # of nltk_data's packages/corpora/stopwords.zip). The 19 words
        # nltk_data added in 2025 (nltk_data#228: "he'd", "i'm", "they're", ...) all hold an
        # apostrophe, so the isalnum() filter drops them before the stopword test: either
        # list removes the same tokens.
        from bm25s.stopwords import STOPWORDS_EN_PLUS

        words = frozenset(STOPWORDS_EN_PLUS)
        stopword_list = f"bm25s STOPWORDS_EN_PLUS = nltk classic english ({len(words)} words): no nltk data"
    if stand_ins:
        log.warning(
            "bm25-ocr variant=vidore: NLTK data missing (%s); for the official tokeniser run: %s",
            "; ".join(stand_ins),
            NLTK_DATA_HINT,
        )
    return OfficialTokenizer(split_words, words, tokeniser, stopword_list)


class ViDoReBM25Retriever:
    """bm25-ocr with `--param variant=vidore`: vidore-benchmark's BM25, page for page."""

    name = "bm25-ocr"
    page_input = "text"

    def __init__(self, options: RetrieverOptions):
        params = dict(options.params)
        params.pop("variant", None)
        if params:
            raise PagebenchError(
                f"bm25-ocr: variant=vidore is vidore-benchmark's BM25, with BM25Okapi's fixed settings "
                f"(k1 {OKAPI['k1']}, b {OKAPI['b']}, epsilon {OKAPI['epsilon']}); it takes no "
                f"{', '.join(sorted(params))} (drop it, or tune variant=pagebench)"
            )
        if options.checkpoint:
            raise PagebenchError("bm25-ocr has no checkpoint; drop --checkpoint")
        try:
            import nltk  # noqa: F401 (checked here, used by load_tokenizer)
            import rank_bm25  # noqa: F401 (used by finish_index)
        except ImportError as error:
            raise DependencyError(
                f"bm25-ocr variant=vidore needs rank-bm25 and nltk ({error}): "
                f"pip install 'pagebench[{EXTRA}]'"
            ) from None
        self._tokenizer = load_tokenizer()

    def describe(self) -> dict:
        return {
            "checkpoint": None,
            "revision": None,
            "parameters": {
                "variant": "vidore",
                "implementation": "rank_bm25 BM25Okapi",
                **OKAPI,
                "tokeniser": self._tokenizer.tokeniser,
                "stopwords": self._tokenizer.stopword_list,
                "stemmer": None,
            },
        }

    def begin_index(self, languages: Sequence[str]) -> None:  # noqa: ARG002 (English whatever the task)
        self._ids: list[str] = []
        self._pages: list[list[str]] = []

    def add_pages(self, batch: PageBatch) -> None:
        self._pages.extend(self._tokenizer(text or "") for text in batch.texts)
        self._ids.extend(batch.ids)

    def finish_index(self) -> None:
        from rank_bm25 import BM25Okapi

        if not any(self._pages):  # BM25Okapi would divide by zero (no word, no idf)
            raise PagebenchError(
                "bm25-ocr: no page has any word once stopwords are removed (is the page text empty?)"
            )
        # vidore-benchmark builds BM25Okapi(tokenized_corpus) with the defaults, as here
        self._index = BM25Okapi(self._pages)
        self._tie_ranks = id_ranks(self._ids)
        self._pages = []  # the index holds what is needed

    def encode_queries(self, queries: Sequence[Query]) -> EncodedQueries:
        words = [self._tokenizer(query.text) for query in queries]
        return EncodedQueries([query.id for query in queries], words)

    def search(self, encoded: EncodedQueries, top_k_pages: int) -> RankedRun:
        run: RankedRun = {}
        for query_id, words in zip(encoded.ids, encoded.payload, strict=True):
            scores = np.asarray(self._index.get_scores(words), dtype=np.float64)  # every page, in order
            best = top_k(scores, top_k_pages, self._tie_ranks)
            run[query_id] = [(self._ids[i], float(scores[i])) for i in best]
        return run

    def index_nbytes(self) -> int | None:
        """Unknown: rank_bm25 keeps Python dicts (one per page, one of idf), not arrays."""
        return None
