"""Giving memory back to the system after big work (loading a model, an ingestion).

glibc keeps the heap pages that Python, ONNX Runtime and llama.cpp free, in the arena of the
thread that freed them, and returns only the top of each heap on its own: after loading the
embedding model on a worker thread the app held ~180 MB of freed loading buffers until it exited.
``release_memory()`` collects Python's garbage and asks glibc to return every whole free page of
every arena (``malloc_trim(0)``). It costs milliseconds, so it runs after work, not inside it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
from typing import Any

_libc: Any = None
_lock = threading.Lock()
trims = 0  # how many times the heap was trimmed (tests check the mechanism, not RSS numbers)


def _trim_function() -> Any:
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                _libc = ctypes.CDLL("libc.so.6").malloc_trim
    return _libc or None


def release_memory(*, collect: bool = True) -> bool:
    """Collect garbage (unless ``collect`` is False, or off the main thread) and return freed
    heap pages to the system.
    True when the heap was trimmed (glibc on Linux); elsewhere only the garbage is collected."""
    global trims
    # Only the main thread collects cycles: the desktop app runs this on worker threads, and a
    # cycle holding a Qt object must die on the GUI thread (ui/gui_gc.py collects there).
    if collect and threading.current_thread() is threading.main_thread():
        gc.collect()
    trim = _trim_function()
    if trim is None:
        return False
    with _lock:
        trim(0)
        trims += 1
    return True
