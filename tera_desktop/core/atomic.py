"""Atomic file writes, one way for every file Tera keeps: a temporary file in the same folder,
flushed and fsync'ed, then ``os.replace`` over the target, then the folder fsync'ed. A crash
leaves the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows cannot open a directory, and
    ``os.replace`` is durable enough there)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically. ``mode``: the file's permission bits from the
    moment it exists (e.g. ``0o600`` for a secret), else the umask's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o666 if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)  # whatever the umask took away
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see ``write_bytes_atomic``)."""
    write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def write_json_atomic(
    path: Path,
    data: Any,
    *,
    indent: int | None = 1,
    ensure_ascii: bool = False,
    sort_keys: bool = False,
    mode: int | None = None,
) -> None:
    """Write ``data`` as JSON (and a final newline) to ``path`` atomically; values JSON cannot
    hold are written as their ``str()``."""
    text = json.dumps(
        data, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys, default=str
    )
    write_text_atomic(path, text + "\n", mode=mode)
