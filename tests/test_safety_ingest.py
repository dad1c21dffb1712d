"""Ingestion robustness (issue 12, point 6): each bad file fails alone with a clear reason, or
succeeds, and the rest of the batch is stored.

Symlink loops, names that are not UTF-8, zip members that lie about their size, stray bytes in
otherwise good text, NUL-sprinkled text, and megabyte lines with no sentence end. Real parts: the
tiny embedding model and the real store (``engine`` fixture).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import threading
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import Cancelled, IngestError
from tera_desktop.core.ingest import ADDED, FAILED, SKIPPED, FileResult, decode_text, iter_files
from tera_desktop.core.ingest.chunker import approx_tokens, chunk_text
from tera_desktop.core.ingest.formats import docx as docx_format
from tera_desktop.core.ingest.formats.encoding import counting_replacements
from tera_desktop.core.ingest.pipeline import LOOP_REASON, resolve_source, source_key
from tera_desktop.core.ingest.safezip import ZipLimitError, inflate_all
from tera_desktop.core.units import MB, format_mb


def results(events: list[object]) -> dict[str, FileResult]:
    return {Path(e.path).name: e for e in events if isinstance(e, FileResult)}


def good_files(folder: Path, n: int = 8) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        (folder / f"good{i}.txt").write_text(f"Good file number {i} talks about the blue sky.")
        names.append(f"good{i}.txt")
    return names


# ---- symlink loops -------------------------------------------------------------------------------


def test_symlink_loops_are_skipped_with_a_reason_and_the_rest_is_stored(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    names = good_files(folder)
    os.symlink(folder / "self.txt", folder / "self.txt")  # a link to itself
    os.symlink(folder / "pong.txt", folder / "ping.txt")  # two links pointing at each other
    os.symlink(folder / "ping.txt", folder / "pong.txt")
    os.symlink(folder, folder / "sub")  # a folder link back up: not followed
    events = list(engine.upload([folder, folder / "self.txt"]))
    res = results(events)
    assert all(res[n].status == ADDED for n in names), res
    for loop in ("self.txt", "ping.txt", "pong.txt"):
        assert res[loop].status == SKIPPED and res[loop].reason == LOOP_REASON
    assert engine.count() == 8
    assert sorted(p.name for p in iter_files([folder]) if p.name.startswith("good")) == names


# ---- file names that are not UTF-8 ---------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_stored_listed_and_forgotten(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    names = good_files(folder, 3)
    raw = os.fsencode(folder) + b"/caf\xe9 \xff.txt"
    with open(raw, "wb") as fh:
        fh.write(b"The cafe on the corner sells blue cups.")
    events = list(engine.upload([folder]))
    res = {e.path: e for e in events if isinstance(e, FileResult)}
    odd = [r for path, r in res.items() if "caf" in path]
    assert len(odd) == 1 and odd[0].status == ADDED, res
    assert odd[0].path.endswith("caf\\xe9 \\xff.txt")  # printable anywhere
    odd[0].path.encode("utf-8", "strict")
    assert all(res[str(folder / n)].status == ADDED for n in names)
    docs = {d.source for d in engine.documents()}
    assert odd[0].path in docs
    # the user names the file the way the file system does; Tera finds it
    assert resolve_source(os.fsdecode(raw)) == odd[0].path
    assert engine.forget_source(os.fsdecode(raw)).removed == 1
    assert odd[0].path not in {d.source for d in engine.documents()}
    # a second upload of the same folder finds the other files unchanged, re-adds the odd one
    again = [e for e in engine.upload([folder]) if isinstance(e, FileResult)]
    assert [e.status for e in again].count("unchanged") == 3


def test_source_key_leaves_utf8_names_alone() -> None:
    assert source_key("/home/me/café.txt") == "/home/me/café.txt"
    assert source_key(os.fsdecode(b"/x/caf\xe9.txt")) == "/x/caf\\xe9.txt"


def test_upload_under_a_strict_ascii_terminal_prints_every_result(
    tmp_path: Path, tiny_embedding: Path
) -> None:
    import subprocess

    folder = tmp_path / "docs"
    good_files(folder, 2)
    with open(os.fsencode(folder) + b"/caf\xe9.txt", "wb") as fh:
        fh.write(b"The cafe sells blue cups.")
    env = {
        **os.environ,
        "TERA_HOME": str(tmp_path / "home"),
        "TERA_EMBEDDING_MODEL": str(tiny_embedding),
        "PYTHONIOENCODING": "ascii:strict",
        "LC_ALL": "C",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tera_desktop.cli", "upload", str(folder)],
        env=env,
        capture_output=True,
        timeout=300,
    )
    out = done.stdout.decode("ascii")  # strict: the names come out escaped, never raw bytes
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert out.count("added") >= 3 and "caf\\xe9.txt" in out
    assert b"Traceback" not in done.stderr and b"Logging error" not in done.stderr


# ---- zip members that lie about their size -------------------------------------------------------


def _docx_bytes(document_xml: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        )
        z.writestr("word/document.xml", document_xml)
    return buf.getvalue()


def _understate(data: bytes, member: str, size: int, crc_of: bytes | None = None) -> bytes:
    """``data`` (a zip) with ``member``'s declared size set to ``size`` in the central directory
    (and its CRC set to that of ``crc_of``, so the truncated member even checks out)."""
    out = bytearray(data)
    name = member.encode()
    pos = out.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        if bytes(out[pos + 46 : pos + 46 + name_len]) == name:
            struct.pack_into("<I", out, pos + 24, size)
            if crc_of is not None:
                struct.pack_into("<I", out, pos + 16, zlib.crc32(crc_of) & 0xFFFFFFFF)
            return bytes(out)
        pos = out.find(b"PK\x01\x02", pos + 4)
    raise AssertionError("member not found")


BOMB_BYTES = 64 * MB


@pytest.fixture(scope="module")
def bomb_xml() -> bytes:
    return b"<w:document>" + b"A" * BOMB_BYTES + b"</w:document>"


@pytest.mark.parametrize("forged_crc", [False, True])
def test_docx_that_understates_its_sizes_fails_within_a_small_memory_budget(
    tmp_path: Path, bomb_xml: bytes, forged_crc: bool
) -> None:
    data = _understate(
        _docx_bytes(bomb_xml), "word/document.xml", 2000, bomb_xml[:2000] if forged_crc else None
    )
    assert len(data) < 1 * MB  # ~64 KB that would inflate to 64 MB
    path = tmp_path / "bomb.docx"
    path.write_bytes(data)
    del bomb_xml
    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as caught:
            docx_format.extract_docx(path, data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MB, f"peak {format_mb(peak)} while refusing a bomb"
    text = str(caught.value)
    assert "damaged" in text or "zip bomb" in text


def test_inflate_all_caps_what_is_really_inflated(bomb_xml: bytes) -> None:
    data = _docx_bytes(bomb_xml)  # honest sizes, but past the cap
    with pytest.raises(ZipLimitError):
        inflate_all(data, max_total=8 * MB)
    rebuilt = inflate_all(_docx_bytes(b"<w:document>hello</w:document>"), max_total=8 * MB)
    with zipfile.ZipFile(io.BytesIO(rebuilt)) as z:
        assert z.read("word/document.xml") == b"<w:document>hello</w:document>"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())


def test_a_bomb_in_a_batch_fails_alone(engine: Engine, tmp_path: Path, bomb_xml: bytes) -> None:
    folder = tmp_path / "docs"
    names = good_files(folder, 3)
    (folder / "bomb.docx").write_bytes(
        _understate(_docx_bytes(bomb_xml), "word/document.xml", 2000)
    )
    res = results(list(engine.upload([folder])))
    assert res["bomb.docx"].status == FAILED and res["bomb.docx"].reason
    assert all(res[n].status == ADDED for n in names)


# ---- decoding: per line, with a count of replaced bytes ------------------------------------------


def decode_counted(data: bytes) -> tuple[str, int]:
    with counting_replacements() as replaced:
        text = decode_text(data)
    return text, replaced[0]


def test_one_stray_byte_does_not_turn_utf8_into_mojibake() -> None:
    french = "Le café est à côté de la crèche, près de l'église.\n" * 20
    data = french.encode() + b"Une ligne avec un octet perdu \x81 ici.\n" + french.encode()
    text, replaced = decode_counted(data)
    assert "café" in text and "Ã" not in text
    assert replaced == 1 and "perdu \ufffd ici" in text


def test_russian_utf8_with_a_stray_byte_is_read() -> None:
    russian = "Привет, это проверка кодировки текста на русском языке.\n" * 30
    data = russian.encode() + b"\xff\xfe broken \xc3 end\n" + russian.encode()
    text, replaced = decode_counted(data)
    assert text.count("Привет") == 60 and replaced == 3


def test_a_windows_1252_line_in_a_utf8_file_is_read_in_its_own_encoding() -> None:
    data = "Première ligne en UTF-8, très bien.\n".encode() * 5
    data += "Une ligne collée depuis Windows: déjà vu.\n".encode("cp1252")
    text, replaced = decode_counted(data)
    assert "déjà vu" in text and "Première" in text and replaced == 0


def test_text_with_a_few_nul_bytes_is_text(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "nul.txt"
    path.write_bytes(b"The meeting is on tuesday.\x00 The gate\x00 code is 4512.\x00\n" * 3)
    text, replaced = decode_counted(path.read_bytes())
    assert "gate code is 4512" in text.replace("  ", " ") and replaced == 9
    res = results(list(engine.upload([path])))
    assert res["nul.txt"].status == ADDED
    assert "9 bytes" in res["nul.txt"].reason  # said with the result, not hidden
    # real binary data is still refused
    with pytest.raises(IngestError, match="binary"):
        decode_text(b"\x00\x01\x02\x03" * 1000)
    # and UTF-16 without a BOM (half NUL bytes) is still UTF-16
    assert decode_text("plain ascii text in utf16".encode("utf-16-le")) == (
        "plain ascii text in utf16"
    )


# ---- chunking: linear, with cancel points --------------------------------------------------------


class CountingCounter:
    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return approx_tokens(text)


@pytest.mark.parametrize(
    "text",
    [
        " ".join(f"word{i}" for i in range(300_000)),  # ~2.3 MB, no sentence end
        "x" * 2_000_000,  # 2 MB without a single space
    ],
    ids=["no-sentence-end", "no-space"],
)
def test_chunking_a_2mb_line_is_linear(text: str) -> None:
    counter = CountingCounter()
    chunks = chunk_text(text, max_tokens=256, overlap=32, count=counter)
    assert chunks and all(approx_tokens(c) <= 256 for c in chunks)
    assert "".join(chunks).replace(" ", "").startswith(text[:1000].replace(" ", ""))
    # the tokenizer sees each character a small, fixed number of times (quadratic would be ~100x)
    assert counter.chars < 12 * len(text), counter.chars / len(text)


def test_chunking_stops_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        chunk_text(" ".join(["word"] * 100_000), max_tokens=64, count=approx_tokens, cancel=cancel)


def test_cancel_reaches_a_file_being_chunked(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text(" ".join(f"word{i}" for i in range(200_000)))
    cancel = threading.Event()
    calls = 0
    real = engine.embedder.count_tokens

    def counting(text: str) -> int:  # the real tokenizer; cancel arrives mid-file
        nonlocal calls
        calls += 1
        if calls == 50:
            cancel.set()
        return real(text)

    engine.embedder.count_tokens = counting  # type: ignore[method-assign]
    with pytest.raises(Cancelled):
        list(engine.upload([path], cancel=cancel))
    assert calls < 2000  # it stopped soon after, not at the end of the file
    assert engine.count() == 0
