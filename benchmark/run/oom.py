"""Running out of memory, turned into advice: one line that says what to change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from benchmark.core.device import is_cuda
from benchmark.core.errors import PagebenchError


@contextmanager
def explain_out_of_memory(what: str, batch_size: int, device: str) -> Iterator[None]:
    """An out-of-memory error inside the block becomes a PagebenchError naming a smaller batch size."""
    try:
        yield
    except Exception as error:
        if not _is_out_of_memory(error):
            raise
        smaller = max(1, batch_size // 2)
        raise PagebenchError(
            f"out of memory on {device} while {what} at batch size {batch_size}: "
            f"try a smaller --batch-size (e.g. --batch-size {smaller})"
            + (" or --scoring-dtype bfloat16" if is_cuda(device) else "")
        ) from None


def _is_out_of_memory(error: Exception) -> bool:
    # torch.OutOfMemoryError (CUDA, MPS) and MemoryError (host RAM); older torch raised a
    # plain RuntimeError whose message says "out of memory".
    return (
        isinstance(error, MemoryError)
        or type(error).__name__ == "OutOfMemoryError"
        or (isinstance(error, RuntimeError) and "out of memory" in str(error).lower())
    )
