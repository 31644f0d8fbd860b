"""`--protocol vidore` scores as the official retrievers do.

colpali-engine's own `score_multi_vector` (in its own environment, tests/official) is
the reference for ColPali/ColQwen2: the same vectors must give bit-identical scores,
across many blocks of queries and pages and with pages of unequal length (zero padding
floors their token maxima). BiSigLIP under vidore ranks by the raw dot product.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from benchmark.core.errors import PagebenchError
from benchmark.core.types import PageBatch, Query
from benchmark.engine.reference_scoring import colpali_engine_scores
from benchmark.retrievers import registry
from benchmark.retrievers.base import RetrieverOptions
from tests.conftest import page_image
from tests.official import HERE, official_python

# vidore-benchmark 5.0.0's CLI default `--batch-score` (vidore_benchmark/cli/main.py),
# which its evaluators pass to colpali-engine's score_multi_vector as the block size
VIDORE_BATCH_SCORE = 4


def official_colpali_scores(queries: list, pages: list, tmp_path) -> np.ndarray:
    vectors, output = tmp_path / "vectors.pt", tmp_path / "scores.pt"
    torch.save({"queries": queries, "pages": pages}, vectors)
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "tool": "colpali-engine",
                "vectors": str(vectors),
                "output": str(output),
                "block": VIDORE_BATCH_SCORE,
            }
        )
    )
    completed = subprocess.run(
        [str(official_python("colpali-engine")), str(HERE / "score_with_official_tools.py"), str(request)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return torch.load(output).numpy()


def random_vectors(generator, count: int, lengths: tuple[int, int], dim: int = 16) -> list:
    return [
        torch.randn(
            int(torch.randint(*lengths, (1,), generator=generator)), dim, generator=generator
        ).bfloat16()
        for _ in range(count)
    ]


def test_maxsim_is_colpali_engines_to_the_bit(tmp_path):
    generator = torch.Generator().manual_seed(0)
    # many blocks of each, the last ones partial; the first 128 pages share one length (no
    # padding), the rest have unequal lengths (zero padding takes part in the max), so
    # blocks of another size would floor other pages. Random signs: many negative maxima.
    queries = random_vectors(generator, 131, (2, 9))
    pages = random_vectors(generator, 128, (4, 5)) + random_vectors(generator, 173, (1, 12))
    official = official_colpali_scores(queries, pages, tmp_path)
    ours = colpali_engine_scores(queries, pages)
    assert ours.dtype == np.float32 and ours.shape == official.shape == (131, 301)
    assert np.array_equal(ours, official)
    # guards the test: exact float32 MaxSim (pagebench's engine) is not the official arithmetic
    exact = np.array(
        [[float((q.float() @ p.float().T).amax(dim=1).sum()) for p in pages[:20]] for q in queries[:20]]
    )
    assert not np.array_equal(exact.astype(np.float32), official[:20, :20])


def test_a_short_page_is_floored_only_beside_a_longer_one():
    """colpali-engine zero-pads a block to its longest page: a short page's negative token
    maxima become 0 there, and stay negative when the page is alone."""
    query = [torch.tensor([[1.0, 0.0]]).bfloat16()]
    short = torch.tensor([[-1.0, 0.0]]).bfloat16()  # dot product -1 with the query token
    long = torch.tensor([[0.5, 0.0], [0.25, 0.0]]).bfloat16()
    assert colpali_engine_scores(query, [short]).tolist() == [[-1.0]]
    assert colpali_engine_scores(query, [short, long]).tolist() == [[0.0, 0.5]]


def index_and_search(retriever, pages: PageBatch, queries: list[Query]):
    retriever.begin_index(["en"])
    retriever.add_pages(pages)
    retriever.finish_index()
    encoded = retriever.encode_queries(queries)
    return encoded, retriever.search(encoded, top_k=len(pages.ids))


PAGES = PageBatch(
    ids=["p0", "p1", "p2", "p3"],
    images=[page_image(words) for words in ("apt-get install", "dpkg", "kernel panic", "mirrors")],
)
QUERIES = [Query("q0", "how do I install a package?"), Query("q1", "where are the mirrors?")]


def test_colpali_under_vidore_scores_its_own_vectors_as_colpali_engine(checkpoints, tmp_path):
    options = RetrieverOptions(checkpoint=checkpoints["colpali"], protocol="vidore")
    retriever = registry.create("colpali", options)
    described = retriever.describe()
    assert described["dtype"] == "bfloat16"  # as vidore-benchmark loads ColPali, whatever the device
    assert described["parameters"]["score_arithmetic"].startswith("colpali-engine score_multi_vector")
    encoded, ranked = index_and_search(retriever, PAGES, QUERIES)
    with torch.inference_mode():
        page_vectors = [vectors.bfloat16() for vectors in retriever.page_vectors(PAGES)]
    official = official_colpali_scores([q.bfloat16() for q in encoded.payload], page_vectors, tmp_path)
    for row, query in enumerate(QUERIES):
        assert dict(ranked[query.id]) == {page: float(official[row, i]) for i, page in enumerate(PAGES.ids)}


def test_colpali_by_default_sums_exactly_in_float32(checkpoints):
    retriever = registry.create("colpali", RetrieverOptions(checkpoint=checkpoints["colpali"]))
    assert retriever.describe()["parameters"]["score_arithmetic"].startswith("pagebench engine")
    _, ranked = index_and_search(retriever, PAGES, QUERIES)
    scores = [score for pages in ranked.values() for _, score in pages]
    # float32 sums are not rounded to bfloat16's 8 bits (colpali-engine's would all be)
    assert any(float(torch.tensor(score).bfloat16()) != score for score in scores)


def test_bisiglip_under_vidore_ranks_by_the_raw_dot_product(checkpoints):
    rankings = {}
    for protocol in ("pagebench", "vidore"):
        retriever = registry.create(
            "bisiglip", RetrieverOptions(checkpoint=checkpoints["bisiglip"], protocol=protocol)
        )
        _, rankings[protocol] = index_and_search(retriever, PAGES, QUERIES)
    model, processor = retriever.model, retriever.processor
    with torch.inference_mode():
        text = processor(
            text=[q.text for q in QUERIES], padding="max_length", truncation=True, return_tensors="pt"
        )
        image = processor(images=PAGES.images, return_tensors="pt")
        text_features, image_features = model.get_text_features(**text), model.get_image_features(**image)
        text_features = getattr(text_features, "pooler_output", text_features)
        image_features = getattr(image_features, "pooler_output", image_features)
    raw = (text_features @ image_features.T).numpy()
    for row, query in enumerate(QUERIES):
        vidore = dict(rankings["vidore"][query.id])
        for column, page in enumerate(PAGES.ids):
            assert vidore[page] == pytest.approx(float(raw[row, column]), rel=1e-5, abs=1e-6)
        cosine = dict(rankings["pagebench"][query.id])
        assert all(-1.0 <= score <= 1.0 for score in cosine.values())
    assert rankings["pagebench"] != rankings["vidore"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scoring_dtype": "float32"}, "--scoring-dtype does not apply with --protocol vidore"),
        ({"index_dir": "pages"}, "--index-on-disk stores pages in 16 bits"),
    ],
)
def test_options_that_would_change_the_official_arithmetic_are_refused(checkpoints, options, message):
    with pytest.raises(PagebenchError, match=message):
        registry.create(
            "colpali", RetrieverOptions(checkpoint=checkpoints["colpali"], protocol="vidore", **options)
        )


def test_retrievers_without_an_official_counterpart_keep_their_arithmetic(checkpoints):
    retriever = registry.create(
        "bipali", RetrieverOptions(checkpoint=checkpoints["bipali"], protocol="vidore")
    )
    assert retriever.describe()["parameters"]["score_arithmetic"].startswith("pagebench engine")
