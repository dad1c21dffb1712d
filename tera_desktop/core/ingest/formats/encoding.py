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

import re

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
    undecodable data (same contract as ``extractors.decode_text``)."""
    if not data.strip():
        raise IngestError("The file is empty.")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(codec))
            except UnicodeDecodeError:
                raise IngestError(f"The file claims to be {codec.upper()} but is not.") from None
    has_nul = b"\x00" in data[:_SAMPLE]
    if not has_nul:
        try:
            return _check_text(data.decode("utf-8"))
        except UnicodeDecodeError:
            pass
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
        text = data.decode(detected, errors="replace")
    return _check_text(text)


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
