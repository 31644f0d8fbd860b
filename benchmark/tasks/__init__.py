"""Tasks: validated specs (spec.py), where they are found (catalog.py), one loader per
format (vidore_qa.py, beir.py, local_folder.py) over the data sources (hub.py,
images.py, synthetic.py), and the checks and fingerprint every loaded task goes through
(assemble.py, drops.py -> data.TaskData). `load_task` is the only entry point the runner needs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from benchmark.tasks.data import TaskData
from benchmark.tasks.hub import DEFAULT_CACHE, datasets_cache_under
from benchmark.tasks.spec import TaskSpec


def load_task(
    spec: TaskSpec,
    *,
    need_page_text: bool = False,
    strict: bool = False,
    allow_outside_pages: bool = False,
    cache_dir: Path | None | Literal["default"] = DEFAULT_CACHE,
) -> TaskData:
    """Load and check a task. `need_page_text` also loads page OCR text when the task
    ships it (text retrievers); image retrievers skip that download. Faulty entries of a
    hub dataset are left out and recorded (`benchmark.tasks.drops`) unless `strict`;
    local data is always checked strictly. A local folder's pages must lie inside it
    unless `allow_outside_pages`. `cache_dir` is the run's --cache-dir (None: --no-cache),
    where local data read through `datasets` keeps its Arrow files."""
    with datasets_cache_under(cache_dir):
        if spec.format == "local":
            from benchmark.tasks.local_folder import load_local_folder

            return load_local_folder(
                spec, need_page_text=need_page_text, strict=strict, allow_outside_pages=allow_outside_pages
            )
        if spec.format == "vidore-qa":
            from benchmark.tasks.vidore_qa import load_vidore_qa as loader
        else:
            from benchmark.tasks.beir import load_beir as loader
        return loader(spec, need_page_text=need_page_text, strict=strict)
