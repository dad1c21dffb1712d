"""Watched folders: notice files added, changed or deleted under folders the user keeps in sync.

``FolderWatcher`` wraps watchdog's observer (inotify, FSEvents, ReadDirectoryChangesW; polling
where none works). It calls ``on_change(folder)`` from its own thread, at most once per
``debounce_s`` per folder after the changes settle, ignoring hidden paths and Tera's own folders.
The caller then re-syncs that folder by content hash (``Engine.upload([folder], sync=True)``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("tera.watch")


class FolderWatcher:
    def __init__(
        self,
        on_change: Callable[[str], None],
        *,
        ignore: Sequence[Path] = (),
        debounce_s: float = 1.5,
        polling: bool = False,
    ) -> None:
        self._on_change = on_change
        self._ignore = [Path(p).resolve() for p in ignore]
        self._debounce_s = debounce_s
        self._polling = polling
        self._lock = threading.Lock()
        self._observer: Any = None
        self._watches: dict[str, Any] = {}
        self._timers: dict[str, threading.Timer] = {}

    @property
    def folders(self) -> list[str]:
        with self._lock:
            return sorted(self._watches)

    def start(self) -> None:
        if self._observer is not None:
            return
        if self._polling:
            from watchdog.observers.polling import PollingObserver

            self._observer = PollingObserver()
        else:
            from watchdog.observers import Observer

            self._observer = Observer()
        self._observer.daemon = True
        self._observer.start()

    def set_folders(self, folders: Iterable[str]) -> None:
        """Watch exactly these folders (missing ones are skipped with a log line)."""
        self.start()
        wanted = {str(Path(f).expanduser().resolve()) for f in folders}
        with self._lock:
            for folder in set(self._watches) - wanted:
                self._observer.unschedule(self._watches.pop(folder))
            for folder in sorted(wanted - set(self._watches)):
                if not Path(folder).is_dir():
                    log.warning("watched folder %s is missing", folder)
                    continue
                handler = _Handler(self, folder)
                self._watches[folder] = self._observer.schedule(handler, folder, recursive=True)

    def _event(self, folder: str, paths: Sequence[str]) -> None:
        relevant = [p for p in paths if p and self._relevant(Path(p), Path(folder))]
        if not relevant:
            return
        with self._lock:
            old = self._timers.pop(folder, None)
            if old is not None:
                old.cancel()
            timer = threading.Timer(self._debounce_s, self._fire, args=(folder,))
            timer.daemon = True
            self._timers[folder] = timer
            timer.start()

    def _relevant(self, path: Path, folder: Path) -> bool:
        try:
            rel = path.resolve().relative_to(folder)
        except ValueError:
            return False
        if any(part.startswith(".") for part in rel.parts):
            return False
        resolved = path.resolve()
        return not any(resolved.is_relative_to(i) for i in self._ignore)

    def _fire(self, folder: str) -> None:
        with self._lock:
            self._timers.pop(folder, None)
            if folder not in self._watches:
                return
        try:
            self._on_change(folder)
        except Exception:  # the callback's own errors must not kill the observer
            log.exception("watched-folder callback failed for %s", folder)

    def stop(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._watches.clear()
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)


class _Handler:
    """A watchdog event handler (duck-typed: watchdog calls ``dispatch``)."""

    def __init__(self, watcher: FolderWatcher, folder: str) -> None:
        self._watcher = watcher
        self._folder = folder

    def dispatch(self, event: Any) -> None:
        kind = getattr(event, "event_type", "")
        if kind in ("opened", "closed_no_write"):  # reads (ours included) change nothing
            return
        if kind == "modified" and getattr(event, "is_directory", False):
            return  # a folder's own timestamp: the file events that caused it are enough
        paths = [str(getattr(event, "src_path", "")), str(getattr(event, "dest_path", "") or "")]
        self._watcher._event(self._folder, paths)
