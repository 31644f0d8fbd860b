"""bm25-ocr `--param variant=vidore` against vidore-benchmark 5.0.0's own BM25 code.

The official `BM25Retriever.get_scores_bm25` runs in its virtual environment
(`tests/official`) on texts full of tokeniser traps (sentence ends, abbreviations,
digits, accents, apostrophes, an empty page, a query of stopwords only); pagebench's
variant=vidore must give the same float64 score for every (query, page), within 1e-9.

NLTK's data cannot be downloaded here, so both sides read a folder the test builds: the
English stopword list as nltk_data ships it since 2025 (the classic 179 words plus 19
with an apostrophe) and a punkt_tab "english" model that has learnt nothing. pagebench
is run twice: reading that folder (the real `word_tokenize` path) and with no NLTK data
at all (its stand-ins), and must agree with the official scores both times.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.errors import DependencyError, PagebenchError
from benchmark.core.types import PageBatch, Query
from benchmark.retrievers import registry
from benchmark.retrievers.base import RetrieverOptions
from benchmark.retrievers.bm25_official import EXTRA, UNTRAINED_PUNKT, WORD_TOKENIZE
from tests.official import HERE, official_python

REPO = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-9

PAGES = [
    "Debian packages are installed with apt, e.g. apt install vim. Dr. Smith wrote it in 2023.",
    "What's a Debian .deb file? It's an archive: ar(1) holds control.tar.xz and data.tar.xz!",
    "Le système Debian s'installe en français : paquets, dépôts, mise à jour. Voilà ! Où est l'aide ?",
    "",
    "They're sure I'm right; he'd said we'll upgrade Debian to 12.4 (bookworm), i.e. stable... OK?",
    "The kernel, the kernel and THE KERNEL: 3 kernels. U.S. mirrors vs. e.g. EU mirrors.",
    "apt-get update && apt-get upgrade -y # then reboot the Debian kernel; don't panic",
    "Debian packages are installed with apt, e.g. apt install vim. Dr. Smith wrote it in 2023.",
]
# "debian" is on 6 pages of 8: its idf is negative and BM25Okapi floors it (epsilon)
QUERIES = [
    "How do I install packages with apt?",
    "e.g. the kernel",
    "Dr. Smith 2023",
    "français dépôts où",
    "they're upgrading to 12.4",
    "",
    "the and of it's",
    "zzz unknown words",
    "kernel kernel mirrors",
    "Debian kernel upgrade, then reboot.",
    "Debian: a .deb archive?",
    "stable bookworm, OK? Système français.",
]
# nltk_data's corpora/stopwords/english since 2025 (nltk_data#228) adds these to the classic list
NEWER_STOPWORDS = (
    "he'd he'll he's i'd i'll i'm i've it'd it'll she'd she'll they'd they'll they're they've "
    "we'd we'll we're we've"
).split()
PUNKT_TAB_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")

# The real-data side of pagebench, in a process of its own: nltk keeps a loaded punkt model
# and stopword corpus for the life of the process, which would leak into the other tests.
WITH_DATA = """
import json, sys
import nltk
nltk.data.path[:] = [sys.argv[1]]
from tests.test_official_bm25 import pagebench_scores
scores, described = pagebench_scores()
print(json.dumps({"scores": scores.tolist(), "parameters": described["parameters"]}))
"""


@pytest.fixture(autouse=True)
def no_nltk_data(monkeypatch, tmp_path):
    """In this process NLTK finds no data, whatever the machine has downloaded."""
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "no-nltk-data")])


@pytest.fixture(scope="module")
def nltk_data(tmp_path_factory) -> Path:
    """NLTK data as `nltk.download` lays it out: stopwords/english, and an empty punkt_tab
    model (the four files `load_punkt_params` reads, with nothing in them)."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    folder = tmp_path_factory.mktemp("nltk_data")
    stopwords = folder / "corpora" / "stopwords" / "english"
    stopwords.parent.mkdir(parents=True)
    stopwords.write_text("\n".join(sorted({*STOPWORDS_EN_PLUS, *NEWER_STOPWORDS})) + "\n", encoding="utf-8")
    punkt = folder / "tokenizers" / "punkt_tab" / "english"
    punkt.mkdir(parents=True)
    for name in PUNKT_TAB_FILES:
        (punkt / name).write_text("", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def official_scores(nltk_data, tmp_path_factory) -> np.ndarray:
    request = tmp_path_factory.mktemp("request") / "bm25-request.json"
    request.write_text(
        json.dumps({"tool": "vidore-bm25", "queries": QUERIES, "passages": PAGES}), encoding="utf-8"
    )
    completed = subprocess.run(
        [str(official_python("vidore")), str(HERE / "score_with_official_tools.py"), str(request)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NLTK_DATA": str(nltk_data)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return np.array(json.loads(completed.stdout.strip().splitlines()[-1])["scores"], dtype=np.float64)


def vidore_bm25(**params: str):
    return registry.create("bm25-ocr", RetrieverOptions(params={"variant": "vidore", **params}))


def pagebench_scores(pages: list[str] = PAGES, queries: list[str] = QUERIES) -> tuple[np.ndarray, dict]:
    """variant=vidore's score of every (query, page), as a matrix, and what it describes."""
    retriever = vidore_bm25()
    ids = [f"p{i}" for i in range(len(pages))]
    retriever.begin_index(["en"])
    retriever.add_pages(PageBatch(ids=ids[:3], texts=pages[:3]))  # in two batches, as the runner may
    retriever.add_pages(PageBatch(ids=ids[3:], texts=pages[3:]))
    retriever.finish_index()
    encoded = retriever.encode_queries([Query(f"q{i}", text) for i, text in enumerate(queries)])
    ranked = retriever.search(encoded, len(pages))
    scores = np.full((len(queries), len(pages)), np.nan)
    for row, query_id in enumerate(encoded.ids):
        for page_id, score in ranked[query_id]:
            scores[row, ids.index(page_id)] = score
    return scores, retriever.describe()


def test_the_official_scores_are_not_trivial(official_scores):
    """The comparison means something: scores differ between pages, ties and zeros occur."""
    assert official_scores.shape == (len(QUERIES), len(PAGES))
    assert len(np.unique(official_scores)) > 10
    assert np.all(official_scores[5] == 0) and np.all(official_scores[6] == 0)  # empty, stopwords only
    assert np.all(official_scores[:, 3] == 0)  # the empty page
    assert np.array_equal(official_scores[:, 0], official_scores[:, 7])  # the same text twice


def test_with_nltk_data_pagebench_runs_word_tokenize_and_matches(official_scores, nltk_data):
    completed = subprocess.run(
        [sys.executable, "-c", WITH_DATA, str(nltk_data)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["parameters"]["tokeniser"] == WORD_TOKENIZE
    assert result["parameters"]["stopwords"] == "nltk english (198 words)"
    assert "NLTK data missing" not in completed.stderr
    np.testing.assert_allclose(np.array(result["scores"]), official_scores, rtol=0, atol=TOLERANCE)


def test_without_nltk_data_the_stand_ins_match(official_scores, caplog):
    with caplog.at_level(logging.WARNING, logger="benchmark"):
        scores, described = pagebench_scores()
    assert described["parameters"]["tokeniser"] == UNTRAINED_PUNKT
    assert described["parameters"]["stopwords"].startswith("bm25s STOPWORDS_EN_PLUS")
    warnings = [record.getMessage() for record in caplog.records if "NLTK data missing" in record.message]
    assert len(warnings) == 1 and "punkt_tab" in warnings[0] and "nltk.downloader" in warnings[0]
    np.testing.assert_allclose(scores, official_scores, rtol=0, atol=TOLERANCE)


def test_pages_tied_on_score_rank_by_id_descending():
    retriever = vidore_bm25()
    retriever.begin_index(["en"])
    texts = ["apt kernel", "apt kernel", "apt", "zebra", "yak"]
    retriever.add_pages(PageBatch(ids=["a", "c", "b", "d", "e"], texts=texts))
    retriever.finish_index()
    ranked = retriever.search(retriever.encode_queries([Query("q", "kernel apt")]), 3)
    assert [page_id for page_id, _ in ranked["q"]] == ["c", "a", "b"]
    assert ranked["q"][0][1] == ranked["q"][1][1] > ranked["q"][2][1] > 0


def test_describe_records_the_variant_and_the_official_settings():
    parameters = vidore_bm25().describe()["parameters"]
    assert parameters["variant"] == "vidore" and parameters["implementation"] == "rank_bm25 BM25Okapi"
    assert (parameters["k1"], parameters["b"], parameters["epsilon"], parameters["stemmer"]) == (
        1.5,
        0.75,
        0.25,
        None,
    )
    default = registry.create("bm25-ocr", RetrieverOptions()).describe()["parameters"]
    assert default["variant"] == "pagebench" and default["implementation"] == "bm25s"
    assert default["tokeniser"].startswith("bm25s")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"variant": "vidore", "k1": "1.2"}, "variant=vidore is vidore-benchmark's BM25.*takes no k1"),
        ({"variant": "vidore", "b": "0.5", "method": "atire"}, "takes no b, method"),
        ({"variant": "lucene"}, "variant 'lucene' is not one of pagebench, vidore"),
        ({"variant": "pagebench", "epsilon": "0.1"}, "unknown --param 'epsilon'"),
    ],
)
def test_settings_the_variant_does_not_take_are_refused(params, message):
    with pytest.raises(PagebenchError, match=message):
        registry.create("bm25-ocr", RetrieverOptions(params=params))


def test_without_the_extra_the_error_names_it(monkeypatch, cli):
    monkeypatch.setitem(sys.modules, "rank_bm25", None)  # as if not installed: import fails
    install = rf"pip install 'pagebench\[{EXTRA}\]'"
    with pytest.raises(DependencyError, match=rf"needs rank-bm25 and nltk.*{install}"):
        vidore_bm25()
    code, _, err = cli(
        "run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--param", "variant=vidore"
    )
    assert code == 2 and f"pagebench[{EXTRA}]" in err


def test_no_page_with_a_word_is_refused():
    retriever = vidore_bm25()
    retriever.begin_index(["en"])
    retriever.add_pages(PageBatch(ids=["a", "b"], texts=["", "the and of ."]))
    with pytest.raises(PagebenchError, match="no page has any word"):
        retriever.finish_index()


def test_a_run_records_the_variant(cli, tmp_path):
    code, _, err = cli(
        "run",
        "--task",
        "debian-faq-en",
        "--retriever",
        "bm25-ocr",
        "--param",
        "variant=vidore",
        "--output-dir",
        tmp_path,
        "--latency-queries",
        "0",
    )
    assert code == 0, err
    result = json.loads((tmp_path / "bm25-ocr@variant-vidore" / "debian-faq-en.json").read_text())
    parameters = result["retriever"]["parameters"]
    assert parameters["variant"] == "vidore" and parameters["tokeniser"] == UNTRAINED_PUNKT
    assert result["metrics"]["ndcg_at_5"] > 0.8
