"""Disk helpers of the embedded store: free space and disk-full errors, the folder lock, the
sparse copy a full disk is read from, and the crash-safe swap that finishes a scrub (see
``EdgeStore.scrub``)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from tera_desktop.core.atomic import fsync_dir
from tera_desktop.core.errors import DiskFullError, StoreLockedError
from tera_desktop.core.units import MB, format_mb

_SCRUB_NEW = "shard.new"
_SCRUB_OLD = "shard.old"
_SCRUB_MARKER = "scrub-ready"
_LOCK_FILE = "store.lock"

LOW_SPACE_BYTES = 64 * MB
"""Free space the embedded engine needs to write safely: it grows memory-mapped files (32 MB
log segments, payload pages) as it writes, and a write into one on a full disk is a crash
(SIGBUS), not an error. Below this, writes are refused up front and the memory is read from a
copy (``EdgeStore.read_only``)."""
DISK_FULL_READING = (
    "The disk holding your memory is full: Tera can search it but not change it. "
    f"Free {format_mb(LOW_SPACE_BYTES)} and try again."
)
DISK_READ_ONLY = (
    "The disk holding your memory is read-only: Tera can search it but not change it. "
    "Make the data folder writable and try again."
)


def _disk_full_message(short_by: int) -> str:
    return (
        f"The disk holding your memory is full: free {format_mb(max(short_by, MB))} and try again."
    )


def _free_bytes(folder: Path) -> int:
    path = folder
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


def _allocated_bytes(folder: Path) -> int:
    """Disk blocks actually used under ``folder`` (its big files are sparse)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def _is_disk_error(exc: BaseException) -> bool:
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        return True
    return any(
        s in text
        for s in (
            "No space left",
            "os error 28",
            "Read-only file system",
            "os error 30",
            "Disk quota exceeded",
            "os error 122",
        )
    )


def _is_read_only(exc: BaseException) -> bool:
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return True
    return "Read-only file system" in text or "os error 30" in text


def _lock_folder(folder: Path) -> int | None:
    """Hold a lock on the memory's folder for as long as this process has it open (finishing a
    scrub, or swapping shards, must never happen under another process's feet). Raises
    ``StoreLockedError`` when another Tera process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: the engine's own lock is the only one
        return None
    try:
        fd = os.open(folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        try:  # a read-only folder: lock the folder itself
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreLockedError(
            f"Tera's memory at {folder} is open in another Tera process.",
            "Close the other Tera window or command and try again.",
        ) from None
    return fd


def _read_only_copy(shard_dir: Path, folder: Path) -> Path:
    """A copy of ``shard_dir`` on another file system with room for it (the temporary folder,
    else /dev/shm), holes kept; ``DiskFullError`` when there is none."""
    import tempfile

    need = _allocated_bytes(shard_dir) + LOW_SPACE_BYTES
    try:
        home_dev = os.stat(shard_dir).st_dev
    except OSError:
        home_dev = -1
    for base in (tempfile.gettempdir(), "/dev/shm"):
        try:
            if os.stat(base).st_dev == home_dev or shutil.disk_usage(base).free < need:
                continue
            target = Path(tempfile.mkdtemp(prefix="tera-read-only-", dir=base))
        except OSError:
            continue
        try:
            _sparse_copytree(shard_dir, target / "shard")
        except OSError:
            _remove_tree(target)
            continue
        return target
    raise DiskFullError(_disk_full_message(LOW_SPACE_BYTES))


def _sparse_copytree(src: Path, dst: Path) -> None:
    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            _sparse_copy(Path(dirpath, name), dst / rel / name)


def _sparse_copy(src: Path, dst: Path) -> None:
    """Copy a file's data regions only (a 32 MB log segment holding 1 KB copies 1 KB)."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fin.fileno(), pos, os.SEEK_DATA)
                end = os.lseek(fin.fileno(), start, os.SEEK_HOLE)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole is left
                    break
                start, end = pos, size  # no SEEK_DATA here: copy everything
            fin.seek(start)
            fout.seek(start)
            left = end - start
            while left > 0:
                block = fin.read(min(left, MB))
                if not block:
                    break
                fout.write(block)
                left -= len(block)
            pos = end
        fout.truncate(size)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _write_scrub_marker(folder: Path) -> None:
    """Say, durably, that ``shard.new`` is a complete copy: from here on, the swap is finished
    even after a crash."""
    fsync_dir(folder / _SCRUB_NEW)
    with open(folder / _SCRUB_MARKER, "w", encoding="utf-8") as fh:
        fh.write("shard.new is complete\n")
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(folder)


def _finish_scrub(folder: Path) -> None:
    """Finish (marker present) or undo (no marker) a scrub: afterwards ``shard`` is the one copy,
    and neither ``shard.new`` nor ``shard.old`` (which holds the forgotten text) is left."""
    shard, new, old = folder / "shard", folder / _SCRUB_NEW, folder / _SCRUB_OLD
    marker = folder / _SCRUB_MARKER
    if marker.exists():
        if new.exists():
            if shard.exists():
                _remove_tree(old)
                os.replace(shard, old)
            os.replace(new, shard)
            fsync_dir(folder)
        _remove_tree(old)
        marker.unlink()
        fsync_dir(folder)
    else:
        _remove_tree(new)
        _remove_tree(old)


def _disk_hint() -> str:
    return "Check that the disk is not full and the data folder is writable."
