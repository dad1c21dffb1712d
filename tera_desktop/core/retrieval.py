"""THE retrieval pipeline: the one way Tera ranks memories for a question.

``retrieve()`` is used by ``ask`` (and the chat session), by the app's search-only answers and by
``tera search``, so all three rank a question the same way:

    query filters (senders, period) → the store's dense / keyword / fused / expanded search
    → relevance threshold → (rerank stage: a hook, identity today)

The store keeps only the search primitives. ``standalone_query()`` turns a follow-up ("What is her
office number?") into a query that can be searched alone, using the recent turns of the
conversation; it is cheap (no model call), so it runs on every question.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from tera_desktop.core.embedder import Embedder
from tera_desktop.core.query_filters import (
    QueryFilters,
    distinctive_terms,
    extract_filters,
    mentions,
)
from tera_desktop.core.store import Hit, MemoryStore
from tera_desktop.core.supersede import current_first

Rerank = Callable[[str, list[Hit]], list[Hit]]


@dataclass(frozen=True)
class Retrieval:
    query: str  # the standalone query that was searched
    hits: list[Hit]
    filters: QueryFilters = field(default_factory=QueryFilters)
    elapsed_s: float = 0.0


def retrieve(
    query: str,
    embedder: Embedder,
    store: MemoryStore,
    *,
    top_k: int,
    min_score: float | None = None,
    mode: str = "expanded",
    today: date | None = None,
    kind: str | None = None,
    source: str | None = None,
    rerank: Rerank | None = None,
) -> Retrieval:
    """The top-k relevant memories for ``query``.

    ``mode``: "dense", "keyword", "hybrid" or "expanded" (see ``MemoryStore.search``).
    ``min_score``: None uses the embedding model's calibrated threshold. A memory counts as
    relevant when its similarity reaches the threshold or, in the modes that use keywords, when it
    contains an exact name, number or ID from the query. When the query names chat senders or a
    period, chunks matching those filters come first; an unfiltered search fills the rest."""
    t0 = time.perf_counter()
    threshold = embedder.min_score if min_score is None else min_score
    vector = embedder.embed_query(query)
    filters = extract_filters(query, store.senders(), today)
    terms = distinctive_terms(query) if mode != "dense" else []

    def relevant(hit: Hit) -> bool:
        if mode == "dense":
            return True  # dense mode applies the threshold in the store
        if mode == "keyword":
            return mentions(hit.text, terms) or (hit.score > 0 and not terms)
        return hit.score >= threshold or mentions(hit.text, terms)

    def search(**kw: object) -> list[Hit]:
        found = store.search(
            vector,
            top_k,
            min_score=threshold,
            text=query,
            mode=mode,
            kind=kind,
            source=source,
            **kw,  # type: ignore[arg-type]
        )
        return [h for h in found if relevant(h)]

    hits: list[Hit] = []
    if filters:
        hits = search(
            senders=filters.senders or None, date_from=filters.date_from, date_to=filters.date_to
        )
    if len(hits) < top_k:
        seen = {h.id for h in hits}
        for hit in search():
            if hit.id not in seen and len(hits) < top_k:
                hits.append(hit)
    if rerank is not None:
        hits = rerank(query, hits)
    hits = current_first(hits, store)  # a fact that was updated goes after its update
    return Retrieval(query, hits[:top_k], filters, time.perf_counter() - t0)


# ---- follow-ups -------------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-zÀ-ÿ0-9][\w'’-]*")
_ANAPHORA = {
    "he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "it", "its",
    "that", "this", "those", "these", "there", "then", "one", "ones", "same", "else", "also",
    "too", "either", "other",
}  # fmt: skip
_ELLIPSIS = re.compile(r"^\s*(and|but|or|so|also|what about|how about|and what about)\b", re.I)
_ABOUT = re.compile(r"\b(?:what|how)\s+about\s+(?P<rest>.+?)\s*\??$", re.I)
STOPWORDS = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "have",
    "has", "had", "what", "whats", "what's", "who", "whom", "whose", "which", "when", "where",
    "why", "how", "much", "many", "i", "me", "my", "mine", "we", "us", "our", "you", "your", "of",
    "to", "in", "on", "at", "for", "from", "by", "with", "about", "and", "or", "but", "so", "if",
    "can", "could", "would", "should", "will", "shall", "may", "might", "must", "tell", "please",
    "know", "remember", "any", "some", "there", "here", "as", "into", "up", "out", "again",
    "not", "no", "yes", "ok", "okay", "thanks", "thank", "also", "too", "it", "its", "it's",
    "that", "this", "those", "these", "then", "than", "just", "get", "got", "let", "lets",
    "he", "she", "him", "her", "his", "hers", "they", "them", "their", "one", "else", "same",
}  # fmt: skip
_COMMON_CAPS = {
    "I", "The", "A", "An", "It", "Its", "Yes", "No", "Your", "You", "My", "Tera", "This", "That",
    "There", "They", "He", "She", "We", "What", "When", "Where", "Who", "How", "Why", "Which",
    "According", "Based", "Sorry", "However", "In", "On", "At", "From", "To", "For", "Of",
    "Our", "His", "Her", "Their", "Is", "Are", "Was", "Do", "Does", "Did", "Can", "And", "But",
}  # fmt: skip


@dataclass(frozen=True)
class Turn:
    """One past exchange, as the follow-up logic sees it."""

    question: str
    answer: str = ""
    query: str = ""  # the standalone query that turn searched
    source_texts: tuple[str, ...] = ()  # the texts of the sources it found, best first


def words(text: str) -> list[str]:
    return [m.group(0).strip("'’-") for m in _WORD.finditer(text)]


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stop words), in order, without repeats."""
    out: list[str] = []
    for w in words(text):
        low = w.lower()
        if low not in STOPWORDS and len(low) > 1 and low not in out:
            out.append(low)
    return out


def names_in(text: str) -> list[str]:
    """Capitalized names, numbers and IDs in ``text`` ("Maria Keller", "4512", "INV-2024-0193")."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        for i, w in enumerate(words(sentence)):
            has_digit = any(c.isdigit() for c in w)
            name = w[:1].isupper() and w not in _COMMON_CAPS and (i > 0 or len(w) > 2)
            if (has_digit or name) and w not in out and not re.fullmatch(r"\[?\d\]?", w):
                out.append(w)
    return out


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """Whether ``question`` leans on the conversation: a pronoun or "there/then", an elliptical
    start ("and…", "what about…"), or too few words of its own to be searched alone."""
    if not history:
        return False
    ws = [w.lower() for w in words(question)]
    if _ELLIPSIS.search(question) or any(w in _ANAPHORA for w in ws):
        return True
    return len(content_words(question)) <= 1


def standalone_query(question: str, history: Sequence[Turn], max_context_words: int = 12) -> str:
    """A query that can be searched alone. A standalone question is returned as it is; a
    follow-up gets the previous turn's subject: "What about Tom?" after "When is Anna's birthday?"
    → "When is Anna's birthday? What about Tom?" minus Anna; "What is her office number?" after
    "Who is my accountant?" → the question plus the names and words of that turn (its question,
    the names in its answer or, without an answer, in its best source)."""
    question = " ".join(question.split())
    if not is_follow_up(question, history):
        return question
    last = history[-1]
    about = _ABOUT.search(question)
    own = set(content_words(question))
    if about:
        # the new subject replaces the old one; the rest of the last question carries over
        old_names = {n.lower() for n in names_in(last.question)}
        carried = [w for w in content_words(last.question) if w not in old_names and w not in own]
        possessive = [re.sub(r"['’]s$", "", w) for w in carried]
        return f"{' '.join(possessive[:max_context_words])} {about.group('rest')}".strip()
    context: list[str] = []
    # who or what the last turn was about: the names the user said, else those in its answer,
    # else those in its best source
    named = (
        names_in(last.question)
        or names_in(last.answer)
        or names_in(last.source_texts[0] if last.source_texts else "")
    )
    for w in named:
        if w.lower() not in own:
            context.append(w)
    if not context:  # no name to carry: the last question's own words say what it was about
        context = [w for w in content_words(last.question) if w not in own]
    if not context:
        return question
    return f"{question} ({' '.join(context[:max_context_words])})"
