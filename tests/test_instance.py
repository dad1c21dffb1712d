"""One Tera per data folder: an OS file lock that dies with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tera_desktop.core.instance import (
    AlreadyRunningError,
    InstanceLock,
    lock_path,
)
from tera_desktop.core.paths import Paths

ROOT = Path(__file__).resolve().parents[1]

_TRY = textwrap.dedent(
    """
    import sys
    from tera_desktop.core.instance import InstanceLock
    lock = InstanceLock(sys.argv[1])
    print("acquired" if lock.acquire() else "busy", lock.holder_pid(), flush=True)
    """
)

_HOLD = textwrap.dedent(
    """
    import sys, time
    from tera_desktop.core.instance import InstanceLock
    lock = InstanceLock(sys.argv[1])
    print("acquired" if lock.acquire() else "busy", flush=True)
    time.sleep(120)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _try_in_subprocess(path: Path) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", _TRY, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=True,
    ).stdout.split()
    return out[0], out[1]


def test_lock_file_lives_in_the_data_folder(paths: Paths) -> None:
    assert lock_path(paths) == paths.data / "tera-desktop.lock"
    assert InstanceLock.for_paths(paths).path == paths.data / "tera-desktop.lock"


def test_acquire_writes_the_pid_and_release_frees(paths: Paths) -> None:
    lock = InstanceLock.for_paths(paths)
    assert lock.holder_pid() is None
    assert lock.acquire() is True
    assert lock.held and lock.acquire() is True  # again: still ours
    assert lock.path.read_text().strip() == str(os.getpid())
    assert lock.holder_pid() == os.getpid()
    assert InstanceLock(lock.path).holder_pid() == os.getpid()
    lock.release()
    lock.release()  # twice is fine
    assert not lock.held
    assert lock.path.exists()  # never deleted (see the module docstring)
    assert InstanceLock(lock.path).holder_pid() is None


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    first = InstanceLock(tmp_path / "x.lock")
    second = InstanceLock(tmp_path / "x.lock")
    assert first.acquire()
    assert not second.acquire()
    assert second.holder_pid() == os.getpid()
    first.release()
    assert second.acquire()
    second.release()


def test_context_manager(paths: Paths) -> None:
    with InstanceLock.for_paths(paths) as lock:
        assert lock.held
        with (
            pytest.raises(AlreadyRunningError, match=f"process {os.getpid()}") as info,
            InstanceLock.for_paths(paths),
        ):
            pass  # pragma: no cover
        assert info.value.exit_code == 3
    assert not lock.held
    assert InstanceLock.for_paths(paths).acquire()


def test_another_process_cannot_take_a_held_lock(paths: Paths) -> None:
    path = lock_path(paths)
    with InstanceLock(path):
        assert _try_in_subprocess(path) == ("busy", str(os.getpid()))
    assert _try_in_subprocess(path)[0] == "acquired"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_holder_leaves_no_stale_lock(paths: Paths) -> None:
    path = lock_path(paths)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "acquired"
        lock = InstanceLock(path)
        assert lock.acquire() is False
        assert lock.holder_pid() == holder.pid
        assert _try_in_subprocess(path)[0] == "busy"

        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        # the pid is still written in the file, but that process is gone
        assert path.read_text().strip() == str(holder.pid)
        assert lock.holder_pid() is None
        assert lock.acquire() is True
        assert lock.holder_pid() == os.getpid()
        assert _try_in_subprocess(path)[0] == "busy"
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()


def test_garbage_in_the_lock_file_is_no_holder(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    path.write_text("not a pid")
    assert InstanceLock(path).holder_pid() is None
    lock = InstanceLock(path)
    assert lock.acquire()
    assert path.read_text().strip() == str(os.getpid())
    lock.release()
