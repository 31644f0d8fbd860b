"""Evaluate a model every N steps of its training loop, in memory, with pagebench.

    python examples/training_loop.py                        # 20 steps, evaluated every 10
    python examples/training_loop.py --steps 100 --every 25 --max-queries 50 --task ./my-docs
    python examples/training_loop.py --output-dir runs      # also write each evaluation's files

The model is a tiny two-tower network (hashed character trigrams for queries; a page
cut into four strips, one vector each, so pages are scored by late interaction) and the
training step a stand-in (a contrastive loss on random pairs): swap in your model and
your step. What pagebench needs is the two methods `encode_queries(list[str])` and
`encode_pages(list[PIL.Image])`, each returning one array per item.

Each evaluation uses the same fixed sample of the task's queries (`max_queries`, drawn
with a fixed seed), so scores along the run compare with each other. Nothing is written
unless --output-dir is given: the model has no name on disk, so its page embeddings are
not cached either (pass `cache_key=` to `evaluate` if you want them cached).
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmark import evaluate

STRIPS = 4  # vectors per page
SIDE = 16  # each strip is read at SIDE x SIDE grey pixels


class TinyTwoTower(nn.Module):
    def __init__(self, dim: int = 32, buckets: int = 4096):
        super().__init__()
        self.buckets = buckets
        self.text_tower = nn.EmbeddingBag(buckets, dim, mode="mean")
        self.page_tower = nn.Sequential(nn.Linear(SIDE * SIDE, 64), nn.ReLU(), nn.Linear(64, dim))

    # --- what pagebench calls -------------------------------------------------------
    def encode_queries(self, texts: list[str]) -> list[torch.Tensor]:
        """One vector per query: [dim]."""
        return list(self.embed_texts(texts))

    def encode_pages(self, images) -> list[torch.Tensor]:
        """Several vectors per page: [STRIPS, dim]."""
        pixels = torch.stack([page_strips(image) for image in images])  # [pages, STRIPS, SIDE*SIDE]
        return list(nn.functional.normalize(self.page_tower(pixels), dim=-1))

    # --- what training uses ---------------------------------------------------------
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        ids, offsets = [], []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(trigram_ids(text, self.buckets))
        vectors = self.text_tower(torch.tensor(ids), torch.tensor(offsets))
        return nn.functional.normalize(vectors, dim=-1)

    def score(self, queries: torch.Tensor, pages: torch.Tensor) -> torch.Tensor:
        """[queries, pages] late-interaction scores: each query's best strip of each page."""
        page_vectors = nn.functional.normalize(self.page_tower(pages), dim=-1)  # [pages, STRIPS, dim]
        return torch.einsum("qd,psd->qps", queries, page_vectors).amax(dim=-1)


def trigram_ids(text: str, buckets: int) -> list[int]:
    padded = f"  {text.lower()} "
    return [zlib.crc32(padded[i : i + 3].encode()) % buckets for i in range(len(padded) - 2)]


def page_strips(image) -> torch.Tensor:
    """A page as STRIPS horizontal bands of SIDE x SIDE grey pixels in [0, 1]."""
    grey = np.asarray(image.convert("L").resize((SIDE, SIDE * STRIPS)), dtype=np.float32) / 255
    return torch.from_numpy(grey.reshape(STRIPS, SIDE * SIDE))


def training_step(model: TinyTwoTower, optimiser, generator: torch.Generator, batch: int = 8) -> float:
    """Stand-in for your step: an in-batch contrastive loss on random (text, page) pairs."""
    words = torch.randint(0, 26, (batch, 12), generator=generator)
    texts = ["".join(chr(97 + int(c)) for c in row) for row in words]
    pages = torch.rand(batch, STRIPS, SIDE * SIDE, generator=generator)
    logits = model.score(model.embed_texts(texts), pages) / 0.05
    loss = nn.functional.cross_entropy(logits, torch.arange(batch))
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def train(
    *,
    steps: int = 20,
    every: int = 10,
    task: str = "debian-faq-en",
    max_queries: int | None = 30,
    output_dir: Path | None = None,
    seed: int = 0,
) -> list[tuple[int, float]]:
    """Train for `steps`, evaluating every `every` steps; returns (step, main score) pairs."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = TinyTwoTower()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    scores = []
    for step in range(1, steps + 1):
        model.train()
        loss = training_step(model, optimiser, generator)
        if step % every == 0 or step == steps:
            model.eval()  # pagebench calls the encoder under torch.inference_mode(); no dropout
            evaluation = evaluate(
                model,
                task,
                max_queries=max_queries,  # the same sample every time: scores compare along the run
                latency_queries=0,  # no one-query-at-a-time latency probe inside a training loop
                show_progress=False,
                output_dir=output_dir,
                run_name=f"tiny-two-tower-step-{step}",
            )
            (name,) = evaluation  # the one task's name
            main_score = evaluation[name].main_score  # its results, typed: benchmark.results.schema
            scores.append((step, main_score.value))
            print(f"step {step}: loss {loss:.3f}, {name} {main_score.name} {main_score.value:.4f}")
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--task", default="debian-faq-en", help="task name, suite task or local folder")
    parser.add_argument("--max-queries", type=int, default=30, help="queries sampled (fixed seed)")
    parser.add_argument("--output-dir", type=Path, help="write each evaluation's results here")
    args = parser.parse_args(argv)
    train(
        steps=args.steps,
        every=args.every,
        task=args.task,
        max_queries=args.max_queries,
        output_dir=args.output_dir,
    )


if __name__ == "__main__":
    main()
