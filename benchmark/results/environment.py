"""What a result was measured with: package versions, Python, machine, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import benchmark
from benchmark.core.device import is_cuda
from benchmark.results.schema import Environment, GitState

# Packages whose version can change a number; absent ones are simply left out.
_PACKAGES = (
    "pagebench",
    "datasets",
    "pytrec-eval-terrier",
    "bm25s",
    "PyStemmer",
    "pytesseract",
    "numpy",
    "pillow",
    "pypdfium2",
    "torch",
    "transformers",
    "sentence-transformers",
    "peft",
)


def environment(device: str = "cpu") -> Environment:
    git = _git_state()
    return Environment(
        pagebench=benchmark.__version__,
        python=platform.python_version(),
        platform=platform.platform(),
        cpu_count=os.cpu_count(),
        device=device,
        device_name=device_name(device),
        packages=_package_versions(),
        pagebench_source="git checkout" if git is not None else "installed package",
        git=git,
    )


def device_name(device: str) -> str | None:
    """The accelerator's model ("NVIDIA H100 80GB HBM3"), so reports can say what ran."""
    torch = sys.modules.get("torch")  # loaded whenever a model ran on an accelerator
    if torch is None or not is_cuda(device):
        return None
    try:
        return torch.cuda.get_device_name(device)
    except (RuntimeError, AssertionError):
        return None


@lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue
        if installed:  # metadata without a version (a stray, half-written egg-info) says nothing
            found[name] = installed
    return found


_SOURCES = ("benchmark", "tasks", "pyproject.toml", "constraints.txt")


@lru_cache(maxsize=1)
def _git_state() -> GitState | None:
    """Commit of the pagebench source, when it runs from a git checkout; None for an installed
    package (a wheel, `pip install .`), whose version `environment` records instead."""
    source = Path(benchmark.__file__).resolve().parent.parent
    top_and_sha = _git(source, "rev-parse", "--show-toplevel", "HEAD")
    # An installed wheel may sit inside somebody else's repository: only trust git
    # when the checkout is pagebench's own source tree.
    if top_and_sha is None or Path(top_and_sha.splitlines()[0]).resolve() != source:
        return None
    # Dirty means the code or task specs that produce the numbers differ from the commit;
    # results files being rewritten (results/, leaderboard.md) do not count.
    changes = _git(source, "status", "--porcelain", "--untracked-files=no", "--", *_SOURCES)
    return GitState(sha=top_and_sha.splitlines()[1], dirty=bool(changes and changes.strip()))


def _git(folder: Path, *args: str) -> str | None:
    """stdout of a git command, or None if git is missing, fails or hangs."""
    try:
        completed = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout if completed.returncode == 0 else None
