"""Filling the Hugging Face caches for a later run without network (`pagebench download`).

GPU nodes are often cut off from the internet. On a machine that reaches the hub,
`download` reads each task's hub splits through the very function a run uses
(`benchmark.tasks.hub.load_split`, at the revisions the specs pin), so the datasets
cache holds exactly what the run will ask for; checkpoints (and the base model a PEFT
adapter names) go to the hub cache with `huggingface_hub.snapshot_download`. With the
same HF_HOME and HF_HUB_OFFLINE=1, the run then reads only those caches.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.hub_access import hub_endpoint, hub_offline, hub_unreachable_reason
from benchmark.retrievers import registry
from benchmark.tasks.hub import cached_commit, describe_split, hub_splits, load_split
from benchmark.tasks.spec import TaskSpec

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
# Weight formats transformers does not load here (Flax, TensorFlow, ONNX, GGUF): not fetched.
IGNORED_CHECKPOINT_FILES = ("*.msgpack", "*.h5", "*.ot", "*.onnx", "onnx/*", "*.tflite", "*.gguf")


@dataclass(frozen=True)
class Fetched:
    """One thing now in the cache: what, at which commit, and how much of it."""

    what: str
    commit: str | None
    detail: str


def check_hub_for_download() -> None:
    """Downloading needs the hub: refuse offline mode and an unreachable hub before any work."""
    if hub_offline():
        raise PagebenchError(
            "pagebench download fills the cache from the hub, but offline mode is on "
            "(HF_HUB_OFFLINE or HF_DATASETS_OFFLINE); unset it on a machine with internet access"
        )
    reason = hub_unreachable_reason()
    if reason is not None:
        raise PagebenchError(
            f"pagebench download: the Hugging Face hub ({hub_endpoint()}) cannot be reached ({reason}); "
            "run it on a machine with internet access, with the HF_HOME the offline run will use"
        )


def download_task(spec: TaskSpec, *, page_text: bool = True) -> list[Fetched]:
    """Each hub split of the task, read as a run reads it (a local task has none)."""
    fetched = []
    for config, text_dataset in hub_splits(spec, page_text=page_text):
        rows = load_split(spec, config, text_dataset=text_dataset)
        fetched.append(
            Fetched(
                f"{spec.name}: {describe_split(spec, config, text_dataset)}",
                cached_commit(rows),
                f"{rows.num_rows} rows",
            )
        )
    return fetched


def download_tasks(
    specs: Sequence[TaskSpec], *, page_text: bool = True
) -> Iterator[tuple[TaskSpec, list[Fetched] | PagebenchError]]:
    """Each task's fetched splits, or the error that stopped it (the others still run)."""
    for spec in specs:
        try:
            yield spec, download_task(spec, page_text=page_text)
        except PagebenchError as error:
            yield spec, error


def checkpoint_to_download(retriever: str | None, checkpoint: str | None) -> str | None:
    """The hub id to fetch: --checkpoint, else the retriever's default; None for a local
    folder, a retriever without weights (bm25-ocr) or dense-ocr's bundled model."""
    if checkpoint is None and retriever is not None:
        checkpoint = _default_checkpoint(retriever)
    if not checkpoint or Path(checkpoint).expanduser().is_dir():
        return None
    from benchmark.retrievers.dense_ocr import BUNDLED_MODEL

    if retriever == "dense-ocr" and checkpoint == BUNDLED_MODEL:
        return None  # shipped with pagebench
    if checkpoint.count("/") != 1 or checkpoint.startswith((".", "/", "~")):
        raise PagebenchError(f"checkpoint {checkpoint!r} is neither a folder nor a hub id like 'org/name'")
    return checkpoint


def download_checkpoint(repo_id: str, revision: str | None) -> list[Fetched]:
    """The checkpoint's files and, for a PEFT adapter, its base model's, in the hub cache."""
    fetched = [_snapshot(repo_id, revision)]
    adapter_config = Path(fetched[0].detail) / ADAPTER_CONFIG
    if adapter_config.is_file():
        config = json.loads(adapter_config.read_text(encoding="utf-8"))
        base = config.get("base_model_name_or_path")
        if base and not Path(base).expanduser().is_dir():
            fetched.append(_snapshot(base, config.get("revision")))
    return fetched


def _snapshot(repo_id: str, revision: str | None) -> Fetched:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        folder = snapshot_download(repo_id, revision=revision, ignore_patterns=list(IGNORED_CHECKPOINT_FILES))
    except (HfHubHTTPError, OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PagebenchError(f"cannot download checkpoint {repo_id!r}: {first_line}") from None
    log.info("checkpoint %s in %s", repo_id, folder)
    return Fetched(f"checkpoint {repo_id} @ {revision or 'main'}", Path(folder).name, folder)


def _default_checkpoint(retriever: str) -> str | None:
    entries = registry.available()
    if retriever not in entries:
        from benchmark.core.errors import unknown_name

        raise unknown_name("retriever", retriever, list(entries), "pagebench retrievers")
    module_name, _, attribute = entries[retriever].target.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        where = entries[retriever].target
        raise PagebenchError(f"retriever {retriever!r} cannot be loaded from {where}: {error}") from None
    return getattr(target, "default_checkpoint", None) or None
