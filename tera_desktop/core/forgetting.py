"""Forget means gone, even when Tera is killed in the middle of forgetting.

A forget touches three things: the memory's points, the memory's files on disk (the engine only
marks points deleted until a scrub rewrites its files) and the saved chats that quoted what was
forgotten. Before any of them is changed, an **intent** naming what is to be forgotten is written
(atomically, fsync'ed) to ``paths.forget_intents``; it is removed only once all three are done.
A start (the app, any CLI command that opens the memory) finishes every intent it finds: delete
again (a no-op for what is gone), scrub, redact. So a process killed at any step leaves nothing
forgotten on disk after the next start, and ``tera forget ID`` of an id already gone from search
but still pending finishes the job instead of saying it does not exist.

The intent holds the forgotten facts' text (redaction needs it to find quotes); it lives only as
long as the forget, and is itself removed with the rest. No Qt here.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tera_desktop.core.conversations import write_json_atomic
from tera_desktop.core.errors import DiskFullError
from tera_desktop.core.paths import Paths
from tera_desktop.core.redact import Forgotten
from tera_desktop.core.store.scrub import DISK_READ_ONLY, LOW_SPACE_BYTES, _disk_full_message

log = logging.getLogger("tera.forget")

FOLDER_NAME = "forgetting"
CRASH_ENV = "TERA_TEST_CRASH_AT"  # fault injection for tests: kill -9 at this step


def crash_point(step: str) -> None:
    """Tests kill the process here (``TERA_TEST_CRASH_AT=step``), as a power cut would."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Intent:
    path: Path
    forgotten: Forgotten

    @property
    def ids(self) -> frozenset[str]:
        return self.forgotten.ids


def folder(paths: Paths) -> Path:
    return paths.data / FOLDER_NAME


def write_intent(paths: Paths, forgotten: Forgotten) -> Intent:
    """Record what is about to be forgotten, durably, before anything is changed."""
    target = folder(paths) / f"{uuid.uuid4().hex}.json"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            target,
            {
                "version": 1,
                "ids": sorted(forgotten.ids),
                "sources": sorted(forgotten.sources),
                "texts": list(forgotten.texts),
                "everything": forgotten.everything,
            },
        )
    except OSError as exc:  # nothing was changed: say what to do, in the store's words
        if exc.errno == errno.EROFS:
            raise DiskFullError(DISK_READ_ONLY) from None
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(_disk_full_message(LOW_SPACE_BYTES)) from None
        raise
    return Intent(target, forgotten)


def pending(paths: Paths) -> Iterator[Intent]:
    """The forgets a killed process left unfinished, oldest first. An unreadable intent (it
    can only be one cut off while being written, before anything was changed) is removed."""
    where = folder(paths)
    if not where.is_dir():
        return
    files = sorted(where.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            forgotten = Forgotten(
                ids=frozenset(str(i) for i in data.get("ids", [])),
                sources=frozenset(str(s) for s in data.get("sources", [])),
                texts=tuple(str(t) for t in data.get("texts", [])),
                everything=bool(data.get("everything", False)),
            )
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.warning("removing an unreadable forget record %s: %s", path, exc)
            done(Intent(path, Forgotten()))
            continue
        yield Intent(path, forgotten)


def done(intent: Intent) -> None:
    with contextlib.suppress(FileNotFoundError):
        intent.path.unlink()
    for tmp in intent.path.parent.glob(f".{intent.path.name}*"):
        with contextlib.suppress(OSError):
            tmp.unlink()
