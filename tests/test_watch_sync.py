"""Folders kept in sync: `upload --sync` forgets files that are gone; the watcher sees changes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tera_desktop.cli import main
from tera_desktop.core.engine import Engine
from tera_desktop.core.ingest import ADDED, REMOVED, UPDATED, FileResult
from tera_desktop.core.watch import FolderWatcher


def results(events: list[object]) -> dict[str, FileResult]:
    return {Path(e.path).name: e for e in events if isinstance(e, FileResult)}


def test_sync_adds_updates_and_forgets_deleted_files(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("my cat is blue")
    (folder / "sub" / "b.txt").write_text("the gate code is 4512")
    outside = tmp_path / "outside.txt"
    outside.write_text("paris is the capital of france")
    list(engine.upload([folder, outside]))
    assert engine.count("document") == 3

    (folder / "sub" / "b.txt").unlink()
    (folder / "a.md").write_text("my cat is green now")
    (folder / "c.txt").write_text("meeting on tuesday")
    res = results(list(engine.upload([folder], sync=True)))
    assert {n: r.status for n, r in res.items()} == {
        "a.md": UPDATED,
        "c.txt": ADDED,
        "b.txt": REMOVED,
    }
    assert res["b.txt"].chunks == 1
    sources = {Path(d.source).name for d in engine.documents()}
    assert sources == {"a.md", "c.txt", "outside.txt"}  # files outside the folder are kept
    assert all("4512" not in h.text for h in engine.search("gate code", 10))


def test_upload_without_sync_keeps_deleted_files(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("my cat is blue")
    list(engine.upload([tmp_path / "a.txt"]))
    (tmp_path / "a.txt").unlink()
    (tmp_path / "b.txt").write_text("the gate code")
    res = results(list(engine.upload([tmp_path])))
    assert set(res) == {"b.txt"} and engine.count("document") == 2


def test_cli_sync(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_embedding: Path,
) -> None:
    monkeypatch.setenv("TERA_EMBEDDING_MODEL", str(tiny_embedding))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("my cat is blue")
    (folder / "b.txt").write_text("the gate code")
    assert main(["upload", str(folder)]) == 0
    (folder / "b.txt").unlink()
    capsys.readouterr()
    assert main(["upload", "--sync", str(folder)]) == 0
    out = capsys.readouterr().out
    assert (
        "unchanged  " in out and "removed    " in out and "b.txt: No longer in the folder." in out
    )


@pytest.mark.parametrize("polling", [False, True])
def test_watcher_reports_changes_once_settled(tmp_path: Path, polling: bool) -> None:
    folder = tmp_path / "watched"
    (folder / "sub").mkdir(parents=True)
    own = folder / "tera-home"
    own.mkdir()
    calls: list[str] = []
    fired = threading.Event()

    def on_change(path: str) -> None:
        calls.append(path)
        fired.set()

    watcher = FolderWatcher(on_change, ignore=[own], debounce_s=0.3, polling=polling)
    watcher.set_folders([str(folder)])
    try:
        time.sleep(0.5 if polling else 0.1)
        (folder / ".hidden.txt").write_text("ignored")
        (own / "data.bin").write_text("ignored: Tera's own folder")
        time.sleep(1.5 if polling else 0.6)
        assert calls == []
        for i in range(5):  # a burst of changes: a call once it settles
            (folder / "sub" / f"n{i}.txt").write_text(f"note {i}")
        assert fired.wait(10)
        assert set(calls) == {str(folder.resolve())}
        fired.clear()
        (folder / "sub" / "n0.txt").unlink()
        assert fired.wait(10)
        watcher.set_folders([])
        assert watcher.folders == []
    finally:
        watcher.stop()
