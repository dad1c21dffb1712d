"""Facts typed, and files added, before the embedding model was ready: kept in order, on disk,
until stored.

A fact cannot be stored without its embedding, and the embedding model may still be downloading
(or missing). Nothing typed is dropped: the fact waits here, in ``paths.waiting_file``, so
quitting Tera before the model is ready does not lose it either, and is stored (in the order it was
typed) once the model is ready. Files and folders dropped on the window meanwhile wait the same way
(their paths, not their content) and are read once the model is ready. The file is rewritten whole
(temporary file, fsync, rename) after each change and deleted when nothing waits.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tera_desktop.core.atomic import write_text_atomic
from tera_desktop.core.saved_state import Problem, set_aside

log = logging.getLogger("tera.pending")

_VERSION = 1
WHAT = "the facts and files that wait for the embedding model"


class WaitingList:
    """An ordered queue of fact texts, and one of file paths, mirrored in a small JSON file.
    ``len()`` and truth count the facts."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._items: list[dict[str, str]] = []
        self._files: list[dict[str, str]] = []
        self.problem: Problem | None = None  # the file could not be read: set aside, said once
        self._load()

    # ---- reading ---------------------------------------------------------------------------------
    def texts(self) -> list[str]:
        """The waiting facts, oldest first."""
        return [item["text"] for item in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def files(self) -> list[str]:
        """The paths of the files and folders waiting to be read, oldest first."""
        return [item["path"] for item in self._files]

    # ---- changing --------------------------------------------------------------------------------
    def add(self, text: str) -> None:
        """Queue ``text``. It is kept in memory even if the file cannot be written (OSError is
        raised after, so the caller can say so)."""
        typed_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._items.append({"text": text, "typed_at": typed_at})
        self._save()

    def add_files(self, paths: list[str]) -> None:
        """Queue files and folders to read once the model is ready (a path already waiting is
        not added twice). Kept in memory even if the file cannot be written (OSError is raised
        after)."""
        added_at = datetime.now(UTC).isoformat(timespec="seconds")
        have = set(self.files())
        for path in paths:
            if path not in have:
                have.add(path)
                self._files.append({"path": path, "added_at": added_at})
        self._save()

    def remove_files(self, paths: list[str]) -> None:
        """Take these paths off the queue (they have been read)."""
        gone = set(paths)
        self._files = [item for item in self._files if item["path"] not in gone]
        try:
            self._save()
        except OSError as exc:  # read already; a stale file only means they are read again
            log.warning("cannot update %s: %s", self.path, exc)

    def remove_first(self, text: str) -> None:
        """Take the oldest waiting ``text`` off the queue (it has been stored)."""
        for i, item in enumerate(self._items):
            if item["text"] == text:
                del self._items[i]
                break
        try:
            self._save()
        except OSError as exc:  # it is stored; a stale file only means a duplicate is skipped
            log.warning("cannot update %s: %s", self.path, exc)

    def clear(self) -> None:
        """Drop every waiting fact and file (Forget everything) and the file that held them."""
        self._items = []
        self._files = []
        self._save()

    # ---- the file --------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read %s: %s", self.path, exc)
            return
        try:
            data: Any = json.loads(raw)
        except ValueError as exc:  # kept aside untouched: the next save must not overwrite it
            self.problem = set_aside(self.path, WHAT, f"it is not valid JSON ({exc})")
            return
        if not isinstance(data, dict):
            self.problem = set_aside(self.path, WHAT, "it does not hold a JSON object")
            return
        facts, files = data.get("facts", []), data.get("files", [])
        self._items = [
            {"text": str(i["text"]), "typed_at": str(i.get("typed_at", ""))}
            for i in (facts if isinstance(facts, list) else [])
            if isinstance(i, dict) and isinstance(i.get("text"), str) and i["text"].strip()
        ]
        self._files = [
            {"path": str(i["path"]), "added_at": str(i.get("added_at", ""))}
            for i in (files if isinstance(files, list) else [])
            if isinstance(i, dict) and isinstance(i.get("path"), str) and i["path"].strip()
        ]

    def _save(self) -> None:
        if not self._items and not self._files:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = json.dumps(
            {"version": _VERSION, "facts": self._items, "files": self._files},
            ensure_ascii=True,  # escaped: a file name that is not valid UTF-8 round-trips too
        )
        write_text_atomic(self.path, data)
