"""Late-interaction similarity maps (issue 15): one grid per query word over a page's
patches, whose values are the very dot products MaxSim sums into the engine's score."""

import numpy as np
import pytest
from PIL import Image

from benchmark.core.errors import PagebenchError
from benchmark.devtools import tiny_checkpoints
from benchmark.feed.page_feed import PageFeed, open_embedding_cache
from benchmark.retrievers.base import RetrieverOptions
from benchmark.retrievers.colmodernvbert import ColModernVBertRetriever
from benchmark.retrievers.colpali import ColPaliRetriever, ColQwen2Retriever
from benchmark.retrievers.registry import create
from benchmark.run.similarity_maps import make_provider, page_similarity, token_maps, words_only
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task

# tiny checkpoint -> the retriever that loads it (ColQwen2.5 runs as colqwen2)
RETRIEVERS = {
    "colpali": ColPaliRetriever,
    "colqwen2": ColQwen2Retriever,
    "colqwen2.5": ColQwen2Retriever,
    "colmodernvbert": ColModernVBertRetriever,
}
QUERY = "Where can I get Debian?"
PAGES = 4


@pytest.fixture(scope="module")
def task():
    return load_task(resolve_task("debian-faq-en"))


@pytest.fixture(scope="module", params=sorted(RETRIEVERS))
def retriever(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / request.param
    tiny_checkpoints.BUILDERS[request.param](folder)
    return RETRIEVERS[request.param](RetrieverOptions(checkpoint=str(folder), device="cpu"))


def _pages(task, count=PAGES) -> dict:
    ids = list(task.corpus.ids[:count])
    return dict(zip(ids, task.corpus.images.load(list(range(count)), ids), strict=True))


def _engine_scores(retriever, pages: dict, query: str) -> dict[str, float]:
    from benchmark.core.types import PageBatch, Query

    retriever.begin_index(["en"])
    retriever.add_pages(PageBatch(ids=list(pages), images=list(pages.values())))
    retriever.finish_index()
    run = retriever.search(retriever.encode_queries([Query("q", query)]), top_k=len(pages))
    return dict(run["q"])


def test_grids_follow_the_processors_patch_layout(retriever):
    """ColPali: a square of image_size / patch_size; ColQwen2: image_grid_thw / merge, per page shape."""
    vlm = retriever.model.config.vlm_config
    shapes = {"tall": (90, 160), "wide": (200, 70)}
    pages = {name: Image.new("RGB", size, (120, 80, 40)) for name, size in shapes.items()}
    maps = token_maps(retriever, QUERY, pages)
    for name, image in pages.items():
        if retriever.name == "colpali":
            side = vlm.vision_config.image_size // vlm.vision_config.patch_size
            expected = (side, side)
        elif retriever.name == "colmodernvbert":  # one unsplit tile of image_seq_len tokens
            side = round(retriever.processor.image_seq_len**0.5)
            expected = (side, side)
        else:
            _, height, width = retriever.processor.process_images(images=[image])["image_grid_thw"][
                0
            ].tolist()
            merge = vlm.vision_config.spatial_merge_size
            expected = (height // merge, width // merge)
        assert maps[name] and {token_map.grid.shape for token_map in maps[name]} == {expected}
        image_tokens = retriever.processor.process_images(images=[image])["input_ids"][0]
        assert int((image_tokens == retriever.processor.image_token_id).sum()) == expected[0] * expected[1]
    if retriever.name == "colqwen2":  # the grid follows the page's shape
        assert maps["tall"][0].grid.shape != maps["wide"][0].grid.shape


def test_shown_tokens_are_the_query_words_and_a_filter_drops_more(retriever):
    pages = {"blank": Image.new("RGB", (64, 64))}
    shown = [token_map.token for token_map in token_maps(retriever, QUERY, pages)["blank"]]
    assert shown == ["Where", "can", "I", "get", "Debian", "?"]  # no prefix, augmentation or padding
    filtered = token_maps(retriever, QUERY, pages, token_filter=words_only)["blank"]
    assert [token_map.token for token_map in filtered] == ["Where", "can", "I", "get", "Debian"]
    listed = token_maps(retriever, QUERY, pages, token_filter=["can", "i", "?"])["blank"]
    assert [token_map.token for token_map in listed] == ["Where", "get", "Debian"]


def test_maxima_add_up_to_the_engines_maxsim_score(retriever, task):
    pages = _pages(task)
    scores = _engine_scores(retriever, pages, QUERY)
    maps = token_maps(retriever, QUERY, pages)
    patch_maxima_checked = 0
    for page_id, image in pages.items():
        page = page_similarity(retriever, QUERY, page_id, image)
        contributions = page.contributions()
        kept = np.array(page.kept)
        assert 0 < kept.sum() < len(kept)
        # the shown words plus the dropped prefix/augmentation tokens make the engine's score
        total = contributions[kept].sum() + contributions[~kept].sum()
        assert total == pytest.approx(scores[page_id], rel=1e-5, abs=1e-5)
        prompt = np.setdiff1d(np.arange(page.layout.length), page.layout.positions)
        for token_map, row in zip(maps[page_id], np.flatnonzero(kept), strict=True):
            assert token_map.token == page.tokens[row]
            best_outside = page.similarity[row, prompt].max() if len(prompt) else -np.inf
            # a token's MaxSim contribution is its grid's maximum, unless the page's text
            # prompt matched it better (the prompt has no place on the grid)
            assert max(token_map.grid.max(), best_outside) == pytest.approx(contributions[row], abs=1e-6)
            if token_map.grid.max() >= best_outside:
                assert token_map.grid.max() == pytest.approx(contributions[row], abs=1e-6)
                patch_maxima_checked += 1
    # (the tiny ColModernVBert has 4 patches against 12 prompt tokens: its prompt always wins)
    assert patch_maxima_checked > 0 or retriever.name == "colmodernvbert"


def test_maps_from_the_embedding_cache_equal_fresh_ones(retriever, task, tmp_path, monkeypatch):
    pages = _pages(task, 2)
    fresh = token_maps(retriever, QUERY, pages)
    cache = open_embedding_cache(retriever, tmp_path)
    retriever.begin_index(["en"])
    from benchmark.core.types import PageBatch

    PageFeed(retriever, cache).add(PageBatch(ids=list(pages), images=list(pages.values())))

    def no_page_encoding(_batch):
        raise AssertionError("a cached page was encoded again")

    monkeypatch.setattr(retriever, "embed_pages", no_page_encoding)
    cached = token_maps(retriever, QUERY, pages, cache=cache)
    provided = make_provider(retriever, task, tmp_path)(QUERY, list(pages))
    for page_id in pages:
        for maps in (cached, provided):
            assert [m.token for m in maps[page_id]] == [m.token for m in fresh[page_id]]
            for from_cache, encoded in zip(maps[page_id], fresh[page_id], strict=True):
                np.testing.assert_allclose(from_cache.grid, encoded.grid, rtol=1e-5, atol=1e-6)


def test_a_pooled_run_is_mapped_from_unpooled_vectors(retriever, task, tmp_path):
    """--pool-factor 2 caches pooled vectors, which sit on no grid: the pages are encoded again."""
    pages = _pages(task, 2)
    options = RetrieverOptions(checkpoint=retriever.checkpoint_name, device="cpu", pool_factor=2)
    pooled = type(retriever)(options)
    pooled.begin_index(["en"])
    from benchmark.core.types import PageBatch

    PageFeed(pooled, open_embedding_cache(pooled, tmp_path)).add(
        PageBatch(ids=list(pages), images=list(pages.values()))
    )
    from_pooled_run = make_provider(pooled, task, tmp_path)(QUERY, list(pages))
    unpooled = token_maps(retriever, QUERY, pages)
    for page_id in pages:
        for pooled_map, unpooled_map in zip(from_pooled_run[page_id], unpooled[page_id], strict=True):
            np.testing.assert_allclose(pooled_map.grid, unpooled_map.grid, rtol=1e-5, atol=1e-6)


def test_provider_names_an_unknown_page(retriever, task):
    provide = make_provider(retriever, task, None)
    with pytest.raises(PagebenchError, match="no page 'page-999'"):
        provide(QUERY, ["page-001", "page-999"])


def test_a_retriever_without_patches_has_no_maps(task):
    bm25 = create("bm25-ocr", RetrieverOptions())
    assert make_provider(bm25, task, None) is None
    needs = "bm25-ocr: no similarity maps: they need a late-interaction retriever"
    with pytest.raises(PagebenchError, match=needs):
        token_maps(bm25, QUERY, {"page-001": Image.new("RGB", (64, 64))})


@pytest.mark.parametrize("retriever", ["colmodernvbert"], indirect=True)  # its processor can split pages
def test_a_page_split_into_tiles_has_no_maps(retriever, monkeypatch, task):
    monkeypatch.setattr(retriever.processor.image_processor, "do_image_splitting", True)
    assert make_provider(retriever, task, None) is None
    split = "colmodernvbert: no similarity maps: .* splits pages into tiles"
    with pytest.raises(PagebenchError, match=split):
        token_maps(retriever, QUERY, {"page-001": Image.new("RGB", (64, 64))})


def test_vectors_cached_by_another_configuration_are_refused(retriever, tmp_path):
    from benchmark.feed.embedding_cache import EmbeddingCache, page_content_key

    image = Image.new("RGB", (64, 64), (10, 20, 30))
    cache = EmbeddingCache(tmp_path, {"test": "another configuration"})
    cache.store([page_content_key(image=image)], [retriever.torch.ones(3, 128)])
    with pytest.raises(PagebenchError, match="page 'odd': 3 page vectors for a .*-token page sequence"):
        token_maps(retriever, QUERY, {"odd": image}, cache=cache)
