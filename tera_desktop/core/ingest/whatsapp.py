"""WhatsApp chat exports (the phone's "Export chat" .zip, or the .txt inside it) → one section per
message, with its sender and time, for the pipeline to pack into chunks (``pack_sections``).

Why a hand-written parser: the one maintained library for these exports on PyPI, ``whatstk``,
pulls in pandas, plotly and seaborn and returns a DataFrame; a few anchored regular expressions do
the job here without any dependency. Both export formats and their common variants are read:

* Android: ``12/31/23, 9:41 PM - Sam: text``, ``31/12/2023, 21:41 - Sam: text``,
  ``31.12.23, 21:41 - Sam: text``, ``2023-12-31 21:41 - Sam: text``;
* iOS: ``[31/12/2023, 21:41:05] Sam: text``, ``[12/31/23, 9:41:05 PM] Sam: text``, lines often
  starting with U+200E (left-to-right mark);
* times in 24h or 12h (``AM``/``PM``, ``am``, ``a.m.``, ``p. m.``), with a normal, no-break or
  narrow no-break space (U+202F, as newer exports write) before the AM/PM marker; seconds optional.

A line that does not start with a date and time continues the previous message (multi-line
messages). Lines before the first dated line are ignored.

Kinds of line (``ChatLine.kind``):

* ``"message"``: a person's text. Android's ``<This message was edited>`` marker is removed.
* ``"system"``: notices without a person's words: lines with no ``Sender:`` part ("Messages and
  calls are end-to-end encrypted…", "Sam added Alex", "You created group …"), iOS notices (their
  text starts with U+200E, and iOS attributes them to the chat's name), missed calls and security
  code changes. Their ``sender`` is ``""``. Kept in ``parse_chat``'s result, left out of sections.
* ``"media"``: placeholders for what the text export does not carry: ``<Media omitted>`` (and a
  few translations), ``image omitted``, ``video omitted``, ``sticker omitted``, ``GIF omitted``,
  ``<attached: 00000012-PHOTO-2023-05-02.jpg>``, ``IMG-….jpg (file attached)``, "This message was
  deleted", "You deleted this message". Left out of sections: a file name or "image omitted" says
  nothing worth finding, and packing them would only dilute the chunks' embeddings. An attachment
  followed by a caption (Android writes the caption on the next lines) is a ``"message"`` whose
  text is the caption.

Day/month order is decided once per file, from every dated line: if any first field is above 12
the file is D/M; else if any second field is above 12 it is M/D; else (every date ambiguous) M/D if
the file writes 12-hour AM/PM times (the US locale is the one that pairs them), D/M otherwise. A
date that is invalid in the chosen order is tried in the other one. Two-digit years are 20xx; a
four-digit first field means Y-M-D. Times are naive local times, exactly as written.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from tera_desktop.core.errors import IngestError, UnsupportedFileError
from tera_desktop.core.ingest.extractors import Extracted, Section, decode_text, register
from tera_desktop.core.ingest.safezip import ZipLimitError, read_member
from tera_desktop.core.units import MB, format_mb

ChatKind = Literal["message", "system", "media"]

MAX_MEMBER_BYTES = 200 * MB  # a chat text in an export zip may not declare more
_SNIFF_BYTES = 64 * 1024  # read to tell whether an oddly named .txt in a zip is a chat
_SNIFF_LINES = 200  # non-empty lines looked at by looks_like_whatsapp
_SNIFF_MEMBERS = 20  # oddly named .txt members sniffed at most
_MAX_SENDER = 80  # longer "names" before a colon are a notice's text, not a sender

NOT_AN_EXPORT = (
    "This zip file is not a WhatsApp chat export (Tera reads a .zip only when it holds a "
    "WhatsApp chat)."
)
NOT_AN_EXPORT_HINT = "Unzip it and add the files inside instead."


@dataclass(frozen=True)
class ChatLine:
    timestamp: datetime  # naive local time, as written in the export
    sender: str  # "" for system lines
    text: str
    kind: ChatKind


# --------------------------------------------------------------------------------------------------
# Line patterns
# --------------------------------------------------------------------------------------------------

_SP = r"[ \t\u00a0\u202f]"  # space, no-break space, narrow no-break space (newer exports)
_DATE = r"(?P<d1>\d{1,4})(?P<sep>[/.\-])(?P<d2>\d{1,2})(?P=sep)(?P<d3>\d{1,4})\.?"
_TIME = (
    r"(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?"
    rf"(?:{_SP}*(?P<ampm>[AaPp]\.?{_SP}?[Mm]\.?))?"
)
_ANDROID = re.compile(rf"{_DATE},?{_SP}+{_TIME}{_SP}*[-–]{_SP}(?P<rest>.*)")
_IOS = re.compile(rf"\[{_DATE},?{_SP}+{_TIME}\]{_SP}*(?P<rest>.*)")
# Invisible marks a line or a name may start with (LRM, RLM, BOM, embeddings, isolates).
_LEAD_MARKS = "\u200e\u200f\ufeff\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069"
_MARKS = re.compile("[\u200e\u202a-\u202d\u2066-\u2069\ufeff]")

_SENDER = re.compile(rf"(?P<sender>[^:\n]{{1,{_MAX_SENDER}}}?):(?:{_SP}(?P<body>.*))?")
# Notices whose text holds a colon (a quoted group name) would otherwise read as "Sender: text".
_SYSTEM_PREFIX = re.compile(
    r" (?:changed the subject|changed the group name|changed this group's|created group)\b"
)
_SYSTEM_BODY = re.compile(
    r"(?i)(?:messages (?:and calls )?are end-to-end encrypted\..*"
    r"|missed (?:group )?(?:voice|video) call(?:, .*)?"
    r"|your security code with .+ changed\..*"
    r"|disappearing messages were turned (?:on|off)\..*)"
)
_MEDIA = re.compile(
    r"(?i)(?:<(?:media omitted|medien ausgeschlossen|multimedia omitido|m[ée]dias? omis"
    r"|m[íi]dia oculta|media weggelaten|media omessi)>"
    r"|<attached: [^<>]*>"
    r"|(?:image|video|video note|audio|sticker|gif|contact card|photo|media) omitted"
    r"|(?:.+\.\w{1,5}(?: • .+)? )?document omitted"  # iOS: "Report.pdf • 3 pages document…"
    r"|.+\.\w{1,5} \(file attached\)"
    r"|this message was deleted\.?"
    r"|you deleted this message\.?"
    r"|waiting for this message\..*)"
)
_EDITED = re.compile(r"[ \t\u00a0\u202f\u200e]*<This message was edited>[ \t]*$")
_SUBJECT = re.compile(
    r"(?:created group|changed the subject (?:from .+ )?to|changed the group name to)"
    r" [\"“«](?P<name>[^\"”»]+)[\"”»]"
)
_FILE_TITLE = re.compile(
    r"(?i)^(?:whatsapp[\s_-]*chat|chat\s+de\s+whatsapp|conversa\s+do\s+whatsapp)"
    r"[\s_]*(?:with|mit|con|avec|com|met|med|z|-|–|—)[\s_]+(?P<name>.+?)(?:\s*\(\d+\))?$"
)


@dataclass
class _Header:
    match: re.Match[str]
    bracketed: bool
    line: str
    more: list[str] = field(default_factory=list)


def _header(line: str) -> _Header | None:
    stripped = line.lstrip(_LEAD_MARKS)
    if stripped.startswith("["):
        match = _IOS.fullmatch(stripped)
        return _Header(match, True, line) if match else None
    match = _ANDROID.fullmatch(stripped)
    return _Header(match, False, line) if match else None


def looks_like_whatsapp(text: str) -> bool:
    """Whether ``text`` is a WhatsApp chat export: its first non-empty line is a dated chat line
    (exports always start with one), and at least 3 of its first 200 non-empty lines are (or all
    of them, if it has fewer than 3). 200 rather than 20 so that a long multi-line first message
    does not hide the lines after it."""
    lines = [line.rstrip("\r") for line in text[:_SNIFF_BYTES].split("\n") if line.strip()]
    lines = lines[:_SNIFF_LINES]
    if not lines or _header(lines[0]) is None:
        return False
    hits = sum(1 for line in lines if _header(line) is not None)
    return hits >= min(3, len(lines))


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def parse_chat(text: str) -> list[ChatLine]:
    """Every dated line of a chat export (with its continuation lines), in file order."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    headers: list[_Header] = []
    for line in text.split("\n"):  # not splitlines(): U+2028 and friends stay inside a message
        header = _header(line)
        if header is not None:
            headers.append(header)
        elif headers:
            headers[-1].more.append(line)
    day_first = _day_first(headers)
    out: list[ChatLine] = []
    for header in headers:
        try:
            stamp = _timestamp(header.match, day_first)
        except ValueError:  # not a real date after all: the line continues the previous message
            if out:
                prev = out[-1]
                joined = "\n".join([prev.text, header.line, *header.more]).strip()
                out[-1] = ChatLine(prev.timestamp, prev.sender, _clean(joined), prev.kind)
            continue
        out.append(_classify(header, stamp))
    return out


def _day_first(headers: list[_Header]) -> bool:
    pairs = [(int(h.match["d1"]), int(h.match["d2"])) for h in headers if len(h.match["d1"]) <= 2]
    if any(first > 12 for first, _ in pairs):
        return True
    if any(second > 12 for _, second in pairs):
        return False
    return not any(h.match["ampm"] for h in headers)


def _timestamp(match: re.Match[str], day_first: bool) -> datetime:
    d1, d2, d3 = match["d1"], match["d2"], match["d3"]
    hour, minute, second = int(match["hh"]), int(match["mm"]), int(match["ss"] or 0)
    if ampm := match["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError("12-hour time out of range")
        hour = hour % 12 + (12 if ampm.lower().startswith("p") else 0)
    if len(d1) == 4:  # 2023-12-31
        return datetime(int(d1), int(d2), int(d3), hour, minute, second)
    if len(d1) == 3 or len(d3) not in (2, 4):
        raise ValueError("not a date")
    year = int(d3) + (2000 if len(d3) == 2 else 0)
    a, b = int(d1), int(d2)
    day, month = (a, b) if day_first else (b, a)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return datetime(year, day, month, hour, minute, second)  # the other order, else raise


def _clean(text: str) -> str:
    return _MARKS.sub("", text).strip()


def _classify(header: _Header, stamp: datetime) -> ChatLine:
    rest = header.match["rest"]
    sender_match = _SENDER.fullmatch(rest)
    # "~ Sam": how newer exports write a name that is not in the phone's contacts
    sender = _clean(sender_match["sender"]).lstrip("~").strip() if sender_match else ""
    if not sender_match or not sender or _SYSTEM_PREFIX.search(sender_match["sender"]):
        return ChatLine(stamp, "", _clean("\n".join([rest, *header.more])), "system")
    first = sender_match["body"] or ""
    notice = header.bracketed and first.startswith("\u200e")  # iOS marks notices so
    first_plain = _clean(first.replace("\u200e", ""))
    body = _clean(_EDITED.sub("", "\n".join([first.lstrip(_LEAD_MARKS), *header.more])))
    if _MEDIA.fullmatch(first_plain):
        caption = _clean("\n".join(header.more))
        if caption:
            return ChatLine(stamp, sender, _clean(_EDITED.sub("", caption)), "message")
        return ChatLine(stamp, sender, first_plain, "media")
    if notice or _SYSTEM_BODY.fullmatch(first_plain):
        return ChatLine(stamp, "", body, "system")
    return ChatLine(stamp, sender, body, "message")


# --------------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------------


def participants(lines: Iterable[ChatLine]) -> list[str]:
    """Senders of messages and media, in order of first appearance."""
    seen: dict[str, None] = {}
    for line in lines:
        if line.kind != "system" and line.sender:
            seen.setdefault(line.sender, None)
    return list(seen)


def chat_name(lines: list[ChatLine], file_names: Iterable[str] = ()) -> str:
    """The chat's name: from an export file name ("WhatsApp Chat with Sam.txt", "WhatsApp Chat -
    Family.zip"), else the group's latest subject, else its participants."""
    for name in file_names:
        if match := _FILE_TITLE.match(PurePosixPath(name).stem.strip()):
            return match["name"].strip()
    subject = ""
    for line in lines:
        if line.kind == "system" and (match := _SUBJECT.search(line.text)):
            subject = match["name"].strip()
    if subject:
        return subject
    people = [p for p in participants(lines) if p.lower() != "you"]
    if len(people) > 3:
        return f"{', '.join(people[:3])} and {len(people) - 3} others"
    if len(people) > 1:
        return f"{', '.join(people[:-1])} and {people[-1]}"
    return people[0] if people else ""


def extract_whatsapp_text(text: str, file_names: Iterable[str] = ()) -> Extracted:
    """A decoded chat export → ``Extracted`` with one section per text message."""
    lines = parse_chat(text)
    if not lines:
        raise IngestError("This does not look like a WhatsApp chat export (no dated chat lines).")
    return _extracted(lines, file_names)


def _extracted(lines: list[ChatLine], file_names: Iterable[str]) -> Extracted:
    sections = [
        Section(
            text=f"{line.sender} ({line.timestamp:%Y-%m-%d %H:%M}): {line.text}",
            meta={"sender": line.sender, "timestamp": line.timestamp.isoformat(timespec="seconds")},
        )
        for line in lines
        if line.kind == "message" and line.text
    ]
    if not sections:
        raise IngestError("This WhatsApp chat holds no text messages (only media or notices).")
    name = chat_name(lines, file_names)
    return Extracted(
        title=f"WhatsApp chat with {name}" if name else "WhatsApp chat",
        sections=sections,
        meta={
            "pack_sections": True,
            "source_type": "whatsapp",
            "participants": participants(lines),
        },
    )


def extract_whatsapp(path: Path, data: bytes) -> Extracted:
    """A chat export's .txt (``_chat.txt``, ``WhatsApp Chat with Sam.txt``) → ``Extracted``."""
    return extract_whatsapp_text(decode_text(data), [path.name])


@register(".zip")
def extract_whatsapp_zip(path: Path, data: bytes) -> Extracted:
    """The phone's export .zip: its chat text is read, the attached media are ignored. Any other
    zip raises ``UnsupportedFileError`` (an ``IngestError`` the pipeline reports as skipped)."""
    if not data.strip():
        raise IngestError("The file is empty.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            member = _chat_member(archive)
            if member is None:
                raise UnsupportedFileError(NOT_AN_EXPORT, NOT_AN_EXPORT_HINT)
            raw = _read(archive, member, MAX_MEMBER_BYTES)
    except IngestError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise IngestError(
            f"This zip file is damaged and Tera cannot read it ({type(exc).__name__})."
        ) from None
    except (NotImplementedError, RuntimeError):  # unsupported compression method, encryption
        raise IngestError(
            "This zip file uses compression or encryption Tera cannot read."
        ) from None
    lines = parse_chat(decode_text(raw))
    if not lines:
        raise UnsupportedFileError(NOT_AN_EXPORT, NOT_AN_EXPORT_HINT)
    return _extracted(lines, [path.name, member.filename])


def _chat_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    texts = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and info.filename.lower().endswith(".txt")
    ]
    for info in texts:  # iOS
        if PurePosixPath(info.filename).name == "_chat.txt":
            return info
    for info in texts:  # Android, in several languages
        if _FILE_TITLE.match(PurePosixPath(info.filename).stem):
            return info
    for info in texts[:_SNIFF_MEMBERS]:  # renamed: look inside
        if info.flag_bits & 0x1:
            continue
        with archive.open(info) as fh:
            head = fh.read(_SNIFF_BYTES)
        try:
            if looks_like_whatsapp(decode_text(head)):
                return info
        except IngestError:
            continue
    return None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, refusing one that declares (or inflates to) more than ``limit``: a zip
    bomb is refused before it is inflated."""
    if info.flag_bits & 0x1:
        raise IngestError(
            "The chat in this zip file is password-protected.", "Export the chat again without it."
        )
    if info.file_size > limit:
        raise IngestError(
            f"The chat file in this zip declares {format_mb(info.file_size)} (the limit is "
            f"{format_mb(limit)}): it may be a zip bomb, and Tera will not open it."
        )
    try:
        return read_member(archive, info, limit)  # inflated 1 MB at a time, counted
    except ZipLimitError:
        raise IngestError(
            "The chat file in this zip inflates past the size limit (a zip bomb?)."
        ) from None
