"""Fuzz the local-folder loader for a while: whatever a task folder holds, loading it
(and decoding its pages) either works or raises pagebench's own error, and never reads
a page outside the folder.

    timeout 15m nice -n 19 python benchmarks/fuzz_local_folder.py --minutes 12

Not part of CI (it runs for minutes). Hypothesis generates folders: corpus, queries and
qrels files built from hostile pieces (ids with whitespace, control characters, lone
surrogates, 5000-digit integers; image references with '../', absolute paths, symlinks
out, a symlink loop, 300-character names, PDF page numbers in other digits; JSON nested
deep; qrels without a header, with duplicates, odd scores; random task.toml), valid
pieces mixed in so that loading gets far. Every failure that is not a `PagebenchError`
is recorded, not raised, so one run finds all it can. Written to
benchmarks/results/fuzz_local_folder.json (the case count and each distinct finding).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from benchmark.core.errors import PagebenchError  # noqa: E402
from benchmark.tasks import load_task  # noqa: E402
from benchmark.tasks.catalog import local_folder_spec  # noqa: E402
from tests.conftest import page_image, png_bytes  # noqa: E402

OUTPUT = REPO / "benchmarks" / "results" / "fuzz_local_folder.json"
CASES_PER_ROUND = 200
VALID_CORPUS = [{"_id": "p1", "image": "pages/p1.png"}, {"_id": "p2", "image": "doc.pdf#page=2"}]

ids = st.one_of(
    st.sampled_from(["p1", "p2", "q1", "q2", "", " p1", "p 1", "p1\t", "p\x071", "x" * 300, "p\u00a01"]),
    st.text(max_size=8),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.none(),
    st.booleans(),
)
image_references = st.one_of(
    st.sampled_from(
        [
            "pages/p1.png",
            "pages/bad.png",
            "pages/empty.png",
            "nowhere.png",
            "doc.pdf#page=1",
            "doc.pdf#page=2",
            "doc.pdf#page=9",
            "doc.pdf#page=0",
            "doc.pdf#page=\u00b2",
            "doc.pdf#page=\u0661",
            "doc.pdf#page=1_0",
            "doc.pdf#page=" + "9" * 40,
            "doc.pdf",
            "broken.pdf#page=1",
            "pages/p1.png#page=1",
            "../outside/secret.png",
            "../../../../../../../../etc/passwd",
            "/etc/passwd",
            "link_out.png",
            "link_in.png",
            "loop.png",
            "dir_out/secret.png",
            "pages/" + "a" * 300 + ".png",
            "pages",
            ".",
            "",
            "pages/p1.png\x00x",
        ]
    ),
    st.text(max_size=12),
)
texts = st.one_of(st.text(max_size=20), st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2))
corpus_records = st.fixed_dictionaries({"_id": ids}, optional={"image": image_references, "text": texts})
query_records = st.fixed_dictionaries({"_id": ids}, optional={"text": texts})
raw_lines = st.sampled_from(
    [
        '{"_id": "q\\ud800", "text": "x"}',
        '{"_id": "p9", "image": "pages/p1.png", "text": "lone \\udfff"}',
        '{"_id": ' + "7" * 5000 + ', "image": "pages/p1.png"}',
        "[" * 100_000 + "]" * 100_000,
        '{"_id": "p1", "image": "pages/p1.png", "_id": "p2"}',
        "{not json",
        "[]",
        "null",
        '"text"',
    ]
)


def jsonl(valid: list[dict], records) -> st.SearchStrategy[bytes]:
    """Valid records with generated and raw hostile lines mixed in, or arbitrary bytes."""
    lines = st.lists(st.one_of(records.map(json.dumps), raw_lines), max_size=3)
    mixed = lines.flatmap(lambda more: st.permutations([json.dumps(r) for r in valid] + more))
    as_bytes = mixed.map(lambda rows: ("\n".join(rows) + "\n").encode("utf-8", "surrogatepass"))
    valid_bytes = ("\n".join(json.dumps(r) for r in valid) + "\n").encode()
    return st.one_of(st.just(valid_bytes), as_bytes, as_bytes, as_bytes, st.binary(max_size=80))


qrels_cells = st.one_of(
    st.sampled_from(["q1", "p1", "p2", "1", "0", "2", "-1", "1_0", "\u0661", "9" * 20, "score", " ", ""]),
    st.text(max_size=6),
)
qrels_files = st.one_of(
    st.lists(st.lists(qrels_cells, min_size=1, max_size=4).map("\t".join), max_size=6).map(
        lambda rows: ("\n".join(["q1\tp1\t1", *rows]) + "\n").encode("utf-8", "surrogatepass")
    ),
    st.sampled_from([b"query-id\tcorpus-id\tscore\nq1\tp1\t1\n", b"q1\tp1\t1\nq1\tp1\t0\n", b"q1\tp1\t0\n"]),
    st.sampled_from([b"q1\tp1\t1\n", b"q1\tp2\t2\n", b"query-id\tcorpus-id\tscore\nq1\tp1\t1\nq1\tp2\t0\n"]),
    st.binary(max_size=60),
)
task_tomls = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.sampled_from(
        [
            b'languages = ["fr"]\n',
            b'languages = [["en"]]\n',
            b"pdf_dpi = 1\n",
            b"pdf_dpi = 100000000\n",
            b'name = "x"\npdf_dpi = 0\n',
            b"format = 'beir'\n",
            b'path = "/etc"\n',
            b'split = "../../x"\n',
            b"[broken",
        ]
    ),
    st.text(max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


class Tally:
    def __init__(self) -> None:
        self.cases = self.loaded = self.refused = 0
        self.findings: dict[str, dict] = {}

    def finding(self, kind: str, detail: str, example: dict) -> None:
        entry = self.findings.setdefault(kind, {"count": 0, "detail": detail, "example": example})
        entry["count"] += 1


def build_folder(root: Path, corpus: bytes, queries: bytes, qrels: bytes, spec: bytes | None) -> Path:
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_bytes("secret"))
    folder = root / "docs"
    (folder / "pages").mkdir(parents=True)
    (folder / "qrels").mkdir()
    (folder / "pages" / "p1.png").write_bytes(png_bytes("a page"))
    (folder / "pages" / "bad.png").write_bytes(b"\x89PNG not really")
    (folder / "pages" / "empty.png").write_bytes(b"")
    page_image("one").save(folder / "doc.pdf", save_all=True, append_images=[page_image("two")])
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    os.symlink(outside / "secret.png", folder / "link_out.png")
    os.symlink(folder / "pages" / "p1.png", folder / "link_in.png")
    os.symlink(folder / "loop.png", folder / "loop.png")
    os.symlink(outside, folder / "dir_out")
    (folder / "corpus.jsonl").write_bytes(corpus)
    (folder / "queries.jsonl").write_bytes(queries)
    (folder / "qrels" / "test.tsv").write_bytes(qrels)
    if spec is not None:
        (folder / "task.toml").write_bytes(spec)
    return folder


def one_case(tally: Tally, corpus: bytes, queries: bytes, qrels: bytes, spec: bytes | None) -> None:
    tally.cases += 1
    example = {
        "corpus": corpus[:300].decode("utf-8", "replace"),
        "queries": queries[:300].decode("utf-8", "replace"),
        "qrels": qrels[:200].decode("utf-8", "replace"),
        "task.toml": None if spec is None else spec[:200].decode("utf-8", "replace"),
    }
    with tempfile.TemporaryDirectory() as root:
        folder = build_folder(Path(root), corpus, queries, qrels, spec)
        try:
            task = load_task(local_folder_spec(folder), need_page_text=True)
            inside = folder.resolve()
            for page in task.corpus.images._files:  # what would be read: all inside the folder
                if not page.path.resolve().is_relative_to(inside):
                    tally.finding("page outside the folder", str(page.path), example)
            images = task.corpus.images.load(list(range(len(task.corpus))), list(task.corpus.ids))
            assert len(images) == len(task.corpus)
            json.dumps([task.fingerprint, list(task.corpus.ids), task.qrels, task.notes])
            for text in [*task.corpus.ids, *(query.text for query in task.queries), *task.qrels]:
                text.encode("utf-8")  # what results files and TREC files will have to write
        except PagebenchError as error:
            tally.refused += 1
            if "\n" in str(error).strip():
                tally.finding("error message of several lines", str(error)[:300], example)
            return
        except Exception as error:  # noqa: BLE001 - a finding: recorded, then the fuzzing goes on
            where = traceback.extract_tb(error.__traceback__)[-1]
            kind = f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno}"
            tally.finding(kind, f"{error}"[:300], example)
            return
        tally.loaded += 1


def fuzz(minutes: float, output: Path) -> Tally:
    tally = Tally()
    started = time.monotonic()

    @settings(
        max_examples=CASES_PER_ROUND,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        corpus=jsonl(VALID_CORPUS, corpus_records),
        queries=jsonl([{"_id": "q1", "text": "a page"}], query_records),
        qrels=qrels_files,
        spec=task_tomls,
    )
    def round_of_cases(corpus, queries, qrels, spec):
        one_case(tally, corpus, queries, qrels, spec)

    while time.monotonic() - started < minutes * 60:
        round_of_cases()
        write(tally, started, output)
        print(f"{tally.cases} cases, {len(tally.findings)} findings", flush=True)
    return tally


def write(tally: Tally, started: float, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "cases": tally.cases,
        "loaded": tally.loaded,
        "refused_with_pagebench_error": tally.refused,
        "minutes": round((time.monotonic() - started) / 60, 2),
        "findings": tally.findings,
    }
    output.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    tally = fuzz(args.minutes, args.output)
    print(json.dumps({"cases": tally.cases, "findings": sorted(tally.findings)}))


if __name__ == "__main__":
    main()
