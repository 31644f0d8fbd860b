"""The official tools, each in a virtual environment of its own (they pin versions
pagebench cannot share), made once and reused: `official_python("vidore")`.

An environment is remade when its pinned set changes (the marker holds the set's hash).
colpali-engine is installed without dependency resolution from a complete frozen set:
its torchvision dependency has no CPU wheel for torch 2.13 here, and the one function
the tests call (`score_multi_vector`) needs neither torchvision nor the models.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
REQUIREMENTS = {
    "vidore": HERE / "vidore-benchmark-5.0.0.txt",
    "mteb": HERE / "mteb-2.26.24.txt",
    "colpali-engine": HERE / "colpali-engine-0.3.18.txt",
}
WITHOUT_DEPENDENCIES = {"colpali-engine"}  # the pinned set is complete (torchvision left out)
TORCH = "torch==2.13.0"  # what every set was installed and run with


def venvs_root() -> Path:
    """$PAGEBENCH_OFFICIAL_VENVS, else .official-evaluators/ in the repository (ignored by git)."""
    configured = os.environ.get("PAGEBENCH_OFFICIAL_VENVS")
    return Path(configured) if configured else HERE.parent.parent / ".official-evaluators"


def official_python(tool: str) -> Path:
    """The Python of `tool`'s environment, installed from its pinned set if not there yet."""
    folder = venvs_root() / tool
    python = folder / "bin" / "python"
    ready = folder / ".pagebench-ready"  # written last: a half-made environment is remade
    pinned = REQUIREMENTS[tool]
    wanted = f"{pinned.name} sha256:{hashlib.sha256(pinned.read_bytes()).hexdigest()}\n"
    if not ready.exists() or ready.read_text(encoding="utf-8") != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, TORCH], check=True)
        no_deps = ["--no-deps"] if tool in WITHOUT_DEPENDENCIES else []
        subprocess.run([*pip, *no_deps, "-r", str(pinned)], check=True)
        ready.write_text(wanted, encoding="utf-8")
    return python
