"""A full or read-only disk (issue 12, point 2): every write path is a clear one-line error,
reading commands keep working, nothing stored is lost, nothing crashes (the embedded engine writes
through memory-mapped files, where a full disk is a SIGBUS, exit 135, unless Tera checks first).

Runs on real small file systems mounted for the test: a loop-mounted ext4 image (no blocks
reserved for root) and a tmpfs. Mounting needs root; CI runs these tests as root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import DiskFullError
from tera_desktop.core.paths import get_paths
from tera_desktop.core.settings import Settings
from tera_desktop.core.store import LOW_SPACE_BYTES

pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None,
    reason="mounting a small file system needs root (CI runs this file as root)",
)

SIZE_MB = 160
TMPFS_MB = 256  # a tmpfs allocates the pages of the engine's sparse files as they are touched


@contextlib.contextmanager
def mounted(kind: str, where: Path) -> Iterator[Path]:
    where.mkdir(parents=True)
    image = where.parent / f"{where.name}.img"
    if kind == "ext4":
        with open(image, "wb") as fh:
            fh.truncate(SIZE_MB * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(where)], check=True)
    else:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(where)], check=True
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            image.unlink()


def fill(folder: Path) -> Path:
    """Write a file until the disk is full (to the last block)."""
    filler = folder / "filler.bin"
    block = b"\0" * (1024 * 1024)
    with open(filler, "wb", buffering=0) as fh:
        for size in (len(block), 4096, 512):
            while True:
                try:
                    fh.write(block[:size])
                except OSError:
                    break
    assert shutil.disk_usage(folder).free < 64 * 1024
    return filler


@pytest.fixture(params=["ext4", "tmpfs"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    with mounted(request.param, tmp_path / "disk") as where:
        yield where


def cli(home: Path, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TERA_HOME": str(home),
        "TERA_EMBEDDING_MODEL": settings.embedding_model,
        "TERA_LLM_MODEL": settings.llm_model,
    }
    return subprocess.run(
        [sys.executable, "-m", "tera_desktop.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_full_disk_reads_work_writes_say_so_and_nothing_is_lost(
    disk: Path, tiny_settings: Settings, tmp_path: Path
) -> None:
    home = disk / "tera"
    paths = get_paths(home).ensure()
    doc = tmp_path / "notes.txt"
    doc.write_text("The attic holds the winter tyres.")
    engine = Engine(paths, tiny_settings)
    engine.remember("the gate code is 4512")
    list(engine.upload([doc]))
    assert engine.count() == 2
    engine.close()

    filler = fill(disk)

    engine = Engine(paths, tiny_settings)
    try:
        assert engine.count() == 2  # opening and reading write nothing
        assert [f.text for f in engine.facts()] == ["the gate code is 4512"]
        assert engine.search("gate code")[0].text == "the gate code is 4512"
        for write in (
            lambda: engine.remember("a new fact"),
            lambda: engine.forget(engine.facts()[0].id),
            lambda: engine.forget_all(),
        ):
            with pytest.raises(DiskFullError) as caught:
                write()
            message = str(caught.value)
            assert message.startswith("The disk holding your memory is full")
            assert "\n" not in message and " MB" in message
        other = tmp_path / "other.txt"
        other.write_text("The shed holds the garden chairs.")
        events = list(engine.upload([other]))  # an upload reports it per file, and goes on
        assert any("disk holding your memory is full" in getattr(e, "reason", "") for e in events)
    finally:
        engine.close()

    # the command line: reading works, writing is one line and exit code 4, never a crash
    listed = cli(home, tiny_settings, "list")
    assert listed.returncode == 0 and "the gate code is 4512" in listed.stdout, listed.stderr
    found = cli(home, tiny_settings, "search", "gate code")
    assert found.returncode == 0 and "4512" in found.stdout, found.stderr
    wrote = cli(home, tiny_settings, "remember", "one more fact")
    assert wrote.returncode == DiskFullError.exit_code, (wrote.returncode, wrote.stderr)
    lines = [ln for ln in wrote.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "disk holding your memory is full" in lines[0], wrote.stderr

    filler.unlink()  # space again: everything is still there, and writing works
    engine = Engine(paths, tiny_settings)
    try:
        assert engine.count() == 2
        engine.remember("a new fact")
        assert engine.count() == 3
    finally:
        engine.close()


def test_almost_full_disk_refuses_a_write_before_it_starts(
    disk: Path, tiny_settings: Settings
) -> None:
    home = disk / "tera"
    paths = get_paths(home).ensure()
    engine = Engine(paths, tiny_settings)
    try:
        engine.remember("the gate code is 4512")
        free = shutil.disk_usage(disk).free
        ballast = disk / "ballast.bin"
        with open(ballast, "wb") as fh:  # leave a little less than the engine needs
            fh.write(b"\0" * max(free - LOW_SPACE_BYTES // 2, 0))
        with pytest.raises(DiskFullError, match=r"free \d+ MB and try again"):
            engine.remember("another fact")
        ballast.unlink()
        engine.remember("another fact")
        assert engine.count() == 2
    finally:
        engine.close()


def test_read_only_disk_reads_work_and_writes_say_so(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    with mounted("ext4", tmp_path / "disk") as disk:
        home = disk / "tera"
        paths = get_paths(home).ensure()
        engine = Engine(paths, tiny_settings)
        engine.remember("the gate code is 4512")
        engine.close()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        engine = Engine(paths, tiny_settings)
        try:
            assert engine.count() == 1
            assert engine.search("gate")[0].text == "the gate code is 4512"
            with pytest.raises(DiskFullError, match="read-only"):
                engine.remember("a new fact")
        finally:
            engine.close()
        listed = cli(home, tiny_settings, "list")
        assert listed.returncode == 0 and "4512" in listed.stdout, listed.stderr
