"""Backup and restore (issue 23, point 5): one archive that restores anywhere, checked first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from store_lock import memory_held_open

from tera_desktop.core import backup as bk
from tera_desktop.core.conversations import ConversationStore
from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import Paths, get_paths
from tera_desktop.core.session import ChatSession
from tera_desktop.core.settings import Settings, load_settings, save_settings

pytestmark = pytest.mark.slow  # real `tera` processes: the full lane (CI) runs them

WAIT = 120
FACTS = [
    "The gate code is 4512.",
    "My plumber is Bob Fixit, phone 0171 5559876.",
    "The wifi password is tulip-42.",
]
QUERIES = ["gate code", "plumber phone", "wifi password", "boiler service", "pancake recipe"]


def fill(engine: Engine, docs: Path) -> None:
    for fact in FACTS:
        engine.remember(fact)
    engine.remember("The bins go out on Tuesdays.")
    engine.remember("The bins go out on Thursdays.")  # supersedes the Tuesday one
    docs.mkdir(exist_ok=True)
    (docs / "boiler.md").write_text(
        "# Boiler\n\nThe boiler was serviced by Heatwell in March.\n\n## Parts\n\n"
        "The pressure valve was replaced.\n",
        "utf-8",
    )
    (docs / "pancakes.txt").write_text("Pancake recipe: two eggs, flour, milk.\n", "utf-8")
    assert [e.status for e in engine.upload([docs]) if hasattr(e, "status")] == ["added"] * 2


def answers(engine: Engine) -> dict[str, list[tuple[str, str, float]]]:
    return {q: [(h.id, h.text, round(h.score, 5)) for h in engine.search(q, 5)] for q in QUERIES}


@pytest.fixture
def source(tmp_path: Path, tiny_settings: Settings):  # type: ignore[no-untyped-def]
    paths = get_paths(tmp_path / "source").ensure()
    save_settings(paths, replace(tiny_settings, llm_api_key="sk-secret-key-123456"))
    engine = Engine(paths, load_settings(paths))
    fill(engine, tmp_path / "docs")
    store = engine.conversations
    session = ChatSession(engine, store)
    list(session.ask("What is the gate code?", search_only=True))
    yield engine
    engine.close()


def new_home(tmp_path: Path, name: str = "restored") -> Paths:
    return get_paths(tmp_path / name)


def test_restored_memory_answers_with_the_same_sources(
    source: Engine, tmp_path: Path, tiny_settings: Settings
) -> None:
    before = answers(source)
    facts_before = source.facts()
    result = bk.backup(source, tmp_path / "b.tera-backup.zip")
    assert result.facts == len(FACTS) + 2 and result.documents == 2
    assert result.conversations == 1 and result.size == result.path.stat().st_size

    target = new_home(tmp_path)
    restored = bk.restore(result.path, target)
    assert restored.chunks == result.chunks and restored.settings_restored
    with Engine(target, load_settings(target)) as engine:
        assert answers(engine) == before  # the same ids, texts and scores
        assert engine.facts() == facts_before  # superseded facts stay superseded
        assert engine.count() == source.count()
        assert [d.source for d in engine.documents()] == [d.source for d in source.documents()]
    chats = ConversationStore(target).list()
    assert [c.title for c in chats] == [c.title for c in source.conversations.list()]
    saved = json.loads(target.settings_file.read_text("utf-8"))
    assert saved["llm_api_key"] == "" and saved["embedding_model"] == str(
        tiny_settings.embedding_model
    )
    with zipfile.ZipFile(result.path) as zf:  # no secret anywhere in the archive
        assert all(b"sk-secret-key" not in zf.read(n) for n in zf.namelist())


def _rewrite(archive: Path, out: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, change.get(name, src.read(name)))


@pytest.mark.parametrize("damage", ["truncated", "tampered", "member_added", "not_a_backup"])
def test_a_damaged_archive_is_refused_and_nothing_changes(
    source: Engine, tmp_path: Path, damage: str
) -> None:
    good = bk.backup(source, tmp_path / "good.zip").path
    bad = tmp_path / "bad.zip"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    elif damage == "tampered":
        with zipfile.ZipFile(good) as zf:
            text = zf.read(bk.CHUNKS).replace(b"4512", b"9999")
        _rewrite(good, bad, {bk.CHUNKS: text})
    elif damage == "member_added":
        _rewrite(good, bad, {})
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("conversations/extra.json", b"{}")
    else:
        bad.write_bytes(b"PK\x03\x04 this is not a zip")
    target = new_home(tmp_path)
    target.ensure()
    listing = sorted(str(p.relative_to(target.data.parent)) for p in target.data.parent.rglob("*"))
    with pytest.raises(bk.BackupError, match="Nothing was changed"):
        bk.restore(bad, target)
    after = sorted(str(p.relative_to(target.data.parent)) for p in target.data.parent.rglob("*"))
    assert after == listing


def test_a_memory_that_is_not_empty_is_replaced_only_when_asked(
    source: Engine, tmp_path: Path, tiny_settings: Settings
) -> None:
    archive = bk.backup(source, tmp_path / "b.zip").path
    target = new_home(tmp_path)
    target.ensure()
    with Engine(target, tiny_settings) as other:
        other.remember("The garage door code is 7788.")
    with pytest.raises(bk.BackupError, match="already holds 1 chunks"):
        bk.restore(archive, target)
    with Engine(target, tiny_settings) as other:  # untouched
        assert [f.text for f in other.facts()] == ["The garage door code is 7788."]
    bk.restore(archive, target, replace=True)
    with Engine(target, load_settings(target)) as engine:
        texts = {f.text for f in engine.facts()}
        assert "The garage door code is 7788." not in texts and FACTS[0] in texts
        assert answers(engine) == answers(source)
    leftovers = [
        p.name for p in target.data.iterdir() if "restoring" in p.name or "replaced" in p.name
    ]
    assert leftovers == []


def test_an_empty_memory_backs_up_and_restores(tmp_path: Path, tiny_settings: Settings) -> None:
    paths = get_paths(tmp_path / "empty").ensure()
    with Engine(paths, tiny_settings) as engine:
        result = bk.backup(engine, tmp_path / "empty.zip")
    assert (result.chunks, result.conversations) == (0, 0)
    target = new_home(tmp_path)
    bk.restore(result.path, target)
    with Engine(target, tiny_settings) as engine:
        assert engine.count() == 0


# ---- the tera command ----------------------------------------------------------------------
def run(home: Path, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERA_")}
    env.update(
        TERA_HOME=str(home),
        TERA_EMBEDDING_MODEL=settings.embedding_model,
        TERA_LLM_MODEL=settings.llm_model,
        TERA_LLM_CONTEXT="512",
    )
    return subprocess.run(
        [sys.executable, "-m", "tera_desktop.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


def test_tera_backup_and_restore_into_another_home(tmp_path: Path, tiny_settings: Settings) -> None:
    home, other = tmp_path / "home", tmp_path / "other"
    for fact in FACTS:
        assert run(home, tiny_settings, "remember", fact).returncode == 0
    searched = run(home, tiny_settings, "search", "gate code", "--json").stdout
    archive = tmp_path / "my.tera-backup.zip"
    done = run(home, tiny_settings, "backup", str(archive))
    assert done.returncode == 0, done.stderr
    assert "Backed up 3 facts" in done.stdout and archive.is_file()

    restored = run(other, tiny_settings, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "Restored 3 facts" in restored.stdout
    assert run(other, tiny_settings, "search", "gate code", "--json").stdout == searched

    again = run(other, tiny_settings, "restore", str(archive))  # not empty now
    assert again.returncode == 1 and "--replace" in again.stderr
    assert "Traceback" not in again.stderr
    replaced = run(other, tiny_settings, "restore", str(archive), "--replace")
    assert replaced.returncode == 0, replaced.stderr

    archive.write_bytes(archive.read_bytes()[:-200])  # truncated
    broken = run(tmp_path / "third", tiny_settings, "restore", str(archive))
    assert broken.returncode == 1 and "cannot be restored" in broken.stderr


def test_tera_backup_beside_the_open_window_says_why(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    from tera_desktop.core.instance import InstanceLock

    home = tmp_path / "home"
    assert run(home, tiny_settings, "remember", FACTS[0]).returncode == 0
    paths = get_paths(home)
    window = InstanceLock.for_paths(paths)
    assert window.acquire()
    try:
        with memory_held_open(paths.store, WAIT):  # the window's process holds it
            done = run(home, tiny_settings, "backup", str(tmp_path / "b.zip"))
            assert done.returncode == 3 and "Back Up" in done.stderr
            assert not (tmp_path / "b.zip").exists()
            refused = run(home, tiny_settings, "restore", str(tmp_path / "none.zip"))
            assert refused.returncode == 1 and "There is no file" in refused.stderr
    finally:
        window.release()


# ---- tera export --markdown (issue 23, point 6) ------------------------------------------------
def test_export_markdown_writes_facts_documents_and_chats(source: Engine, tmp_path: Path) -> None:
    source.remember("# Not a heading <script>alert(1)</script> *bold*")
    result = bk.export_markdown(source, tmp_path / "md")
    assert (result.facts, result.documents, result.conversations) == (len(FACTS) + 3, 2, 1)
    facts = (tmp_path / "md" / "facts.md").read_text("utf-8")
    for fact in FACTS:
        assert f"- {fact} — " in facts
    assert "*(replaced by a newer fact)*" in facts  # the Tuesday bins
    assert "\\# Not a heading \\<script\\>" in facts and "\\*bold\\*" in facts
    docs = (tmp_path / "md" / "documents.md").read_text("utf-8")
    assert "boiler.md" in docs and "pancakes.txt" in docs
    (chat,) = (tmp_path / "md" / "conversations").glob("*.md")
    assert "What is the gate code?" in chat.read_text("utf-8")


def test_tera_export_markdown(tmp_path: Path, tiny_settings: Settings) -> None:
    home = tmp_path / "home"
    assert run(home, tiny_settings, "remember", FACTS[0]).returncode == 0
    done = run(home, tiny_settings, "export", "--markdown", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "Wrote 1 fact" in done.stdout
    assert FACTS[0] in (tmp_path / "out" / "facts.md").read_text("utf-8")
    (tmp_path / "file").write_text("x")
    refused = run(home, tiny_settings, "export", "--markdown", str(tmp_path / "file"))
    assert refused.returncode == 1 and "is a file" in refused.stderr
