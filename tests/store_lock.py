"""Another process holding a memory open, as the running window does (its store's folder lock),
for tests of what a second Tera command or server says then."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLD = (
    "import sys; from tera_desktop.core.store.scrub import _lock_folder; "
    "from pathlib import Path; _lock_folder(Path(sys.argv[1])); "
    "print('locked', flush=True); sys.stdin.read()"
)


@contextmanager
def memory_held_open(store: Path, wait_s: float = 120) -> Iterator[None]:
    """While inside, a child process holds ``store``'s lock (released when the block ends)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(wait_s)
