"""Smaller faults (issue 26.8): a 2 MB line with no spaces is cut into chunk-sized slices, not
stored as one 2,000,000-character chunk; counts are said in the right number ("1 chunk")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tera_desktop.cli import main
from tera_desktop.core.ingest.chunker import MAX_CHARS_PER_TOKEN, chunk_text


def test_a_two_megabyte_word_is_cut_into_chunk_sized_slices() -> None:
    blob = "QUJD" * 500_000  # 2,000,000 characters of base64, no space
    chunks = chunk_text(f"Intro sentence. {blob} The end.", max_tokens=256, overlap=32)
    assert len(chunks) > 500
    assert max(len(c) for c in chunks) <= 256 * MAX_CHARS_PER_TOKEN
    assert blob in "".join(chunks).replace(" ", "").replace("\n", "")


def test_prose_is_chunked_as_before() -> None:
    text = " ".join(f"Sentence {i} says something ordinary about the garden." for i in range(200))
    chunks = chunk_text(text, max_tokens=64, overlap=8)
    assert all(len(c) < 64 * 8 for c in chunks) and len(chunks) > 10


def test_upload_of_a_long_line_stores_many_chunks(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tiny_embedding: Path,
) -> None:
    monkeypatch.setenv("TERA_EMBEDDING_MODEL", str(tiny_embedding))
    blob = tmp_path / "blob.txt"
    blob.write_text("Z" * 200_000 + "\n", encoding="utf-8")
    note = tmp_path / "note.txt"
    note.write_text("one short note\n", encoding="utf-8")
    assert main(["upload", str(note), str(blob)]) == 0
    out = capsys.readouterr().out
    assert "note.txt (1 chunk)" in out
    assert "blob.txt (1 chunk)" not in out and "blob.txt (" in out


def test_a_symlink_loop_in_a_folder_gets_a_result_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tiny_embedding: Path,
) -> None:
    monkeypatch.setenv("TERA_EMBEDDING_MODEL", str(tiny_embedding))
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "note.txt").write_text("a note about the garden\n", encoding="utf-8")
    (folder / "selfdir").symlink_to(".")
    (folder / "sub" / "up").symlink_to("..")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "other").symlink_to(elsewhere)
    assert main(["upload", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"skipped    {folder / 'selfdir'}: A symbolic link that loops back on itself" in out
    assert f"skipped    {folder / 'sub' / 'up'}: A symbolic link that loops back" in out
    assert f"{folder / 'other'}: A link to the folder {elsewhere.resolve()}: not followed" in out
    assert "note.txt (1 chunk)" in out and "3 skipped" in out
