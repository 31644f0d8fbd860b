"""Runs inside an official tool's own virtual environment (see tests/official/README.md):
reads a request (JSON) naming fixture datasets and a fixed score table, scores them
with the official evaluator, prints its metrics as JSON on stdout.

    python score_with_official_tools.py request.json

request: {"tool": "vidore-qa" | "vidore-beir" | "mteb", "dataset": folder,
          "scores": {query text: [score per corpus row, in corpus order]}}
      or {"tool": "colpali-engine", "vectors": file.pt, "output": file.pt}: colpali-engine's
          `score_multi_vector` on {"queries": [tensor], "pages": [tensor]}, saved to output.
      or {"tool": "vidore-bm25", "queries": [text, ...], "passages": [text, ...]}: prints
          {"scores": [[score per passage] per query]}, vidore-benchmark's BM25Retriever
          (NLTK reads its data from $NLTK_DATA)
      or {"tool": "vidore-qa-text", "dataset": folder,
          "scores": {query text: {passage text: score}}}  (a text retriever: passages are
          the rows' `text_description`, scored by their text, not their position)
"""

import json
import sys
from pathlib import Path


def vidore_retriever(scores_by_text: dict):
    """A vision retriever whose scores are the request's table: queries are embedded as
    their index in the table, passages as their row position (the evaluator embeds
    them in dataset order)."""
    import torch
    from vidore_benchmark.retrievers.base_vision_retriever import BaseVisionRetriever

    texts = list(scores_by_text)
    table = torch.tensor([scores_by_text[text] for text in texts], dtype=torch.float32)

    class FixedScores(BaseVisionRetriever):
        def __init__(self):
            super().__init__(use_visual_embedding=True)
            self.passages_seen = 0

        def forward_queries(self, queries, batch_size, **kwargs):  # noqa: ARG002 (the interface)
            return [torch.tensor([float(texts.index(query))]) for query in queries]

        def forward_passages(self, passages, batch_size, **kwargs):  # noqa: ARG002 (the interface)
            start, self.passages_seen = self.passages_seen, self.passages_seen + len(passages)
            return [torch.tensor([float(row)]) for row in range(start, self.passages_seen)]

        def get_scores(self, query_embeddings, passage_embeddings, batch_size=None):  # noqa: ARG002
            rows = [int(query[0]) for query in query_embeddings]
            columns = [int(passage[0]) for passage in passage_embeddings]
            return table[rows][:, columns]

    return FixedScores()


def vidore_qa(request: dict) -> dict:
    from datasets import Dataset
    from vidore_benchmark.evaluation.vidore_evaluators import ViDoReEvaluatorQA

    dataset = Dataset.from_parquet(str(Path(request["dataset"]) / "data" / "test-00000-of-00001.parquet"))
    evaluator = ViDoReEvaluatorQA(vidore_retriever(request["scores"]))
    return evaluator.evaluate_dataset(dataset, batch_query=4, batch_passage=4, batch_score=4)


def vidore_qa_text(request: dict) -> dict:
    """ViDoReEvaluatorQA with a text retriever (`use_visual_embedding=False`): the evaluator
    embeds each row's `text_description`; the fixed score is looked up by that text."""
    import torch
    from datasets import Dataset
    from vidore_benchmark.evaluation.vidore_evaluators import ViDoReEvaluatorQA
    from vidore_benchmark.retrievers.base_vision_retriever import BaseVisionRetriever

    scores_by_text = request["scores"]
    query_texts = list(scores_by_text)
    passage_texts = list(dict.fromkeys(text for scores in scores_by_text.values() for text in scores))
    table = torch.tensor([[scores_by_text[query][text] for text in passage_texts] for query in query_texts])

    class FixedTextScores(BaseVisionRetriever):
        def __init__(self):
            super().__init__(use_visual_embedding=False)

        def forward_queries(self, queries, batch_size, **kwargs):  # noqa: ARG002 (the interface)
            return [torch.tensor([float(query_texts.index(query))]) for query in queries]

        def forward_passages(self, passages, batch_size, **kwargs):  # noqa: ARG002 (the interface)
            return [torch.tensor([float(passage_texts.index(text))]) for text in passages]

        def get_scores(self, query_embeddings, passage_embeddings, batch_size=None):  # noqa: ARG002
            rows = [int(query[0]) for query in query_embeddings]
            columns = [int(passage[0]) for passage in passage_embeddings]
            return table[rows][:, columns]

    dataset = Dataset.from_parquet(str(Path(request["dataset"]) / "data" / "test-00000-of-00001.parquet"))
    evaluator = ViDoReEvaluatorQA(FixedTextScores())
    return evaluator.evaluate_dataset(dataset, batch_query=4, batch_passage=4, batch_score=4)


def vidore_beir(request: dict) -> dict:
    from datasets import Dataset
    from vidore_benchmark.evaluation.vidore_evaluators import ViDoReEvaluatorBEIR

    folder = Path(request["dataset"])
    subsets = {
        name: Dataset.from_parquet(str(folder / name / "test-00000-of-00001.parquet"))
        for name in ("corpus", "queries", "qrels")
    }
    evaluator = ViDoReEvaluatorBEIR(vidore_retriever(request["scores"]), passage_column="image")
    return evaluator.evaluate_dataset(subsets, batch_query=4, batch_passage=4, batch_score=4)


def mteb(request: dict) -> dict:
    """MTEB 2.x's retrieval metrics on the {query id: {corpus id: score}} run that its
    search step hands them (every page; ids as strings, scores as Python floats)."""
    from datasets import Dataset
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores, make_score_dict

    folder = Path(request["dataset"])
    corpus = Dataset.from_parquet(str(folder / "corpus" / "test-00000-of-00001.parquet"))
    queries = Dataset.from_parquet(str(folder / "queries" / "test-00000-of-00001.parquet"))
    qrels_rows = Dataset.from_parquet(str(folder / "qrels" / "test-00000-of-00001.parquet"))
    qrels: dict = {}
    for row in qrels_rows:
        qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    results = {
        str(query_id): {
            str(corpus_id): float(score)
            for corpus_id, score in zip(corpus["corpus-id"], request["scores"][text], strict=True)
        }
        for query_id, text in zip(queries["query-id"], queries["query"], strict=True)
        if str(query_id) in qrels  # MTEB filters unjudged queries out before search
    }
    k_values = [1, 3, 5, 10, 20, 50, 100]
    scores = calculate_retrieval_scores(results, qrels, k_values=k_values, skip_first_result=False)
    return make_score_dict(
        ndcg=scores.ndcg,
        _map=scores.map,
        recall=scores.recall,
        precision=scores.precision,
        mrr=scores.mrr,
        naucs=scores.naucs,
        naucs_mrr=scores.naucs_mrr,
        hit_rate=scores.hit_rate,
        task_scores={},
    )


def colpali_engine(request: dict) -> dict:
    """colpali-engine's late-interaction scores, as vidore-benchmark's ColPali/ColQwen2
    retrievers call them (`processor.score(..., batch_size=batch_score, device="cpu")`)."""
    import importlib.util
    import types

    import torch

    # colpali_engine/__init__ imports every model class, which needs torchvision (it has no
    # CPU wheel for this torch here); the scoring function needs none of them.
    package = types.ModuleType("colpali_engine")
    package.__path__ = list(importlib.util.find_spec("colpali_engine").submodule_search_locations)
    sys.modules["colpali_engine"] = package
    from colpali_engine.utils.processing_utils import BaseVisualRetrieverProcessor

    vectors = torch.load(request["vectors"])
    scores = BaseVisualRetrieverProcessor.score_multi_vector(
        vectors["queries"], vectors["pages"], batch_size=request["block"], device="cpu"
    )
    torch.save(scores, request["output"])
    return {"queries": scores.shape[0], "pages": scores.shape[1]}


def vidore_bm25(request: dict) -> dict:
    """The score matrix of vidore-benchmark's BM25 baseline, float64 as it computes it."""
    from vidore_benchmark.retrievers.bm25_retriever import BM25Retriever

    scores = BM25Retriever(device="cpu").get_scores_bm25(request["queries"], request["passages"])
    return {"scores": scores.tolist()}  # json writes repr(): every float64 round-trips


if __name__ == "__main__":
    request = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    if request["tool"] == "vidore-bm25":
        print(json.dumps(vidore_bm25(request)))
        sys.exit(0)
    tools = {
        "vidore-qa": vidore_qa,
        "vidore-qa-text": vidore_qa_text,
        "vidore-beir": vidore_beir,
        "mteb": mteb,
        "colpali-engine": colpali_engine,
    }
    metrics = tools[request["tool"]](request)
    print(json.dumps({name: value for name, value in metrics.items() if isinstance(value, (int, float))}))
