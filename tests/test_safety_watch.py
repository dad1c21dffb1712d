"""Forgetting a file in a watched folder (issue 12, point 4): it is never silently read again.

Engine level (the desktop app's dialog is tested in tests/qt/test_safety_watch_dialog.py): a
file forgotten with ``keep_ignoring`` is skipped, with a reason, by every sync of its folder; adding
it again by name brings it back.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tera_desktop.core.engine import Engine
from tera_desktop.core.ingest import ADDED, SKIPPED, FileResult
from tera_desktop.core.ingest.ignored import IGNORED_REASON, IgnoreList


def statuses(events: list[object]) -> dict[str, FileResult]:
    return {Path(e.path).name: e for e in events if isinstance(e, FileResult)}


def test_a_forgotten_file_stays_forgotten_through_syncs(engine: Engine, tmp_path: Path) -> None:
    folder = (tmp_path / "watched").resolve()
    folder.mkdir()
    (folder / "a.txt").write_text("The blue door is on the left.")
    (folder / "b.txt").write_text("The red door is on the right.")
    engine.settings = replace(engine.settings, watched_folders=(str(folder),))
    list(engine.upload([folder], sync=True))
    assert engine.count() == 2
    source = str(folder / "a.txt")
    assert engine.watched_folder_of(source) == str(folder)
    assert engine.watched_folder_of(str(tmp_path / "elsewhere.txt")) is None

    engine.forget_source(source, keep_ignoring=True)
    for _ in range(2):  # the next start's catch-up sync, and any change in the folder
        res = statuses(list(engine.upload([folder], sync=True)))
        assert res["a.txt"].status == SKIPPED and res["a.txt"].reason == IGNORED_REASON
        assert res["b.txt"].status == "unchanged"
        assert {d.source for d in engine.documents()} == {str(folder / "b.txt")}

    # added again by name, on purpose: it is back, and no longer ignored
    res = statuses(list(engine.upload([folder / "a.txt"])))
    assert res["a.txt"].status == ADDED
    assert source not in IgnoreList(engine.paths).all()
    assert statuses(list(engine.upload([folder], sync=True)))["a.txt"].status == "unchanged"


def test_forgetting_without_keep_ignoring_lets_a_sync_read_it_again(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.txt").write_text("The blue door is on the left.")
    list(engine.upload([folder]))
    engine.forget_source(folder / "a.txt")
    assert IgnoreList(engine.paths).all() == frozenset()
    assert statuses(list(engine.upload([folder], sync=True)))["a.txt"].status == ADDED
