"""Ingestion: extractors, chunking, dedup by content hash, per-file results, cancellation."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import Cancelled, IngestError
from tera_desktop.core.ingest import (
    ADDED,
    FAILED,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    FileResult,
    IngestProgress,
    decode_text,
    extractor_for,
    iter_files,
    register,
)
from tera_desktop.core.ingest.chunker import approx_tokens, chunk_text
from tera_desktop.core.ingest.extractors import Extracted, Section, extract_markdown

WORDS = [
    "gate",
    "code",
    "cat",
    "dog",
    "paris",
    "france",
    "capital",
    "blue",
    "sky",
    "meeting",
    "tuesday",
    "birthday",
]


def results(events: list[object]) -> dict[str, FileResult]:
    return {Path(e.path).name: e for e in events if isinstance(e, FileResult)}


# ---- chunker -----------------------------------------------------------------------------------


def _prose(n_sentences: int) -> str:
    return " ".join(
        f"Sentence {i} talks about the {WORDS[i % len(WORDS)]}." for i in range(n_sentences)
    )


def test_chunks_respect_the_token_limit_and_overlap() -> None:
    text = "\n\n".join(_prose(12) for _ in range(10))
    chunks = chunk_text(text, max_tokens=64, overlap=16)
    assert len(chunks) > 5
    assert all(approx_tokens(c) <= 64 for c in chunks)
    # every chunk after the first starts with the last sentence of the one before it
    overlaps = sum(1 for a, b in itertools.pairwise(chunks) if b.split(". ")[0] in a)
    assert overlaps >= len(chunks) // 2
    # nothing is lost
    for i in range(12):
        assert f"Sentence {i} " in " ".join(chunks)


def test_small_text_is_one_chunk_and_paragraphs_are_kept_together() -> None:
    assert chunk_text("One short paragraph.\n\nAnother one.", max_tokens=256) == [
        "One short paragraph.\n\nAnother one."
    ]


def test_huge_sentence_without_punctuation_is_split_on_words() -> None:
    text = " ".join(["word"] * 2000)
    chunks = chunk_text(text, max_tokens=100, overlap=0)
    assert all(approx_tokens(c) <= 100 for c in chunks)
    assert sum(c.count("word") for c in chunks) == 2000


def test_heading_prefix_is_counted_in_every_chunk() -> None:
    chunks = chunk_text(_prose(40), max_tokens=80, overlap=0, prefix="Guide > Setup")
    assert len(chunks) > 1
    assert all(c.startswith("Guide > Setup\n\n") and approx_tokens(c) <= 80 for c in chunks)


# ---- extractors --------------------------------------------------------------------------------


def test_markdown_sections_keep_their_heading_path() -> None:
    md = (
        "---\ntitle: x\n---\n# Travel\nIntro.\n\n## Paris\nEiffel tower.\n\n"
        "```\n# not a heading\n```\n"
        "### Food\nCroissants.\n## Rome\nColosseum.\n"
    )
    out = extract_markdown(Path("t.md"), md.encode())
    assert out.title == "Travel"
    by_heading = {s.heading: s.text for s in out.sections}
    assert by_heading["Travel"] == "Intro."
    assert "# not a heading" in by_heading["Travel > Paris"]
    assert by_heading["Travel > Paris > Food"] == "Croissants."
    assert by_heading["Travel > Rome"] == "Colosseum."


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("héllo wörld".encode(), "héllo wörld"),
        ("\ufeffbom text".encode(), "bom text"),
        ("utf16 ünïcode".encode("utf-16"), "utf16 ünïcode"),
        ("café crème, naïve".encode("cp1252"), "café crème, naïve"),
        (b"line1\r\nline2\rline3", "line1\nline2\nline3"),
    ],
)
def test_decode_text(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (bytes([1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15]) * 100, "binary"),
    ],
)
def test_decode_rejects_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(IngestError, match=reason):
        decode_text(data)


def test_registry_lets_other_formats_plug_in(tmp_path: Path) -> None:
    @register(".tera-test")
    def upper(path: Path, data: bytes) -> Extracted:
        return Extracted(
            title="T", sections=[Section(text=data.decode().upper(), meta={"page": 1})]
        )

    assert extractor_for(tmp_path / "x.TERA-TEST") is upper
    assert extractor_for(tmp_path / "x.md") is extract_markdown


def test_iter_files_recurses_skips_hidden_and_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("x")
    (tmp_path / "top.txt").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    names = sorted(p.name for p in iter_files([tmp_path, tmp_path / "top.txt"]))
    assert names == ["deep.txt", "loop", "top.txt"]  # the link, not followed, gets a result


# ---- the pipeline (tiny real embedding model, real Qdrant engine) ------------------------------


def make_folder(root: Path) -> Path:
    (root / "notes" / "sub").mkdir(parents=True)
    (root / "notes" / "gate.md").write_text("# House\n\nThe gate code is 4512.\n")
    (root / "notes" / "sub" / "paris.txt").write_text("The capital of france is paris.")
    (root / "notes" / "cp1252.txt").write_bytes("The café is blue.".encode("cp1252"))
    (root / "notes" / "empty.txt").write_text("")
    (root / "notes" / "archive.7z").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return root / "notes"


def test_upload_folder_reports_per_file_and_progress(engine: Engine, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    events = list(engine.upload([folder]))
    res = results(events)
    assert {n: r.status for n, r in res.items()} == {
        "gate.md": ADDED,
        "paris.txt": ADDED,
        "cp1252.txt": ADDED,
        "empty.txt": FAILED,
        "archive.7z": SKIPPED,
    }
    assert "empty" in res["empty.txt"].reason
    assert "Not a supported document type (.7z)" in res["archive.7z"].reason
    progress = [e for e in events if isinstance(e, IngestProgress)]
    assert progress[0].files_done == 0 and progress[-1].files_done == progress[-1].files_total == 5
    assert [p.files_done for p in progress] == sorted(p.files_done for p in progress)
    assert engine.count("document") == 3
    hit = engine.search("gate code", 1)[0]
    assert "4512" in hit.text and hit.source.endswith("gate.md")
    assert hit.text.startswith("House\n\n")  # the heading travels with the chunk


def test_same_file_twice_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    list(engine.upload([folder]))
    before = engine.count()
    again = results(list(engine.upload([folder])))
    assert again["gate.md"].status == UNCHANGED
    assert again["paris.txt"].status == UNCHANGED
    assert engine.count() == before


def test_changed_file_replaces_its_chunks(engine: Engine, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("\n\n".join(_prose(20) for _ in range(6)))
    first = results(list(engine.upload([doc])))["doc.txt"]
    assert first.status == ADDED and first.chunks > 1
    doc.write_text("The gate code changed to 9876.")
    second = results(list(engine.upload([doc])))["doc.txt"]
    assert second.status == UPDATED and second.chunks == 1
    assert engine.count("document") == 1
    texts = [h.text for h in engine.search("the gate code changed", 10)]
    assert texts == ["The gate code changed to 9876."]
    (info,) = engine.documents()
    assert info.chunks == 1 and info.source == str(doc.resolve())


def test_unreadable_vanishing_and_too_large_files_fail_with_reasons(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from tera_desktop.core.ingest import pipeline

    ok = tmp_path / "ok.txt"
    ok.write_text("my cat is blue")
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")
    vanishing = tmp_path / "vanishing.txt"
    vanishing.write_text("here now")
    big = tmp_path / "big.txt"
    big.write_text("word " * 300_000)  # 1.5 MB
    real_open = open

    def guarded_open(file: object, *args: object, **kwargs: object) -> object:
        if Path(str(file)) == locked:
            raise PermissionError(13, "Permission denied", str(file))
        if Path(str(file)) == vanishing:
            raise FileNotFoundError(2, "No such file", str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pipeline, "open", guarded_open, raising=False)
    engine.settings = replace(engine.settings, max_file_mb=1)
    # tmp_path also holds this engine's own TERA_HOME: its files must not be ingested
    assert engine.paths.data.is_relative_to(tmp_path)
    res = results(list(engine.upload([tmp_path])))
    assert set(res) == {"ok.txt", "locked.txt", "vanishing.txt", "big.txt"}
    assert res["ok.txt"].status == ADDED
    assert "Permission denied" in res["locked.txt"].reason
    assert "disappeared" in res["vanishing.txt"].reason
    assert res["big.txt"].status == SKIPPED
    assert "too large" in res["big.txt"].reason and "max_file_mb" in res["big.txt"].cli_reason
    assert engine.count() == 1


def test_missing_path_is_reported(engine: Engine, tmp_path: Path) -> None:
    res = list(engine.upload([tmp_path / "nope"]))
    assert isinstance(res[0], FileResult) and res[0].status == FAILED
    assert "No such file" in res[0].reason


def test_cancel_stops_between_files_and_keeps_whole_files(engine: Engine, tmp_path: Path) -> None:
    for i in range(40):
        (tmp_path / f"f{i:02}.txt").write_text(f"note {i} about the {WORDS[i % len(WORDS)]}")
    cancel = threading.Event()
    seen: list[FileResult] = []
    with pytest.raises(Cancelled):
        for event in engine.upload([tmp_path], cancel=cancel):
            if isinstance(event, FileResult):
                seen.append(event)
                if len(seen) == 3:
                    cancel.set()
    stored = engine.count("document")
    assert 3 <= stored < 40
    assert {d.chunks for d in engine.documents()} == {1}
    rest = results(list(engine.upload([tmp_path])))
    assert sum(r.status == UNCHANGED for r in rest.values()) == stored
    assert engine.count("document") == 40


def test_remember_dedups_and_rejects_empty(engine: Engine) -> None:
    a = engine.remember("The gate   code is 4512")
    b = engine.remember("the gate code is 4512")
    assert a.is_new and not b.is_new and a.id == b.id
    assert engine.count("fact") == 1
    with pytest.raises(IngestError, match="empty"):
        engine.remember("   ")
    facts = engine.facts()
    assert facts[0].text == "The gate code is 4512" and facts[0].created_at.endswith("+00:00")


def test_killed_mid_ingestion_leaves_no_half_document(
    tmp_path: Path, tiny_embedding: Path, tiny_settings: object
) -> None:
    """`tera upload` of a 1,000-file folder is killed (SIGKILL) part-way; the next run stores
    every file exactly once: those done before are unchanged, none is half-stored."""
    folder = tmp_path / "many"
    expected = {}
    for i in range(1000):
        sub = folder / f"box{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        parts = (f"Part {j} of note {i}: the {WORDS[(i + j) % len(WORDS)]}." * 6 for j in range(3))
        (sub / f"n{i:04}.txt").write_text("\n\n".join(parts))
    home = tmp_path / "home"
    env = {**os.environ, "TERA_HOME": str(home), "TERA_EMBEDDING_MODEL": str(tiny_embedding)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tera_desktop.cli import main; sys.exit(main())",
            "upload",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for lines, _ in enumerate(proc.stdout, 1):
        if lines == 150:
            time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings

    eng = Engine(get_paths(home), Settings(embedding_model=str(tiny_embedding)))
    try:
        partial = eng.documents()
        assert 150 <= len(partial) < 1000
        res = results(list(eng.upload([folder])))
        assert all(r.status in (ADDED, UNCHANGED) for r in res.values())
        assert sum(r.status == UNCHANGED for r in res.values()) == len(partial)
        docs = eng.documents()
        assert len(docs) == 1000
        for r in res.values():
            expected[r.doc_id] = r.chunks
        stored = eng.store.chunks_of  # every document holds exactly its own chunks, once
        for d in docs:
            chunks = stored(d.doc_id, 0, 10_000)
            assert (
                [c.chunk_index for c in chunks]
                == list(range(d.chunks))
                == list(range(expected[d.doc_id]))
            )
    finally:
        eng.close()


def test_binary_content_under_a_text_name_fails_and_huge_files_are_skipped(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "fake.txt").write_bytes(b"\x00\x01\x02" * 1000)
    huge = tmp_path / "huge.log"
    with open(huge, "wb") as fh:  # a sparse 2 GB file: nothing is read, the size says enough
        fh.truncate(2 * 1024**3)
    (tmp_path / "ok.md").write_text("my cat is blue")
    res = results(list(engine.upload([tmp_path])))
    assert res["fake.txt"].status == FAILED and "binary" in res["fake.txt"].reason
    assert res["huge.log"].status == SKIPPED and "2147 MB" in res["huge.log"].reason
    assert res["ok.md"].status == ADDED


def test_forgetting_a_source_leaves_nothing_of_it(engine: Engine, tmp_path: Path) -> None:
    """No chunk, vector or payload of a forgotten file remains, live or pending, and neither
    meaning nor keyword search can bring it back."""
    from tera_desktop.core.store import Where

    doc = tmp_path / "secret.md"
    doc.write_text("# Vault\n\nThe vault code is VAULT-7731.\n\n" + _prose(30))
    keep = tmp_path / "keep.txt"
    keep.write_text("my cat is blue")
    list(engine.upload([doc, keep]))
    source = str(doc.resolve())
    assert engine.store.document(source) is not None
    removed = engine.forget_source(doc).removed
    assert removed >= 2
    raw = engine.store._scroll(Where(must=(("source", source),)))  # every state, not only live
    assert raw == []
    assert engine.store.document(source) is None
    for mode in ("dense", "keyword", "hybrid", "expanded"):
        hits = engine.search("vault code VAULT-7731", 10, mode=mode)
        assert all(h.source != source for h in hits), mode
    assert [d.source for d in engine.documents()] == [str(keep.resolve())]
