"""Nothing a user saved may stop Tera from starting.

A saved file that cannot be loaded (a chat, the settings, the list of facts and files that wait
for a model) is **set aside**: renamed, untouched, to ``<name>.damaged-<time><suffix>`` beside
itself, so it is never read (or overwritten) again and is reported exactly once, as a
``Problem`` that the front end shows (status bar, ``tera.log``) and the CLI prints. The rest of
the start goes on with what could be read. No Qt here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("tera.saved")

DAMAGED_TAG = ".damaged-"


@dataclass(frozen=True)
class Problem:
    """A saved file that could not be loaded and was set aside."""

    what: str  # "a saved chat", "the settings", "the facts and files that wait"
    path: Path  # where it was
    kept_at: Path | None  # where it is now (None: it could not even be moved)
    reason: str

    @property
    def message(self) -> str:
        where = f"; it was kept as {self.kept_at}" if self.kept_at else f" ({self.path})"
        return f"Could not load {self.what}: {self.reason}{where}. Everything else was loaded."


def set_aside(path: Path, what: str, reason: str) -> Problem:
    """Move ``path`` out of the way, untouched, and describe what happened (also in the log)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.stem}{DAMAGED_TAG}{stamp}{path.suffix}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}{DAMAGED_TAG}{stamp}-{n}{path.suffix}")
    try:
        os.replace(path, target)
        kept: Path | None = target
    except OSError as exc:
        log.error("cannot set aside %s: %s", path, exc)
        kept = None
    problem = Problem(what, path, kept, reason)
    log.error("%s", problem.message)
    return problem


def is_set_aside(path: Path) -> bool:
    return DAMAGED_TAG in path.name
