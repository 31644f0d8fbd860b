"""Whether the Hugging Face hub can be used, found out once per process and fast.

Unreachable, `datasets` and `huggingface_hub` retry each file with back-off (about 23 s
and a dozen warning lines per dataset), so a suite of ten hub tasks took four minutes
to fail. One probe with a short timeout answers for the whole process instead, and
every hub task that cannot be served fails at once with `offline_advice`.
"""

from __future__ import annotations

import logging
import threading
from functools import cache

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0  # a connect that takes longer is as good as none: the suite must fail in <= 5 s
PROBE_WAIT_S = 4.0  # the probe in all, name lookup included
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def hub_offline() -> bool:
    """Offline mode as the libraries see it (HF_HUB_OFFLINE=1, or HF_DATASETS_OFFLINE for
    `datasets`): they then read only their caches."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    try:
        import datasets.config
    except ImportError:  # pragma: no cover - datasets is a dependency; checkpoints need only the hub
        return False
    return bool(datasets.config.HF_HUB_OFFLINE)


def hub_endpoint() -> str:
    """The hub the libraries talk to (HF_ENDPOINT, else https://huggingface.co)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


@cache
def hub_unreachable_reason() -> str | None:
    """Why the hub cannot be reached (one probe per process, cached), or None if it answers.

    Made through huggingface_hub's own HTTP session, so its proxy and certificate settings
    apply. Any answer below 500 counts as reachable (a 401 or 404 is the hub answering).
    The probe runs in a thread given PROBE_WAIT_S in all, since the request's own timeout
    does not bound a name lookup that hangs.
    """
    endpoint = hub_endpoint()
    outcome: list[str | None] = []
    probe = threading.Thread(target=lambda: outcome.append(_probe(endpoint)), daemon=True)
    probe.start()
    probe.join(PROBE_WAIT_S)
    reason = outcome[0] if outcome else f"no answer within {PROBE_WAIT_S:g} s"
    log.debug("hub probe of %s: %s", endpoint, reason or "reachable")
    return reason


def _probe(endpoint: str) -> str | None:
    from huggingface_hub.utils import get_session

    try:
        response = get_session().head(endpoint, timeout=PROBE_TIMEOUT_S, follow_redirects=False)
    except Exception as error:  # noqa: BLE001 - any failure to get an answer is the answer
        return f"{type(error).__name__}: {_first_line(error)}"
    return f"it answered HTTP {response.status_code}" if response.status_code >= 500 else None


def offline_advice(download_command: str) -> str:
    """How to work without the hub, naming the `pagebench download` command that fills the cache."""
    return (
        f"to work offline, fill the cache where the hub is reachable (`{download_command}`, same "
        "HF_HOME), then run with HF_HUB_OFFLINE=1; or evaluate a local folder (--task ./my-docs)"
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"
