"""Chat history: each conversation is one JSON file in ``paths.data / "conversations"``.

Files are written atomically (a temporary file, fsync, ``os.replace``), so a crash leaves either the
old or the new conversation, never half of one. A small state file remembers which conversation was
open last, so the app reopens it. A file that cannot be read is skipped (and logged) when listing:
one bad file never hides the others.

No Qt here: the GUI and the tests use the same store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import NotFoundError, TeraError
from tera_desktop.core.paths import Paths

log = logging.getLogger("tera.conversations")

SCHEMA_VERSION = 1
FOLDER_NAME = "conversations"
STATE_FILE = "state.json"
TITLE_MAX_CHARS = 60
ROLE_USER = "user"
ROLE_ASSISTANT = "assistant"
_ID_RE = re.compile(r"[0-9a-f]{32}")


class ConversationError(TeraError):
    """A conversation file exists but cannot be read."""


def now_iso() -> str:
    """The current time in UTC, ISO 8601 with microseconds (sorts as text, same format always)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


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


@dataclass
class ChatMessage:
    role: str  # "user" | "assistant"
    text: str
    created_at: str = field(default_factory=now_iso)
    sources: list[dict[str, Any]] = field(default_factory=list)  # Source fields as dicts
    stopped: bool = False  # the user stopped the answer
    no_memory: bool = False  # nothing relevant in memory: the model was not run
    error: str = ""  # the error shown instead of (or after) the answer

    def __post_init__(self) -> None:
        if self.role not in (ROLE_USER, ROLE_ASSISTANT):
            raise ValueError(f"role must be 'user' or 'assistant', not {self.role!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatMessage:
        sources = data.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
            raise ValueError("sources must be a list of objects")
        return cls(
            role=str(data["role"]),
            text=str(data.get("text", "")),
            created_at=str(data.get("created_at") or ""),
            sources=[dict(s) for s in sources],
            stopped=bool(data.get("stopped", False)),
            no_memory=bool(data.get("no_memory", False)),
            error=str(data.get("error") or ""),
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
        )

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


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # Windows cannot open a directory; os.replace is durable enough there
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temporary file in the same folder, fsync and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


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

    def list(self) -> list[ConversationSummary]:
        """Every readable conversation, most recently updated first. Bad files are skipped."""
        if not self.folder.is_dir():
            return []
        found: list[ConversationSummary] = []
        for path in self.folder.glob("*.json"):
            if not _ID_RE.fullmatch(path.stem):
                continue
            try:
                found.append(self._read(path).summary())
            except FileNotFoundError:  # deleted while listing
                continue
            except ConversationError as exc:
                log.warning("skipping a conversation: %s", exc)
        found.sort(key=lambda s: (s.updated_at, s.created_at, s.id), reverse=True)
        return found

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
