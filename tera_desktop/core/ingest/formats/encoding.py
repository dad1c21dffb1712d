"""Text decoding with charset detection: a drop-in for ``extractors.decode_text``.

UTF-8 (with or without a BOM) and UTF-16/32 with a BOM are decoded directly. Anything else goes to
charset-normalizer (a dependency of ``requests``, so it is on every install), which recognizes
legacy code pages (Windows-1251 Russian, Shift-JIS, GBK, Windows-1250 Polish, …) and BOM-less
UTF-16. On short Western text it cannot tell Windows-1252 from its Central-European cousins (every
byte decodes in each, and the language evidence is the same), so when Windows-1252 is as good as
its best candidate, Windows-1252 wins. Binary data raises
``IngestError``.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar

from tera_desktop.core.errors import IngestError

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SAMPLE = 65536
# charset-normalizer's "chaos" (mess ratio, 0..1) and "coherence" (language evidence, 0..1).
_CHAOS_TIE = 0.01
_COHERENCE_TIE = 0.02


def decode_bytes(data: bytes) -> str:
    """Bytes → text with ``\\n`` line ends. Raises ``IngestError`` for empty, binary or
    undecodable data (same contract as ``extractors.decode_text``).

    A few bad bytes never spoil a file: UTF-8 text with stray invalid bytes is decoded line by
    line (a line that is not UTF-8 is read in the legacy encoding detected for such lines, else
    its bad bytes become U+FFFD), and a few NUL bytes sprinkled in text are dropped. Bytes that
    were replaced or dropped are counted in ``counting_replacements()``."""
    if not data.strip():
        raise IngestError("The file is empty.")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(codec))
            except UnicodeDecodeError:
                if codec != "utf-8-sig":
                    message = f"The file claims to be {codec.upper()} but is not."
                    raise IngestError(message) from None
                return _check_text(_decode_lines(data[len(bom) :]))
    nuls = data.count(b"\x00")
    if 0 < nuls <= max(16, len(data) // 200):  # NUL-sprinkled text, not UTF-16 (half NULs)
        stripped = data.replace(b"\x00", b"")
        if _is_utf8(stripped) or _mostly_utf8(stripped):
            _note_replaced(nuls)
            return _check_text(_decode_lines(stripped))
    has_nul = nuls > 0
    if not has_nul:
        if _is_utf8(data):
            return _check_text(data.decode("utf-8"))
        if _mostly_utf8(data):
            return _check_text(_decode_lines(data))
    detected = detect_encoding(data)
    if detected is None or (has_nul and not detected.startswith(("utf_16", "utf_32"))):
        if has_nul:
            raise IngestError("This is a binary file, not text (no extractor handles this type).")
        raise IngestError(
            "The text cannot be decoded (its character encoding was not recognized).",
            "Save it as UTF-8 and add it again.",
        )
    try:
        text = data.decode(detected)
    except UnicodeDecodeError:
        # Detection looks at samples of big files; a bad byte further on must not lose the file.
        text = data.decode(detected, errors=_COUNT_HANDLER)
    return _check_text(text)


# --------------------------------------------------------------------------------------------------
# Per-line decoding and the count of replaced bytes
# --------------------------------------------------------------------------------------------------

_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_REPLACED: ContextVar[list[int] | None] = ContextVar("tera_replaced_bytes", default=None)
_COUNT_HANDLER = "tera-count-replace"


def _count_replace(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _note_replaced(exc.end - exc.start)
    return "\ufffd", exc.end


codecs.register_error(_COUNT_HANDLER, _count_replace)


def _note_replaced(n: int) -> None:
    counter = _REPLACED.get()
    if counter is not None:
        counter[0] += n


@contextlib.contextmanager
def counting_replacements() -> Iterator[list[int]]:
    """Count the bytes that decoding replaced or dropped inside the block: ``counter[0]``."""
    counter = [0]
    token = _REPLACED.set(counter)
    try:
        yield counter
    finally:
        _REPLACED.reset(token)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few stray bytes: valid multi-byte sequences outnumber the invalid bytes."""
    valid = len(_UTF8_MULTIBYTE.findall(data))
    if not valid:
        return False
    token = _REPLACED.set([0])
    try:
        data.decode("utf-8", errors=_COUNT_HANDLER)
        invalid = (_REPLACED.get() or [0])[0]
    finally:
        _REPLACED.reset(token)
    return valid >= 2 * invalid


def _decode_lines(data: bytes) -> str:
    """UTF-8 line by line: lines that are not UTF-8 and hold no UTF-8 character at all are read
    in the legacy encoding detected for them (a Windows-1252 line pasted into a UTF-8 file); the
    invalid bytes of the others become U+FFFD (counted)."""
    lines = data.split(b"\n")
    out: list[str | None] = []
    legacy_lines: list[int] = []
    for i, line in enumerate(lines):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
            if not _UTF8_MULTIBYTE.search(line):
                legacy_lines.append(i)
    legacy = None
    if legacy_lines:
        sample = b"\n".join(lines[i] for i in legacy_lines[:2000])
        found = detect_encoding(sample)
        legacy = found if found and not found.startswith(("utf_8", "utf_16", "utf_32")) else None
    legacy_set = set(legacy_lines) if legacy else set()
    for i, text in enumerate(out):
        if text is None:
            read = _legacy_line(lines[i], legacy) if i in legacy_set else None
            out[i] = read or lines[i].decode("utf-8", errors=_COUNT_HANDLER)
    return "\n".join(t or "" for t in out)


def _legacy_line(line: bytes, codec: str | None) -> str | None:
    """``line`` in ``codec`` when that reads every non-ASCII byte as a letter inside a word
    ("déjà", "collée"); a stray byte standing alone, or read as a symbol or a control character,
    is no evidence of an encoding: the caller replaces it instead."""
    if not codec:
        return None
    try:
        text = line.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    for k, ch in enumerate(text):
        if ord(ch) < 128:
            continue
        before = text[k - 1] if k else ""
        after = text[k + 1] if k + 1 < len(text) else ""
        if not ch.isalpha() or not (_ascii_letter(before) or _ascii_letter(after)):
            return None
    return text


def _ascii_letter(ch: str) -> bool:
    return bool(ch) and ch.isascii() and ch.isalpha()


def detect_encoding(data: bytes) -> str | None:
    """The most likely encoding of ``data`` (a Python codec name), or None when it is not text."""
    from charset_normalizer import from_bytes  # lazy: keeps `import tera_desktop.core` light

    matches = list(from_bytes(data))
    if not matches:
        return None
    floor = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= floor + _CHAOS_TIE]
    ceiling = max(m.coherence for m in tied)
    best = [m for m in tied if m.coherence >= ceiling - _COHERENCE_TIE]  # in charset-normalizer's
    for m in best:  # order; Windows-1252 wins when it is as good as the best on both measures
        if "cp1252" in (m.encoding, *m.could_be_from_charset):
            return "cp1252"
    return str(best[0].encoding)


def _check_text(text: str) -> str:
    sample = text[:_SAMPLE]
    if sample and len(_CONTROL.findall(sample)) > max(8, len(sample) // 100):
        raise IngestError("This looks like a binary file, not text.")
    if not text.strip():
        raise IngestError("The file holds no text.")
    return text.replace("\r\n", "\n").replace("\r", "\n")
