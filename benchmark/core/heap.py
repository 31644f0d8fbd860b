"""Handing freed heap memory back to the operating system."""

from __future__ import annotations

import ctypes


def release_free_memory() -> None:
    """Return freed heap pages to the OS (glibc only; elsewhere nothing happens).

    glibc keeps freed chunks of the heap mapped for reuse, so memory freed while a
    large buffer is being filled still counts against the process until trimmed.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
