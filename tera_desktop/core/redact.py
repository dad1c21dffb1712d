"""Forget means gone from saved conversations too.

An answer that used a forgotten memory quotes it (its sources hold the memory's text, its
evidence the matched sentences, its own text what the model made of it). After a forget,
``redact_conversations`` rewrites every saved conversation that refers to what was forgotten:

- a source that was forgotten keeps its number and kind but loses its text, file and id;
- an answer that used one is replaced by ``REDACTED_ANSWER`` (its evidence and checks dropped),
  and the question it answered by ``REDACTED_QUESTION`` (a question about a memory names it);
- any message that contains a forgotten fact word for word has it replaced by ``REDACTED``;
- a title made from a redacted question is made again from what is left.

The files are rewritten atomically through ``ConversationStore`` without changing their order
or which one was open last. No Qt here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tera_desktop.core.conversations import (
    ROLE_ASSISTANT,
    ROLE_USER,
    ChatMessage,
    Conversation,
    ConversationStore,
    make_title,
    write_json_atomic,
)
from tera_desktop.core.errors import TeraError

log = logging.getLogger("tera.redact")

REDACTED = "[forgotten]"
REDACTED_ANSWER = "[This answer used a memory you asked Tera to forget, so it was removed.]"
REDACTED_QUESTION = "[This question was answered from a forgotten memory, so it was removed.]"
MIN_TEXT_CHARS = 8  # shorter forgotten texts are not searched for in messages (too common)


@dataclass(frozen=True)
class Forgotten:
    """What was forgotten: chunk ids, document sources, fact texts, or everything."""

    ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    texts: tuple[str, ...] = ()
    everything: bool = False

    @classmethod
    def of(
        cls,
        ids: Iterable[str] = (),
        sources: Iterable[str] = (),
        texts: Iterable[str] = (),
        everything: bool = False,
    ) -> Forgotten:
        kept = tuple(
            sorted({" ".join(t.split()) for t in texts if len(t.strip()) >= MIN_TEXT_CHARS})
        )
        return cls(frozenset(ids), frozenset(s for s in sources if s), kept, everything)

    def matches_source(self, source: dict[str, Any]) -> bool:
        if self.everything:
            return True
        if str(source.get("id", "")) in self.ids:
            return True
        return bool(source.get("source")) and str(source.get("source")) in self.sources


@dataclass
class RedactResult:
    conversations: int = 0  # conversations rewritten
    messages: int = 0  # messages changed
    failed: list[str] = field(default_factory=list)  # conversations that could not be rewritten
    ids: list[str] = field(default_factory=list)  # the conversations rewritten


def redact_conversations(store: ConversationStore, forgotten: Forgotten) -> RedactResult:
    """Rewrite every saved conversation that refers to ``forgotten``; returns what changed."""
    result = RedactResult()
    for summary in store.list():
        try:
            conv = store.load(summary.id)
        except TeraError as exc:  # deleted or damaged since it was listed
            log.warning("%s", exc)
            continue
        changed = redact_conversation(conv, forgotten)
        if not changed:
            continue
        try:
            with store._lock:  # the store's own lock: no save interleaves with this rewrite
                write_json_atomic(store.path_of(conv.id), conv.to_dict())
        except OSError as exc:
            log.warning("could not redact conversation %s: %s", conv.id, exc)
            result.failed.append(conv.id)
            continue
        result.conversations += 1
        result.ids.append(conv.id)
        result.messages += changed
    return result


def redact_conversation(conv: Conversation, forgotten: Forgotten) -> int:
    """Redact one conversation in place (a saved one, or the one open in a session); returns
    how many messages changed."""
    auto_title = conv.title == _first_question_title(conv)
    changed = 0
    for i, message in enumerate(conv.messages):
        edited, used = _redact_message(message, forgotten)
        changed += edited
        before = conv.messages[i - 1] if i else None
        if (
            used
            and before is not None
            and before.role == ROLE_USER
            and before.text != REDACTED_QUESTION
        ):
            before.text = REDACTED_QUESTION
            before.query = ""
            changed += 1
    if not changed:
        return 0
    if auto_title:
        conv.title = _first_question_title(conv)
    conv.title = _replace_texts(conv.title, forgotten.texts)
    return changed


def _redact_message(message: ChatMessage, forgotten: Forgotten) -> tuple[bool, bool]:
    """Redact one message; returns (changed, used a forgotten source)."""
    changed = False
    used_forgotten = False
    sources: list[dict[str, Any]] = []
    for source in message.sources:
        if forgotten.matches_source(source):
            used_forgotten = True
            sources.append(
                {
                    **{k: v for k, v in source.items() if k in ("number", "kind", "score")},
                    "id": "",
                    "source": "",
                    "title": "",
                    "text": REDACTED,
                    "created_at": "",  # every field a source has: a redacted chat loads whole
                    "evidence": [],
                }
            )
        else:
            sources.append(source)
    if used_forgotten:
        message.sources = sources
        message.evidence = []
        if message.role == ROLE_ASSISTANT:
            message.text = REDACTED_ANSWER
            message.checks = {}
        changed = True
    for field_name in ("text", "query", "error"):
        value = getattr(message, field_name)
        redacted = _replace_texts(value, forgotten.texts)
        if redacted != value:
            setattr(message, field_name, redacted)
            changed = True
    if forgotten.texts and message.evidence:
        evidence = [e for e in message.evidence if not _mentions(str(e), forgotten.texts)]
        if len(evidence) != len(message.evidence):
            message.evidence = evidence
            changed = True
    return changed, used_forgotten


def _first_question_title(conv: Conversation) -> str:
    first = next((m for m in conv.messages if m.role == ROLE_USER and m.text.strip()), None)
    return make_title(first.text) if first else ""


def _mentions(text: str, texts: tuple[str, ...]) -> bool:
    folded = " ".join(text.split()).casefold()
    return any(t.casefold() in folded for t in texts)


def _replace_texts(text: str, texts: tuple[str, ...]) -> str:
    """``text`` with every forgotten text in it (case and spacing ignored) replaced."""
    if not text or not texts:
        return text
    for forgotten in texts:
        words = [re.escape(w) for w in forgotten.split()]
        pattern = re.compile(r"\s+".join(words), re.IGNORECASE)
        text = pattern.sub(REDACTED, text)
    return text
