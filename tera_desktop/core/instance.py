"""One running Tera per data folder: a non-blocking OS file lock on ``data/tera-desktop.lock``.

The lock is the operating system's (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows), held
through an open file descriptor, so the OS drops it when the process ends in any way, a crash or
``kill -9`` included: there is never a stale lock to clean up. The holder writes its pid into the
file so a second instance can say who holds it.

The lock file is never deleted: deleting it would let two processes lock two different files of
the same name. The descriptor is not inherited by child processes (Python's default), so a helper
process started by Tera does not keep the lock alive after Tera exits.

No Qt here.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from types import TracebackType

from tera_desktop.core.errors import TeraError
from tera_desktop.core.paths import Paths

LOCK_FILE_NAME = "tera-desktop.lock"
# Windows locks byte ranges and a locked range cannot be read by others: lock one byte far past
# the pid text, so another process can still read the pid. (Locking past the end of a file is
# allowed there.)
_WINDOWS_LOCK_OFFSET = 1 << 20


class AlreadyRunningError(TeraError):
    """Another Tera process holds this data folder."""

    exit_code = 3


def lock_path(paths: Paths) -> Path:
    """The instance lock file of a Tera home."""
    return paths.data / LOCK_FILE_NAME


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        # os.kill(pid, 0) would terminate the process on Windows; trust the lock instead.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)


class InstanceLock:
    """``acquire()`` (non-blocking) → True if this process now holds the folder; ``release()``.

    As a context manager it acquires or raises ``AlreadyRunningError`` naming the holder's pid.
    Two ``InstanceLock`` objects on the same file exclude each other even in one process.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @classmethod
    def for_paths(cls, paths: Paths) -> InstanceLock:
        return cls(lock_path(paths))

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting. True on success (or if this object holds it already)."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            try:
                locked = _try_lock(fd)
            except OSError as exc:  # some network file systems cannot lock at all
                raise TeraError(
                    f"Cannot lock {self.path}: {exc.strerror or exc}.",
                    "Put Tera's data folder on a local disk (or set TERA_HOME to one).",
                ) from exc
            if not locked:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            with contextlib.suppress(OSError):
                os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                _unlock(fd)
                os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (clearing the pid). Does nothing if it is not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def holder_pid(self) -> int | None:
        """The pid of the process holding the lock, or None when it is free (as far as known)."""
        if self._fd is not None:
            return os.getpid()
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        if not text.isdigit():
            return None
        pid = int(text)
        return pid if _pid_alive(pid) else None

    def __enter__(self) -> InstanceLock:
        if not self.acquire():
            pid = self.holder_pid()
            who = f" (process {pid})" if pid else ""
            raise AlreadyRunningError(
                f"Tera is already running with this data folder{who}.",
                f"Switch to the open Tera window, or close it first. The lock is {self.path}.",
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __del__(self) -> None:  # a forgotten lock is released with its object
        with contextlib.suppress(Exception):
            self.release()
