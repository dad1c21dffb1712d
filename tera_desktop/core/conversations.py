"""Chat history: each conversation is one JSON file in ``paths.data / "conversations"``.

Files are written atomically (a temporary file, fsync, ``os.replace``), so a crash leaves either the
old or the new conversation, never half of one. A small state file remembers which conversation was
open last, so the app reopens it. A file that cannot be read is skipped (and logged) when listing:
one bad file never hides the others.

Besides saving and loading, the store renames, finds a conversation by id, id prefix or title (what
``tera ask --chat NAME`` needs), and searches titles and messages; ``export_markdown`` turns one
conversation into Markdown a user can paste anywhere.

No Qt here: the GUI and the tests use the same store.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from tera_desktop.core import clock
from tera_desktop.core.atomic import write_json_atomic
from tera_desktop.core.errors import NotFoundError, TeraError
from tera_desktop.core.paths import Paths
from tera_desktop.core.saved_state import Problem, set_aside

log = logging.getLogger("tera.conversations")

SCHEMA_VERSION = 1
FOLDER_NAME = "conversations"
STATE_FILE = "state.json"
TITLE_MAX_CHARS = 60
RENAME_MAX_CHARS = 200  # a title the user types (rename) may be this long
PREVIEW_MAX_CHARS = 80
MIN_ID_PREFIX = 6  # ``find`` accepts an id prefix this long or longer
ROLE_USER = "user"
ROLE_ASSISTANT = "assistant"
_ID_RE = re.compile(r"[0-9a-f]{32}")


class ConversationError(TeraError):
    """A conversation file exists but cannot be read."""


class InvalidTitleError(TeraError):
    """A title the user typed cannot be used (empty, or too long)."""


def now_iso() -> str:
    """The current time in UTC, ISO 8601 with microseconds (sorts as text, same format always)."""
    return clock.now_iso("microseconds")


def make_title(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """A one-line title from a question: whitespace collapsed, cut at a word with "…"."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


_MARKUP_PREFIX_RE = re.compile(r"^(?:#{1,6}\s+|>\s*|[-*+]\s+|\d{1,3}[.)]\s+)+")
_MARKUP_RE = re.compile(r"\*\*|__|`+|~~")


def make_preview(text: str, limit: int = PREVIEW_MAX_CHARS) -> str:
    """The first non-empty line of an answer as plain text, cut at a word with "…"."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _MARKUP_RE.sub("", _MARKUP_PREFIX_RE.sub("", line.strip()))
    return make_title(line, limit)


def clean_title(title: str, limit: int = RENAME_MAX_CHARS) -> str:
    """A title the user typed as one clean line; InvalidTitleError if empty or too long."""
    if not isinstance(title, str):
        raise InvalidTitleError("A chat title must be text.")
    printable = "".join(ch if ch.isprintable() else " " for ch in title)
    line = " ".join(printable.split())
    if not line:
        raise InvalidTitleError("A chat title cannot be empty.", "Type a few words.")
    if len(line) > limit:
        raise InvalidTitleError(
            f"A chat title can be at most {limit} characters (this one has {len(line)}).",
            "Shorten it.",
        )
    return line


def sources_to_dicts(sources: Iterable[Any]) -> list[dict[str, Any]]:
    """``Source`` objects (or any dataclasses / mappings) as plain JSON-ready dicts."""
    out: list[dict[str, Any]] = []
    for item in sources:
        if is_dataclass(item) and not isinstance(item, type):
            out.append(asdict(item))
        elif isinstance(item, Mapping):
            out.append(dict(item))
        else:
            raise TypeError(f"a source must be a dataclass or a mapping, not {type(item).__name__}")
    return out


def _list_of_objects(value: Any, name: str) -> list[dict[str, Any]]:
    items = value or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError(f"{name} must be a list of objects")
    return [dict(item) for item in items]


@dataclass
class ChatMessage:
    role: str  # "user" | "assistant"
    text: str
    created_at: str = field(default_factory=now_iso)
    sources: list[dict[str, Any]] = field(default_factory=list)  # Source fields as dicts
    stopped: bool = False  # the user stopped the answer
    no_memory: bool = False  # nothing relevant in memory: the model was not run
    error: str = ""  # the error shown instead of (or after) the answer
    query: str = ""  # the standalone query retrieval used (a follow-up rewritten in context)
    checks: dict[str, Any] = field(default_factory=dict)  # answer-check results
    cut: bool = False  # the answer hit the length limit
    evidence: list[dict[str, Any]] = field(default_factory=list)  # matched sentences per source

    def __post_init__(self) -> None:
        if self.role not in (ROLE_USER, ROLE_ASSISTANT):
            raise ValueError(f"role must be 'user' or 'assistant', not {self.role!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatMessage:
        sources = _list_of_objects(data.get("sources"), "sources")
        evidence = _list_of_objects(data.get("evidence"), "evidence")
        checks = data.get("checks") or {}
        if not isinstance(checks, dict):
            raise ValueError("checks must be an object")
        return cls(
            role=str(data["role"]),
            text=str(data.get("text", "")),
            created_at=str(data.get("created_at") or ""),
            sources=[dict(s) for s in sources],
            stopped=bool(data.get("stopped", False)),
            no_memory=bool(data.get("no_memory", False)),
            error=str(data.get("error") or ""),
            query=str(data.get("query") or ""),
            checks=dict(checks),
            cut=bool(data.get("cut", False)),
            evidence=evidence,
        )


@dataclass
class Conversation:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    title: str = ""  # from the first question; "" until there is one
    created_at: str = field(default_factory=now_iso)
    updated_at: str = ""  # set by ConversationStore.save
    messages: list[ChatMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.updated_at:
            self.updated_at = self.created_at

    def add(self, message: ChatMessage) -> ChatMessage:
        """Append a message; the first question becomes the title."""
        self.messages.append(message)
        if not self.title and message.role == ROLE_USER and message.text.strip():
            self.title = make_title(message.text)
        return message

    @property
    def is_empty(self) -> bool:
        return not self.messages

    def summary(self) -> ConversationSummary:
        return ConversationSummary(
            id=self.id,
            title=self.title,
            created_at=self.created_at,
            updated_at=self.updated_at,
            message_count=len(self.messages),
            preview=self.preview(),
        )

    def preview(self) -> str:
        """The first answer's first line, without Markdown marks, at most 80 characters."""
        for message in self.messages:
            if message.role == ROLE_ASSISTANT and message.text.strip():
                return make_preview(message.text)
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "messages": [m.to_dict() for m in self.messages],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conversation:
        version = int(data.get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise ValueError(f"written by a newer Tera (schema {version})")
        messages = data.get("messages") or []
        if not isinstance(messages, list):
            raise ValueError("messages must be a list")
        conv = cls(
            id=str(data["id"]),
            title=str(data.get("title") or ""),
            created_at=str(data.get("created_at") or ""),
            updated_at=str(data.get("updated_at") or ""),
            messages=[ChatMessage.from_dict(m) for m in messages],
        )
        if not conv.title:
            first = next((m for m in conv.messages if m.role == ROLE_USER and m.text.strip()), None)
            conv.title = make_title(first.text) if first else ""
        return conv


@dataclass(frozen=True)
class ConversationSummary:
    """What the conversation list shows, without the messages."""

    id: str
    title: str
    created_at: str
    updated_at: str
    message_count: int
    preview: str = ""  # the first answer's first line (``Conversation.preview``)


class ConversationStore:
    """The conversations of one Tera home. Safe to use from several threads."""

    def __init__(self, paths: Paths) -> None:
        self.folder = paths.data / FOLDER_NAME
        self.state_file = self.folder / STATE_FILE
        self._lock = threading.RLock()

    # ---- files -----------------------------------------------------------------------------------
    def path_of(self, conv_id: str) -> Path:
        if not isinstance(conv_id, str) or not _ID_RE.fullmatch(conv_id):
            raise NotFoundError(f"There is no conversation {conv_id!r}.")
        return self.folder / f"{conv_id}.json"

    def _read(self, path: Path) -> Conversation:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            conv = Conversation.from_dict(data)
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ConversationError(
                f"The conversation file {path.name} cannot be read ({exc}).",
                f"Move it out of {path.parent} to get rid of this message.",
            ) from None
        if conv.id != path.stem:
            raise ConversationError(
                f"The conversation file {path.name} holds another conversation ({conv.id})."
            )
        return conv

    # ---- API -------------------------------------------------------------------------------------
    def new(self) -> Conversation:
        """A new, empty conversation (in memory only until it is saved)."""
        return Conversation()

    def save(self, conv: Conversation) -> None:
        """Write the conversation (atomically), bump ``updated_at`` and make it the last one."""
        path = self.path_of(conv.id)
        if not conv.title:
            first = next((m for m in conv.messages if m.role == ROLE_USER and m.text.strip()), None)
            if first is not None:
                conv.title = make_title(first.text)
        conv.updated_at = now_iso()
        with self._lock:
            write_json_atomic(path, conv.to_dict())
            self.set_last(conv.id)

    def load(self, conv_id: str) -> Conversation:
        """The saved conversation; NotFoundError if there is none, ConversationError if corrupt."""
        path = self.path_of(conv_id)
        try:
            return self._read(path)
        except FileNotFoundError:
            raise NotFoundError(f"There is no conversation {conv_id!r}.") from None

    def exists(self, conv_id: str) -> bool:
        try:
            return self.path_of(conv_id).is_file()
        except NotFoundError:
            return False

    def set_last(self, conv_id: str | None) -> None:
        """Remember ``conv_id`` as the open conversation (None forgets it)."""
        if conv_id is not None:
            self.path_of(conv_id)  # validates the id
        with self._lock:
            write_json_atomic(self.state_file, {"last": conv_id})

    def _last_id(self) -> str | None:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.state_file, exc)
            return None
        last = data.get("last") if isinstance(data, dict) else None
        return last if isinstance(last, str) and _ID_RE.fullmatch(last) else None

    def last(self) -> Conversation | None:
        """The conversation opened or saved last; else the newest readable one; else None."""
        conv_id = self._last_id()
        if conv_id is not None:
            try:
                return self.load(conv_id)
            except NotFoundError:
                pass
            except ConversationError as exc:
                log.warning("%s", exc)
        for summary in self.list():
            try:
                return self.load(summary.id)
            except TeraError as exc:  # deleted or damaged since it was listed
                log.warning("%s", exc)
        return None

    def rename(self, conv_id: str, title: str) -> Conversation:
        """Give the conversation a title the user chose; returns it as saved.

        The title is cleaned to one line (``clean_title``: InvalidTitleError if it is empty or
        longer than 200 characters). The file is rewritten atomically; ``updated_at`` and the
        last-open conversation do not change: renaming neither reorders the list nor switches."""
        new_title = clean_title(title)
        path = self.path_of(conv_id)
        with self._lock:
            conv = self.load(conv_id)
            conv.title = new_title
            write_json_atomic(path, conv.to_dict())
        return conv

    def _all(self) -> list[Conversation]:
        """Every readable conversation, most recently updated first. Bad files are skipped."""
        if not self.folder.is_dir():
            return []
        found: list[Conversation] = []
        for path in self.folder.glob("*.json"):
            if not _ID_RE.fullmatch(path.stem):
                continue
            try:
                found.append(self._read(path))
            except FileNotFoundError:  # deleted while listing
                continue
            except ConversationError as exc:
                log.warning("skipping a conversation: %s", exc)
        found.sort(key=lambda c: (c.updated_at, c.created_at, c.id), reverse=True)
        return found

    def find(self, name: str) -> Conversation | None:
        """The conversation ``name`` refers to, or None.

        In this order: an exact id; a prefix of exactly one id, at least 6 hex characters; a title
        (case-insensitive, whitespace collapsed; the most recently updated one if several have it).
        An ambiguous id prefix matches no id (it can still match a title)."""
        if not isinstance(name, str):
            return None
        wanted = name.strip()
        key = wanted.lower()
        if _ID_RE.fullmatch(key) and self.exists(key):
            try:
                return self.load(key)
            except ConversationError as exc:
                log.warning("%s", exc)
        conversations = self._all()
        if len(key) >= MIN_ID_PREFIX and _HEX_RE.fullmatch(key):
            by_prefix = [c for c in conversations if c.id.startswith(key)]
            if len(by_prefix) == 1:
                return by_prefix[0]
        title = _fold(" ".join(wanted.split()))
        if not title:
            return None
        return next((c for c in conversations if _fold(c.title) == title), None)

    def search(self, text: str) -> list[ConversationSummary]:
        """Conversations whose title and messages together hold every word of ``text``.

        Case-insensitive substring match ("park" finds "parked"), most recently updated first; an
        empty ``text`` lists them all."""
        words = _fold(text).split()
        if not words:
            return self.list()
        found: list[ConversationSummary] = []
        for conv in self._all():
            haystack = "\n".join([conv.title, *(m.text for m in conv.messages)])
            folded = _fold(haystack)
            if all(word in folded for word in words):
                found.append(conv.summary())
        return found

    def list(self) -> list[ConversationSummary]:
        """Every readable conversation, most recently updated first. Bad files are skipped."""
        return [conv.summary() for conv in self._all()]

    def set_aside_damaged(self) -> builtins.list[Problem]:
        """Set aside (``core/saved_state.py``) every conversation file that cannot be read, so
        that it is reported once and never stops a start; returns what was set aside."""
        if not self.folder.is_dir():
            return []
        problems: builtins.list[Problem] = []
        with self._lock:
            for path in sorted(self.folder.glob("*.json")):
                if not _ID_RE.fullmatch(path.stem):
                    continue
                try:
                    self._read(path)
                except FileNotFoundError:
                    continue
                except ConversationError as exc:
                    problems.append(set_aside(path, "a saved chat", exc.message))
        return problems

    def delete(self, conv_id: str) -> bool:
        """Remove the conversation; True if there was one. Forgets it as the last one."""
        path = self.path_of(conv_id)
        with self._lock:
            try:
                path.unlink()
                removed = True
            except FileNotFoundError:
                removed = False
            if self._last_id() == conv_id:
                self.set_last(None)
        return removed


_HEX_RE = re.compile(r"[0-9a-f]+")


def _fold(text: str) -> str:
    """Text for comparing without regard to case or Unicode form."""
    return unicodedata.normalize("NFKC", text).casefold()


# ---- export --------------------------------------------------------------------------------
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN_RE = re.compile(r"(`+)(?:.+?)\1")
_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\](?=[(\[])")
_BLOCK_START_RE = re.compile(r"^ {0,3}(?:[#>|]|[-*+](?:\s|$)|\d{1,9}[.)](?:\s|$)|`{3}|~{3})")


def _neutralize_line(line: str) -> str:
    """Raw HTML shown as text and images as links, outside inline code: the app never renders
    either, and a Markdown viewer the export is pasted into should not either."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN_RE.finditer(line):
        out.append(_neutralize_text(line[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_neutralize_text(line[pos:]))
    return "".join(out)


def _neutralize_text(text: str) -> str:
    text = text.replace("<", "&lt;")
    return _IMAGE_RE.sub(lambda m: f"[image: {m.group(1)}]" if m.group(1) else "[image]", text)


def _safe_markdown(text: str) -> str:
    """``text`` (Markdown) with raw HTML and images made harmless; fenced code is left as is."""
    lines: list[str] = []
    fence = ""
    for line in text.splitlines():
        match = _FENCE_RE.match(line)
        if fence:
            lines.append(line)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
            continue
        if match:
            fence = match.group(1)
            lines.append(line)
            continue
        lines.append(_neutralize_line(line))
    if fence:  # an unclosed fence (an answer cut off inside code): close it
        lines.append(fence)
    return "\n".join(lines)


def _inline(text: str) -> str:
    """One line of plain text for a heading or a list item: whitespace collapsed, markup escaped."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", line)


def source_label(source: Mapping[str, Any]) -> str:
    """How a saved source is named in an export: a document's file name (and page), or a fact."""
    kind = str(source.get("kind") or "")
    page = source.get("page")
    page_text = f", p. {page}" if isinstance(page, int) and not isinstance(page, bool) else ""
    if kind == "document":
        origin = str(source.get("source") or "")
        name = origin.replace("\\", "/").rsplit("/", 1)[-1] or str(source.get("title") or "")
        return f"{name or 'document'}{page_text}"
    text = make_title(str(source.get("text") or ""), PREVIEW_MAX_CHARS)
    day = str(source.get("created_at") or "")[:10]
    label = f"Remembered {day}" if day else "Remembered"
    return f"{label}: “{text}”{page_text}" if text else f"{label}{page_text}"


def _sources_markdown(sources: list[dict[str, Any]]) -> list[str]:
    numbered: list[tuple[int, dict[str, Any]]] = []
    for index, source in enumerate(sources, start=1):
        number = source.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            number = index
        numbered.append((number, source))
    numbered.sort(key=lambda pair: pair[0])
    return [f"{number}. {_inline(source_label(source))}" for number, source in numbered]


def _turn_markdown(label: str, text: str) -> list[str]:
    body = _safe_markdown(text.strip("\n"))
    if not body.strip():
        return [f"**{label}:**"]
    first, _, rest = body.partition("\n")
    if _BLOCK_START_RE.match(first) or first.startswith("    "):
        return [f"**{label}:**", "", body]  # a list, heading or code block needs its own line
    return [f"**{label}:** {first.lstrip()}" + (f"\n{rest}" if rest else "")]


def export_markdown(conv: Conversation) -> str:
    """The conversation as plain Markdown: title, date, each turn, each answer's sources and marks.

    Raw HTML in a message is shown as text and images become links, as in the app; the title and
    source labels are escaped. The result ends with one newline."""
    title = _inline(conv.title) or "Untitled chat"
    lines = [f"# {title}", ""]
    started = clock.full_date(conv.created_at)
    if started:
        lines += [f"*{started}*", ""]
    for message in conv.messages:
        if message.role == ROLE_USER:
            lines += [*_turn_markdown("You", message.text), ""]
            continue
        lines += _turn_markdown("Tera", message.text)
        marks: list[str] = []
        if message.no_memory:
            marks.append("*Nothing in memory about this.*")
        if message.cut:
            marks.append("*(Cut off: the answer reached the length limit.)*")
        if message.stopped:
            marks.append("*(Stopped.)*")
        if message.error:
            marks.append(f"*Error: {_inline(message.error)}*")
        if marks:
            lines += ["", *marks]
        if message.sources:
            lines += ["", "Sources:", "", *_sources_markdown(message.sources)]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
