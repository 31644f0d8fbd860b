"""The official evaluators, each in a virtual environment of its own (they pin versions
pagebench cannot share), made once and reused: `official_python("vidore")`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
REQUIREMENTS = {"vidore": HERE / "vidore-benchmark-5.0.0.txt", "mteb": HERE / "mteb-2.26.24.txt"}
TORCH = "torch==2.13.0"  # what both sets were installed and run with


def venvs_root() -> Path:
    """$PAGEBENCH_OFFICIAL_VENVS, else .official-evaluators/ in the repository (ignored by git)."""
    configured = os.environ.get("PAGEBENCH_OFFICIAL_VENVS")
    return Path(configured) if configured else HERE.parent.parent / ".official-evaluators"


def official_python(tool: str) -> Path:
    """The Python of `tool`'s environment, installed from its pinned set if not there yet."""
    folder = venvs_root() / tool
    python = folder / "bin" / "python"
    ready = folder / ".pagebench-ready"  # written last: a half-made environment is remade
    if not ready.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, TORCH], check=True)
        subprocess.run([*pip, "-r", str(REQUIREMENTS[tool])], check=True)
        ready.write_text(REQUIREMENTS[tool].name + "\n", encoding="utf-8")
    return python
