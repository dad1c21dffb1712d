"""Extractors turn a file's bytes into text sections. Other formats plug in with ``@register``.

An extractor gets the path and the raw bytes and returns an ``Extracted``: a title and a list of
``Section``s (text plus the heading path it sits under and any metadata, e.g. a page number). It
raises ``IngestError`` with a reason a user can act on when the file cannot be read as that format.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import IngestError, UnsupportedFileError


@dataclass(frozen=True)
class Section:
    text: str
    heading: str = ""  # "Title > Chapter > Section": context kept with every chunk of the section
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Extracted:
    title: str
    sections: list[Section]
    meta: dict[str, Any] = field(default_factory=dict)


Extractor = Callable[[Path, bytes], Extracted]

_REGISTRY: dict[str, Extractor] = {}


def register(*suffixes: str) -> Callable[[Extractor], Extractor]:
    """Register an extractor for file suffixes (lower case, with the dot: ``".pdf"``)."""

    def wrap(fn: Extractor) -> Extractor:
        for suffix in suffixes:
            _REGISTRY[suffix.lower()] = fn
        return fn

    return wrap


@dataclass(frozen=True)
class ExtractProgress:
    """How far a long extraction is in one file (seconds of a recording transcribed)."""

    done: float
    total: float  # 0 when unknown
    unit: str = "s"


@dataclass
class ExtractContext:
    """What a streaming extractor gets instead of the file's bytes: the chunk budget (it returns
    finished chunks), the user's Stop, and the speech-to-text source (``core.speech``)."""

    max_tokens: int = 256
    overlap: int = 32
    count_tokens: Callable[[str], int] | None = None
    cancel: threading.Event | None = None
    speech: Any = None  # core.speech.SpeechSource, or None: audio is skipped with a reason


# A streaming extractor reads the file itself (long recordings are never read whole), yields
# ExtractProgress as it goes and then one Extracted whose sections are the finished chunks.
StreamExtractor = Callable[[Path, ExtractContext], Iterator["ExtractProgress | Extracted"]]

_STREAM_REGISTRY: dict[str, StreamExtractor] = {}


def register_stream(*suffixes: str) -> Callable[[StreamExtractor], StreamExtractor]:
    """Register a streaming extractor (audio) for file suffixes."""

    def wrap(fn: StreamExtractor) -> StreamExtractor:
        for suffix in suffixes:
            _STREAM_REGISTRY[suffix.lower()] = fn
        return fn

    return wrap


def stream_extractor_for(path: Path) -> StreamExtractor | None:
    return _STREAM_REGISTRY.get(path.suffix.lower())


def damaged_error(message: str, hint: str, detail: str = "") -> IngestError:
    """The error for a file that is damaged or not what its name says, with an optional detail
    (kept short) inside the message."""
    if detail:
        message = f"{message.rstrip('.')} ({detail[:120]})."
    return IngestError(message, hint)


def supported_suffixes() -> list[str]:
    return sorted({*_REGISTRY, *_STREAM_REGISTRY})


def extractor_for(path: Path) -> Extractor:
    """The registered extractor for ``path``'s suffix; for unknown suffixes, plain text if the
    content is text (source code, logs, notes without an extension), else the file is skipped as
    unsupported."""
    return _REGISTRY.get(path.suffix.lower(), _extract_unknown)


def _extract_unknown(path: Path, data: bytes) -> Extracted:
    try:
        return extract_text(path, data)
    except IngestError as exc:
        if "binary" in str(exc):
            kind = path.suffix.lower() or "without an extension"
            raise UnsupportedFileError(
                f"Not a supported document type ({kind}).",
                f"Tera reads {', '.join(supported_suffixes()[:12])}… and plain text.",
            ) from None
        raise


# --------------------------------------------------------------------------------------------------
# Text decoding
# --------------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """Bytes → text: a BOM, else UTF-8, else the detected encoding (charset-normalizer, with
    Windows-1252 preferred for Western text). Binary data raises ``IngestError``."""
    from tera_desktop.core.ingest.formats.encoding import decode_bytes

    return decode_bytes(data)


# --------------------------------------------------------------------------------------------------
# Plain text and Markdown
# --------------------------------------------------------------------------------------------------


@register(".txt", ".text", ".log", ".csv", ".tsv", ".rst", ".org", ".json", ".yaml", ".yml")
def extract_text(path: Path, data: bytes) -> Extracted:
    text = decode_text(data)
    from tera_desktop.core.ingest.whatsapp import extract_whatsapp_text, looks_like_whatsapp

    if looks_like_whatsapp(text):  # a WhatsApp chat export saved as .txt
        return extract_whatsapp_text(text, [path.name])
    return Extracted(title=path.name, sections=[Section(text=text)])


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^(```|~~~)")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


@register(".md", ".markdown", ".mdown", ".mkd")
def extract_markdown(path: Path, data: bytes) -> Extracted:
    """Split at ATX headings (outside code fences); each section carries its heading path."""
    text = _FRONT_MATTER.sub("", decode_text(data), count=1)
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    buf: list[str] = []
    title = ""
    in_fence = False

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body:
            sections.append(Section(text=body, heading=" > ".join(h for _, h in stack)))
        buf.clear()

    for line in text.split("\n"):
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            title = title or heading
        else:
            buf.append(line)
    flush()
    if not sections:  # only headings: keep them as the text
        sections = [Section(text=" > ".join(h for _, h in stack) or text.strip())]
    return Extracted(title=title or path.name, sections=sections)
