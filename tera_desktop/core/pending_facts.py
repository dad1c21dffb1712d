"""Facts typed before the embedding model was ready: kept in order, on disk, until stored.

A fact cannot be stored without its embedding, and the embedding model may still be downloading
(or missing). Nothing typed is dropped: the fact waits here, in ``paths.pending_facts_file``, so
quitting Tera before the model is ready does not lose it either, and is stored (in the order it was
typed) once the model is ready. The file is rewritten whole (temporary file, fsync, rename) after
each change and deleted when nothing waits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("tera.pending")

_VERSION = 1


class PendingFacts:
    """An ordered queue of fact texts, mirrored in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._items: list[dict[str, str]] = self._load()

    # ---- reading ---------------------------------------------------------------------------------
    def texts(self) -> list[str]:
        """The waiting facts, oldest first."""
        return [item["text"] for item in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    # ---- changing --------------------------------------------------------------------------------
    def add(self, text: str) -> None:
        """Queue ``text``. It is kept in memory even if the file cannot be written (OSError is
        raised after, so the caller can say so)."""
        typed_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._items.append({"text": text, "typed_at": typed_at})
        self._save()

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
        """Drop every waiting fact (Forget everything) and the file that held them."""
        self._items = []
        self._save()

    # ---- the file --------------------------------------------------------------------------------
    def _load(self) -> list[dict[str, str]]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("cannot read %s: %s", self.path, exc)
            return []
        try:
            data: Any = json.loads(raw)
            items = data.get("facts", []) if isinstance(data, dict) else []
        except ValueError as exc:
            log.warning("%s is not valid JSON (%s); its facts are skipped", self.path, exc)
            return []
        return [
            {"text": str(i["text"]), "typed_at": str(i.get("typed_at", ""))}
            for i in items
            if isinstance(i, dict) and isinstance(i.get("text"), str) and i["text"].strip()
        ]

    def _save(self) -> None:
        if not self._items:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        data = json.dumps({"version": _VERSION, "facts": self._items}, ensure_ascii=False)
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
