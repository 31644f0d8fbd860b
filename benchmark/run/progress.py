"""Progress bars on stderr (tqdm), shown only on a terminal so logs stay readable."""

from __future__ import annotations

import sys


def progress_bar(*, total: int, unit: str, desc: str, enabled: bool = True):
    from tqdm.auto import tqdm

    # disable=None lets tqdm switch itself off when stderr is not a terminal.
    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        leave=False,
        file=sys.stderr,
        disable=None if enabled else True,
    )
