"""Files the user forgot and asked Tera to keep ignoring: a watched folder's sync skips them.

Forgetting a file that lives in a watched folder would otherwise be undone by the next sync (the
file is still there, so it is read again). The list is one JSON file in the data folder (names as
the store spells them, ``pipeline.source_key``), written atomically. Adding a file by name, on
purpose, takes it off the list (``Engine.upload``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

from tera_desktop.core.atomic import write_json_atomic
from tera_desktop.core.paths import Paths

FILE_NAME = "ignored-files.json"
IGNORED_REASON = "You forgot this file: it is ignored until you add it again by name."


class IgnoreList:
    def __init__(self, paths: Paths) -> None:
        self.path = paths.data / FILE_NAME
        self._lock = threading.Lock()

    def all(self) -> frozenset[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return frozenset()
        items = data.get("files", []) if isinstance(data, dict) else []
        return frozenset(str(s) for s in items if isinstance(s, str))

    def add(self, source: str) -> None:
        with self._lock:
            self._write(self.all() | {source})

    def remove(self, source: str) -> bool:
        with self._lock:
            current = self.all()
            if source not in current:
                return False
            self._write(current - {source})
            return True

    def _write(self, sources: frozenset[str]) -> None:
        if not sources:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        write_json_atomic(self.path, {"files": sorted(sources)})


def watched_folder_of(source: str, folders: tuple[str, ...] | list[str]) -> str | None:
    """The watched folder holding ``source``, or None."""
    path = Path(source)
    for folder in folders:
        with contextlib.suppress(ValueError):
            if path.is_relative_to(Path(folder)):
                return folder
    return None
