"""Loading checkpoints with transformers, with clear errors.

A checkpoint is a hub id (with an optional --revision) or a local folder, e.g. the
output of a user's own training run. Before any weights load, its config is read
and its model type checked, so pointing a retriever at the wrong model says so in
one line instead of failing deep inside transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.hub_access import hub_endpoint, hub_offline, hub_unreachable_reason, offline_advice


@dataclass(frozen=True)
class Checkpoint:
    """Where to load from: a hub id or a local folder, and the revision asked for."""

    source: str
    revision: str | None
    local: bool

    @property
    def kwargs(self) -> dict:
        return {"local_files_only": True} if self.local else {"revision": self.revision}


def locate_checkpoint(checkpoint: str, revision: str | None, retriever: str) -> Checkpoint:
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        if revision:
            raise PagebenchError(
                f"{retriever}: --revision applies to hub checkpoints, not the folder {checkpoint}"
            )
        return Checkpoint(str(path.resolve()), None, local=True)
    looks_like_a_path = checkpoint.startswith((".", "/", "~")) or checkpoint.count("/") != 1
    if path.exists() or looks_like_a_path:
        raise PagebenchError(
            f"{retriever}: checkpoint {checkpoint!r} is not a folder (nor a hub id like 'org/name')"
        )
    _hub_answers(checkpoint, retriever)
    return Checkpoint(checkpoint, revision, local=False)


def _hub_answers(checkpoint: str, retriever: str) -> None:
    """Fail at once when the hub cannot be reached (one probe per process), instead of
    after transformers' retries for each file (about 28 s). In offline mode the libraries
    read their cache and say themselves what is missing."""
    if hub_offline():
        return
    reason = hub_unreachable_reason()
    if reason:
        download = f"pagebench download --retriever {retriever} --checkpoint {checkpoint}"
        raise PagebenchError(
            f"{retriever}: checkpoint {checkpoint!r}: the Hugging Face hub ({hub_endpoint()}) cannot be "
            f"reached ({reason}); {offline_advice(download)}"
        )


# colpali-engine families whose backbone transformers has, but no *ForRetrieval class
FAMILIES_WITHOUT_RETRIEVAL_CLASS = {
    "idefics3": "ColSmol / ColIdefics3",
    "smolvlm": "ColSmol",
    "idefics2": "ColIdefics2",
    "florence2": "ColFlor",
    "gemma3": "ColGemma3",
}


def read_config(checkpoint: Checkpoint, expected_types: set[str], retriever: str, hint: str = ""):
    """The checkpoint's config, after checking it is a model this retriever can run."""
    from transformers import AutoConfig

    quiet_transformers()
    try:
        config = AutoConfig.from_pretrained(checkpoint.source, **checkpoint.kwargs)
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PagebenchError(
            f"{retriever}: cannot read the config of {checkpoint.source!r}: {first_line}"
        ) from None
    if config.model_type in FAMILIES_WITHOUT_RETRIEVAL_CLASS and config.model_type not in expected_types:
        import transformers

        raise PagebenchError(
            f"{retriever}: {checkpoint.source!r} is a {FAMILIES_WITHOUT_RETRIEVAL_CLASS[config.model_type]} "
            f"checkpoint ({config.model_type!r} backbone): transformers {transformers.__version__} has no "
            "retrieval class for it (it has ColPali, ColQwen2 and ColModernVBert), so pagebench cannot "
            "run it; that needs such a class in transformers, or a retriever plugin that loads it "
            "with colpali-engine"
        )
    if config.model_type not in expected_types:
        raise PagebenchError(
            f"{retriever}: {checkpoint.source!r} holds a {config.model_type!r} model, "
            f"not {' or '.join(sorted(expected_types))}{hint}"
        )
    return config


def load_pretrained(model_class, checkpoint: Checkpoint, retriever: str, **kwargs):
    """`model_class.from_pretrained` on the checkpoint; damaged weights (a truncated or
    corrupt safetensors file) are pagebench's error naming the file, not a traceback."""
    from safetensors import SafetensorError

    try:
        return model_class.from_pretrained(checkpoint.source, **kwargs, **checkpoint.kwargs)
    except (SafetensorError, OSError, EOFError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        damaged = damaged_weights_file(Path(checkpoint.source)) if checkpoint.local else None
        where = damaged or repr(checkpoint.source)
        raise PagebenchError(f"{retriever}: cannot load the weights in {where}: {first_line}") from None


def damaged_weights_file(folder: Path) -> str | None:
    """The first safetensors file of a checkpoint folder that does not open, if any."""
    from safetensors import SafetensorError, safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as weights:
                weights.keys()
        except (SafetensorError, OSError):
            return str(path)
    return None


def quiet_transformers() -> None:
    """transformers warns that torchvision is missing and PIL processors are used:
    that is pagebench's choice (no torchvision dependency), so keep it out of reports."""
    from transformers.utils import logging

    logging.set_verbosity_error()


# Files a colpali-engine checkpoint needs: configs, weights, tokenizer and processor
# files. A training run's optimizer and RNG states (optimizer.pt, rng_state.pth) are
# large and never read.
SNAPSHOT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]


def hub_file(checkpoint: Checkpoint, filename: str, retriever: str) -> Path | None:
    """One file of a hub checkpoint (cached), or None if the repository has no such file."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(checkpoint.source, filename, revision=checkpoint.revision))
    except EntryNotFoundError:
        return None
    except OSError as error:
        raise PagebenchError(
            f"{retriever}: cannot fetch {filename} of {checkpoint.source!r}: {error}"
        ) from None


def snapshot_folder(checkpoint: Checkpoint, retriever: str) -> tuple[Path, str | None]:
    """A local folder holding the checkpoint, and the commit it came from (None for a folder)."""
    if checkpoint.local:
        return Path(checkpoint.source), None
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            snapshot_download(
                checkpoint.source, revision=checkpoint.revision, allow_patterns=SNAPSHOT_PATTERNS
            )
        )
    except OSError as error:
        raise PagebenchError(
            f"{retriever}: cannot fetch {checkpoint.source!r} from the hub: {error}"
        ) from None
    return folder, folder.name  # the hub cache names each snapshot folder by its commit


def download_checkpoint(checkpoint: str, revision: str | None, retriever: str) -> list[Path]:
    """Fetch a hub checkpoint into the hub cache for a later offline run: its files and,
    for a PEFT adapter, its base model's (a colpali-engine adapter is useless without
    it). Returns the snapshot folders, the checkpoint's first; a local folder is
    returned as it is, with its adapter's base fetched if that is a hub id."""
    import json

    located = locate_checkpoint(checkpoint, revision, retriever)
    folder, _ = snapshot_folder(located, retriever)
    folders = [folder]
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():
        config = json.loads(adapter_config.read_text(encoding="utf-8"))
        base = config.get("base_model_name_or_path")
        if base:
            folders += download_checkpoint(base, config.get("revision"), retriever)
    return folders
