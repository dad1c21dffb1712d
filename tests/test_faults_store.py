"""A damaged store (issue 26.2): ``core/store_health`` finds each kind of damage from the small
metadata files and the sizes of the large ones, in bounded time and memory, without opening the
engine; ``tera doctor`` reports it with the fix; ``tera repair`` keeps a copy of the damaged
store and rebuilds the memory from what is intact plus the documents' files still on disk.

The damaged stores are never opened by the engine in the test process: a flipped id tracker makes
Qdrant Edge allocate 12 GB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tera_desktop.core.store_health import (
    StoreDamagedError,
    check_store_folder,
    lz4_block,
    require_healthy,
    salvage_payloads,
)

FACTS = ("the gate code is 4512", "my cat is blue", "the bin goes out on tuesday")
WAIT = 300


def _cli(home: Path, embedding: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TERA_HOME": str(home), "TERA_EMBEDDING_MODEL": str(embedding)}
    return subprocess.run(
        [sys.executable, "-m", "tera_desktop.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_embedding: Path) -> tuple[Path, Path]:
    """A Tera home with 3 facts, 1 forgotten fact and 1 document (built once, copied per test)."""
    root = tmp_path_factory.mktemp("store")
    home, doc = root / "home", root / "manual.txt"
    doc.write_text("The boiler manual says: bleed the radiators in October.\n", encoding="utf-8")
    for fact in (*FACTS, "a fact to forget"):
        assert _cli(home, tiny_embedding, "remember", fact).returncode == 0
    assert _cli(home, tiny_embedding, "upload", str(doc)).returncode == 0
    listed = json.loads(_cli(home, tiny_embedding, "list", "--json").stdout)
    gone = next(f["id"] for f in listed["facts"] if f["text"] == "a fact to forget")
    assert _cli(home, tiny_embedding, "forget", gone, "--yes").returncode == 0
    return home, doc


@pytest.fixture
def home(built: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(built[0], copy)
    return copy


def _store(home: Path) -> Path:
    return home / "data" / "memory"


def _segment(home: Path) -> Path:
    return next(p for p in (_store(home) / "shard" / "segments").iterdir() if p.is_dir())


def _flip(path: Path, start: int, n: int) -> None:
    data = bytearray(path.read_bytes())
    for i in range(start, min(start + n, len(data))):
        data[i] ^= 0xA5
    path.write_bytes(bytes(data))


def _cut(path: Path, keep: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(keep)


Damage = Callable[[Path], None]
CASES: dict[str, tuple[Damage, str]] = {
    "id tracker flipped": (
        lambda h: _flip(_segment(h) / "mutable_id_tracker.mappings", 10, 24),
        "mutable_id_tracker.mappings",
    ),
    "id tracker record cut": (
        lambda h: _cut(_segment(h) / "mutable_id_tracker.mappings", 30),
        "cut short",
    ),
    "id versions cut": (
        lambda h: _cut(_segment(h) / "mutable_id_tracker.versions", 13),
        "8-byte versions",
    ),
    "vectors cut": (
        lambda h: _cut(_segment(h) / "vector_storage-dense" / "vectors" / "chunk_0.mmap", 4096),
        "chunk_0.mmap",
    ),
    "vector count flipped": (
        lambda h: _flip(_segment(h) / "vector_storage-dense" / "vectors" / "status.dat", 3, 2),
        "status.dat",
    ),
    "vector config garbage": (
        lambda h: (_segment(h) / "vector_storage-dense" / "vectors" / "config.json").write_text(
            "{garbage"
        ),
        "not valid JSON",
    ),
    "payload page cut": (
        lambda h: _cut(_segment(h) / "payload_storage" / "page_0.dat", 1000),
        "page_0.dat",
    ),
    "payload value flipped": (
        lambda h: _flip(_segment(h) / "payload_storage" / "page_0.dat", 60, 24),
        "garbled",
    ),
    "payload tracker flipped": (
        lambda h: _flip(_segment(h) / "payload_storage" / "tracker.dat", 4, 24),
        "tracker.dat",
    ),
    "payload index tracker cut": (
        lambda h: _cut(next((_segment(h) / "payload_index").glob("*-map")) / "tracker.dat", 10),
        "tracker.dat",
    ),
    "segment.json garbage": (
        lambda h: (_segment(h) / "segment.json").write_bytes(b"\0" * 40),
        "segment.json",
    ),
    "tera-store.json garbage": (
        lambda h: (_store(h) / "tera-store.json").write_text('{"dim": "x"}'),
        "embedding size",
    ),
    "edge config removed": (
        lambda h: (_store(h) / "shard" / "edge_config.json").unlink(),
        "missing",
    ),
    "segments removed": (
        lambda h: shutil.rmtree(_segment(h)),
        "no segment",
    ),
    "wal header overwritten": (
        lambda h: _flip(_store(h) / "shard" / "wal" / "open-1", 0, 4),
        "log segment",
    ),
    "wal index garbage": (
        lambda h: (_store(h) / "shard" / "wal" / "first-index").write_text("[]"),
        "first-index",
    ),
}


def test_an_intact_store_after_remember_upload_and_forget_is_healthy(home: Path) -> None:
    health = check_store_folder(_store(home))
    assert health.ok, health.summary()
    assert health.files_checked > 5 and health.bytes_read < 1 << 20
    require_healthy(_store(home))
    assert check_store_folder(home / "nothing-here").ok  # no store yet: nothing to check


@pytest.mark.parametrize("case", list(CASES))
def test_each_damage_is_found_and_named(home: Path, case: str) -> None:
    damage, named = CASES[case]
    damage(home)
    health = check_store_folder(_store(home))
    assert not health.ok, case
    assert named in health.summary(10), health.summary(10)
    with pytest.raises(StoreDamagedError) as info:
        require_healthy(_store(home))
    assert "tera repair" in str(info.value)


def test_payloads_are_read_without_the_engine_and_forgotten_facts_stay_gone(home: Path) -> None:
    found = salvage_payloads(_store(home))
    assert sorted(f["text"] for f in found.facts) == sorted(FACTS)
    assert [Path(d).name for d in found.documents] == ["manual.txt"]
    assert lz4_block(b"\x50hello", 5) == b"hello"
    with pytest.raises(ValueError):
        lz4_block(b"\x5fhello\x09\x00", 5)


def test_doctor_reports_the_damage_with_the_fix_without_opening_it(
    home: Path, tiny_embedding: Path
) -> None:
    CASES["id tracker flipped"][0](home)
    done = _cli(home, tiny_embedding, "doctor", "--json")
    store = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "Memory store")
    assert store["status"] == "fail" and "damaged" in store["detail"]
    assert "tera repair" in store["fix"]


@pytest.mark.parametrize("case", ["id tracker flipped", "vectors cut"])
def test_repair_keeps_a_copy_and_rebuilds_facts_and_documents(
    home: Path, built: tuple[Path, Path], tiny_embedding: Path, case: str
) -> None:
    CASES[case][0](home)
    done = _cli(home, tiny_embedding, "repair")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kept, as it was, in" in done.stdout
    kept = [p for p in (home / "data").iterdir() if p.name.startswith("memory-damaged-")]
    assert len(kept) == 1 and not check_store_folder(kept[0]).ok  # the copy is the damaged one
    assert check_store_folder(_store(home)).ok
    listed = json.loads(_cli(home, tiny_embedding, "list", "--json").stdout)
    assert sorted(f["text"] for f in listed["facts"]) == sorted(FACTS)  # not the forgotten one
    assert [d["source"] for d in listed["documents"]] == [str(built[1].resolve())]


def test_repair_of_an_intact_store_changes_nothing(home: Path, tiny_embedding: Path) -> None:
    done = _cli(home, tiny_embedding, "repair")
    assert done.returncode == 0 and "nothing to repair" in done.stdout
    assert not [p for p in (home / "data").iterdir() if p.name.startswith("memory-damaged-")]


def test_repair_keeps_which_fact_replaced_which(tmp_path: Path, tiny_embedding: Path) -> None:
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    from tera_desktop.core.supersede import mark

    home = tmp_path / "home"
    engine = Engine(get_paths(home).ensure(), Settings(embedding_model=str(tiny_embedding)))
    try:
        old = engine.remember("the bin goes out on tuesday", supersede=False)
        new = engine.remember("the bin goes out on thursday", supersede=False)
        mark(engine.store, old.id, new.id, "2026-01-02T00:00:00+00:00")
    finally:
        engine.close()
    CASES["id tracker flipped"][0](home)
    done = _cli(home, tiny_embedding, "repair")
    assert done.returncode == 0, done.stdout + done.stderr
    engine = Engine(get_paths(home), Settings(embedding_model=str(tiny_embedding)))
    try:
        by_text = {f.text: f for f in engine.facts(0, None)}
    finally:
        engine.close()
    assert by_text["the bin goes out on tuesday"].superseded_by == (
        by_text["the bin goes out on thursday"].id
    )
    assert not by_text["the bin goes out on thursday"].superseded_by
