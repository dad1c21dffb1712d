"""THE retrieval pipeline: the one way Tera ranks memories for a question.

``retrieve()`` is used by ``ask`` (and the chat session), by the app's search-only answers and by
``tera search``, so all three rank a question the same way:

    query filters (senders, period) → dense / keyword search (the store's primitives) or their
    fusion and query expansion (``core/fusion.py``) → relevance threshold → (rerank stage: a
    hook, identity today)

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

from tera_desktop.core import fusion
from tera_desktop.core.checks import about_named, asked_kind, fold, holds_kind, subject_words
from tera_desktop.core.embedder import Embedder
from tera_desktop.core.query_filters import (
    QueryFilters,
    distinctive_terms,
    extract_filters,
    mentions,
)
from tera_desktop.core.store import Hit, MemoryStore
from tera_desktop.core.supersede import SUPERSEDES, current_first, is_superseded

Rerank = Callable[[str, list[Hit]], list[Hit]]


@dataclass(frozen=True)
class Retrieval:
    query: str  # the standalone query that was searched
    hits: list[Hit]
    filters: QueryFilters = field(default_factory=QueryFilters)
    elapsed_s: float = 0.0
    superseded: tuple[Hit, ...] = ()  # facts left out because newer facts replace them


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

    ``mode``: "dense", "keyword", "hybrid" or "expanded" (see ``fusion.search``).
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
        found = fusion.search(
            store,
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
# A question asked in a conversation is searched on its own when it can be ("Who is my plumber?"
# is a question of its own, in a chat as in a new one). A follow-up ("What is her phone number?",
# "And the bike?") gets a standalone query built from the USER's words and the SOURCES' text only,
# never from the model's answer (capitalized words in a small model's answer are not names).
# Whatever the conversation adds, a source must still be relevant to the question actually asked
# (``retrieve_in_conversation``): the conversation shapes the query, it never lifts the threshold.
_WORD = re.compile(r"[A-Za-zÀ-ÿ0-9][\w'’-]*")
_ANAPHORA = {
    "he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "it", "its",
    "that", "those", "these", "there", "then",
}  # fmt: skip
_ELLIPSIS = re.compile(r"^\s*(and|but|or|so|also|what about|how about|and what about)\b", re.I)
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
    "who's", "where's", "when's", "how's", "that's", "there's", "wher", "whos",
}  # fmt: skip
_COMMON_CAPS = {
    "I", "The", "A", "An", "It", "Its", "Yes", "No", "Your", "You", "My", "Tera", "This", "That",
    "There", "They", "He", "She", "We", "What", "When", "Where", "Who", "How", "Why", "Which",
    "According", "Based", "Sorry", "However", "In", "On", "At", "From", "To", "For", "Of",
    "Our", "His", "Her", "Their", "Is", "Are", "Was", "Do", "Does", "Did", "Can", "And", "But",
    "Whats", "Same", "Also", "So", "Or", "Not", "Please", "Tell", "Remember", "Note", "Hi",
    "Hello", "Hey", "Ok", "Okay", "Thanks", "Then", "Now", "If", "Just", "Will", "Would",
    "Could", "Should", "Has", "Have", "Had", "Were", "Be", "Any", "Some", "All", "Every", "New",
}  # fmt: skip
# words that name what is asked about a subject, not a subject: "And the address?" asks for the
# last subject's address; "And the bike?" asks the last question about another subject
ATTRIBUTE_WORDS = {
    "address", "addresses", "phone", "telephone", "mobile", "number", "numbers", "email",
    "e-mail", "mail", "password", "passcode", "pin", "code", "codes", "birthday", "birthdate",
    "age", "price", "cost", "costs", "fee", "fees", "date", "dates", "time", "times", "day",
    "days", "name", "surname", "website", "url", "hours", "opening", "deadline", "iban",
    "account", "plate", "size", "colour", "color", "weight", "height", "salary", "budget",
    "schedule", "location", "street", "contact", "details", "office", "job", "work",
    "surgery", "practice", "hotline", "login", "username", "id", "model", "brand", "type",
    "why", "where", "when", "who", "how", "what", "which", "again",
}  # fmt: skip
_DETERMINERS = {"the", "my", "our", "your", "his", "her", "their", "a", "an", "this", "that"}
_VERBISH = {
    "is", "are", "was", "were", "be", "do", "does", "did", "has", "have", "had", "can", "will",
    "need", "needs", "wear", "wears", "get", "gets", "start", "starts", "open", "opens", "close",
    "closes", "cost", "costs", "go", "goes", "come", "comes", "arrive", "arrives", "leave",
    "leaves", "live", "lives", "work", "works", "take", "takes", "fit", "fits", "paid", "due",
    "weigh", "weighs", "sleep", "sleeps", "meet", "meets", "end", "ends", "eat", "eats",
    "belong", "belongs", "charge", "charges", "run", "runs", "stay", "stays", "sit", "sits",
    "keep", "keeps", "show", "shows", "say", "says",
}  # fmt: skip
_SWAPS = (
    re.compile(r"^(?:(?:and|but|so|ok|okay|also|then)[\s,]+)?(?:what|how)\s+about\s+(?P<x>.+)$",
               re.I),
    re.compile(r"^(?:and\s+)?(?:the\s+)?same(?:\s+question|\s+thing)?\s+(?:for|with|about)\s+"
               r"(?P<x>.+)$", re.I),
    re.compile(r"^(?:(?:sorry|no|nope|oops|wait|actually|oh|ah|hmm|err?)[\s,!.-]+)*i\s+(?:meant|"
               r"mean|was asking about)\s+(?P<x>.+)$", re.I),
    re.compile(r"^(?:and|or)\s+(?:for\s+|of\s+|with\s+|in\s+)?(?P<x>.+)$", re.I),
    re.compile(r"^(?:and\s+)?(?P<x>.+?)[\s,]+(?:too|as well|also|either)$", re.I),
)  # fmt: skip
_NOT_A_SUBJECT = re.compile(
    r"\b(?:what|whats|what's|when|where|who|whom|whose|how|which|why|is|are|was|were|do|does|"
    r"did|can|could|will|would|has|have|had|it|its|it's|her|his|their|them|they|he|she|this|"
    r"that|there|then|i|me|we|you)\b",
    re.I,
)
_ASKS_PAST = re.compile(
    r"\b(?:before|previous(?:ly)?|used to|formerly|earlier|originally|old|older|former|prior|"
    r"superseded|replaced|history|change[sd]?)\b",
    re.I,
)
# The relevance gate around the embedding model's threshold t, as fractions of what is left
# above it (1 - t), so one setting fits models whose similarities spread differently
# (all-MiniLM-L6-v2: t = 0.25; bge-small: t = 0.6). Calibrated on the dev half of the evaluation
# set (bench/bench_conversation.py) for false declines and near-misses at once.
HIGH_MARGIN = 0.16  # similarity ≥ t + this alone makes a source relevant
LOW_MARGIN = 0.10  # similarity ≥ t - this makes it relevant when it shares a word with the question
# a source this far (x (1 - t)) below the best one's similarity is left out: a small model
# answers from whatever it is given, and a weak match next to a strong one only misleads it
RELATIVE_DROP = 0.30
EXTRA_CANDIDATES = 4  # searched beyond top_k, for the gate to choose from


@dataclass(frozen=True)
class Turn:
    """One past exchange, as the follow-up logic sees it."""

    question: str
    answer: str = ""  # kept for the record; never searched (a model's words are not evidence)
    query: str = ""  # the standalone query that turn searched
    source_texts: tuple[str, ...] = ()  # the texts of the sources it found, best first


@dataclass(frozen=True)
class FollowUp:
    """How a follow-up is searched: its standalone ``query`` and the words that tie a source to
    what the conversation is about (``subject``: the carried names, or the new subject of an
    "and X?"), plus the last turn's sources."""

    query: str
    subject: tuple[str, ...]
    swap: bool = False
    previous: tuple[str, ...] = ()


def words(text: str) -> list[str]:
    return [m.group(0).strip("'’-") for m in _WORD.finditer(text)]


def _plain(text: str) -> str:
    """``text`` with an all-capitals question lowered ("WHO IS MY MENTOR?")."""
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        return text.lower()
    return text


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stop words), in order, without repeats."""
    out: list[str] = []
    for w in words(text):
        low = w.lower()
        if low not in STOPWORDS and len(low) > 1 and low not in out:
            out.append(low)
    return out


def _bare(word: str) -> str:
    return re.sub(r"['’](?:s|re|ll|d|ve|m)$", "", word)


def names_in(text: str) -> list[str]:
    """Capitalized names, numbers and IDs in ``text`` ("Maria Keller", "4512", "INV-2024-0193")."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", _plain(text)):
        for i, w in enumerate(words(sentence)):
            has_digit = any(c.isdigit() for c in w)
            bare = _bare(w)
            name = w[:1].isupper() and bare not in _COMMON_CAPS and (i > 0 or len(bare) > 2)
            if (has_digit or name) and w not in out and not re.fullmatch(r"\[?\d\]?", w):
                out.append(w)
    return out


def _swap_subject(question: str) -> str | None:
    """The new subject of an elliptical question that asks the last question again about
    something else ("And the bike?", "What about Tom?", "Dad too?", "Sorry, I meant the blue
    one"), or None."""
    q = _plain(" ".join(question.split())).strip(" ?.!")
    for pattern in _SWAPS:
        m = pattern.match(q)
        if not m:
            continue
        x = m.group("x").strip(" ,?.!")
        ws = words(x)
        if not ws or len(ws) > 6 or _NOT_A_SUBJECT.search(x):
            return None
        meaning = [w.lower() for w in ws if w.lower() not in _DETERMINERS]
        if not meaning or all(_bare(w) in ATTRIBUTE_WORDS for w in meaning):
            return None  # "And the address?": the same subject, another attribute
        return x
    return None


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """Whether ``question`` leans on the conversation: an elliptical question ("and the bike?",
    "what about Tom?"), a pronoun or "there/then", or no subject of its own ("Why?", "Email?").
    "Who is my plumber?" has its own subject: it is searched as it is, as in a new chat."""
    if not history:
        return False
    q = _plain(question)
    if _swap_subject(q) is not None or _ELLIPSIS.search(q):
        return True
    if any(w.lower() in _ANAPHORA for w in words(q)):
        return True
    own = content_words(q)
    return all(_bare(w) in ATTRIBUTE_WORDS for w in own)


def _base(turn: Turn) -> str:
    """The last question as it was searched, without carried context in brackets."""
    query = turn.query.strip()
    if query and "(" not in query:
        return query
    return turn.question


def _noun_phrase(tokens: list[str]) -> tuple[int, int] | None:
    """The first noun phrase after a determiner or a possessive: (start, end) token indexes."""
    for i, w in enumerate(tokens):
        low = w.lower()
        if low in _DETERMINERS or re.search(r"['’]s$", w):
            j = i + 1 if low in _DETERMINERS else i
            k = j
            while k < len(tokens) and k - j < 3:
                t = tokens[k].lower()
                if (
                    (t in STOPWORDS and t not in {"one", "ones"})
                    or t in _VERBISH
                    or (len(t) > 4 and t.endswith("ed"))
                ):
                    break
                k += 1
            if k > j:
                return j, k
    return None


def _swapped_query(base: str, x: str) -> tuple[str, list[str]]:
    """The last question asked about ``x`` instead, and the words of ``x`` that name it."""
    new = [w for w in words(x)]
    while new and new[0].lower() in _DETERMINERS:
        new = new[1:]
    tokens = words(_plain(base))
    names = {n for n in names_in(base) if not n.isdigit()}
    span: tuple[int, int] | None = None
    for i, w in enumerate(tokens):
        if w in names:
            j = i
            while j < len(tokens) and tokens[j] in names:
                j += 1
            span = (i, j)
            break
    if span is not None:
        old_last = tokens[span[1] - 1]
        if re.search(r"['’]s$", old_last) and new and not re.search(r"['’]s$", new[-1]):
            new[-1] += "'s"
    else:
        span = _noun_phrase(tokens)
        if span is not None and new and new[-1].lower() in {"one", "ones"}:
            new[-1] = tokens[span[1] - 1]  # "the blue one" → "the blue suitcase"
    if span is None:
        rest = content_words(base)[1:]
        query = " ".join([*new, *rest])
    else:
        query = " ".join([*tokens[: span[0]], *new, *tokens[span[1] :]])
    subject = [w for w in content_words(" ".join(new)) if _bare(w) not in ATTRIBUTE_WORDS]
    return query, subject


def plan_follow_up(
    question: str, history: Sequence[Turn], max_context_words: int = 8
) -> FollowUp | None:
    """How ``question`` is searched in this conversation; None when it stands on its own."""
    question = " ".join(question.split())
    if not is_follow_up(question, history):
        return None
    last = history[-1]
    base = _base(last)
    x = _swap_subject(question)
    if x is not None:
        query, subject = _swapped_query(base, x)
        return FollowUp(query, tuple(subject), swap=True, previous=last.source_texts)
    own = {w.lower() for w in content_words(question)}
    context: list[str] = []

    def add(ws: Sequence[str]) -> None:
        for w in ws:
            if w.lower() not in own and w not in context:
                context.append(w)

    # who or what the last turn was about: the names the user said, then the names in its best
    # source (never in the model's answer), then what its own query carried
    add(names_in(last.question))
    add(names_in(last.source_texts[0])[:4] if last.source_texts else [])
    if "(" in last.query:
        add(last.query[last.query.index("(") + 1 :].rstrip(")").split())
    subject = list(context)
    if not context:  # no name to carry: the last question's own words say what it was about
        add(content_words(_plain(base)))
        subject = [w for w in context if _bare(w) not in ATTRIBUTE_WORDS]
    if not context:
        return FollowUp(question, (), previous=last.source_texts)
    query = f"{question} ({' '.join(context[:max_context_words])})"
    return FollowUp(query, tuple(subject), previous=last.source_texts)


def standalone_query(question: str, history: Sequence[Turn], max_context_words: int = 8) -> str:
    """A query that can be searched alone. A standalone question is returned as it is; a
    follow-up gets the conversation's subject: "What about Tom?" after "When is Anna's birthday?"
    → "When is Tom's birthday"; "What is her office number?" after "Who is my accountant?" → the
    question plus the names of that turn (its question's, else its best source's)."""
    plan = plan_follow_up(question, history, max_context_words)
    return plan.query if plan is not None else " ".join(question.split())


def _stems(text: str) -> set[str]:
    out = set()
    for w in content_words(fold(text)):
        w = _bare(w).replace("-", "")
        out.add(w[:5] if len(w) > 5 else w.rstrip("s"))
    return out


def shares_words(question: str, text: str) -> bool:
    """Whether ``text`` has a word of what ``question`` is about (accents, case and endings
    aside; see ``checks.subject_words``)."""
    want = {w[:5] if len(w) > 5 else w.rstrip("s") for w in subject_words(question)}
    return bool(want & _stems(text))


def retrieve_in_conversation(
    question: str,
    history: Sequence[Turn],
    embedder: Embedder,
    store: MemoryStore,
    *,
    top_k: int,
    min_score: float | None = None,
    mode: str = "expanded",
    today: date | None = None,
    kind: str | None = None,
    source: str | None = None,
) -> Retrieval:
    """THE retrieval of a question asked in a conversation (a new chat is one with no history).

    A follow-up is searched with its standalone query (``plan_follow_up``), but a source is kept
    only if it is relevant to the question actually asked: it passes the relevance gate for the
    question alone, or it is tied to what the conversation was about (it names the carried
    subject, or it was a source of the last turn and still exists). When nothing is, the result
    is empty: "nothing in memory", in a chat exactly as in a new one.

    The relevance gate: similarity to the question of at least ``threshold + HIGH_MARGIN``, or at
    least ``threshold - LOW_MARGIN`` with a word of the question in the source, or an exact name,
    number or ID of the question in it (calibrated on the evaluation set's dev half for declining
    answerable questions and answering unanswerable ones at once).

    A fact that a newer one replaced is left out (the newer one is brought in), unless the
    question asks about the past ("what was it before?"); it is returned in ``superseded``."""
    t0 = time.perf_counter()
    threshold = embedder.min_score if min_score is None else min_score
    high = threshold + HIGH_MARGIN * (1 - threshold)
    low = threshold - LOW_MARGIN * (1 - threshold)
    # the gate is for the modes that rank by similarity and words together; "dense" keeps its
    # plain threshold and "keyword" its word matches (what their users chose them for)
    fused = mode in ("hybrid", "expanded")
    plan = plan_follow_up(question, history)
    query = plan.query if plan is not None else " ".join(question.split())
    found = retrieve(
        query, embedder, store, top_k=top_k + EXTRA_CANDIDATES,
        min_score=low if fused else min_score, mode=mode, today=today, kind=kind, source=source,
    )  # fmt: skip
    if plan is None:
        alone = {h.id: h.score for h in found.hits}
    else:
        vector = embedder.embed_query(question)
        near = store.search(vector, max(50, 4 * top_k), kind=kind, source=source, min_score=low)
        alone = {h.id: h.score for h in near}
    terms = [t for t in distinctive_terms(question) if fold(t) not in _FOLDED_STOP]

    def passes_alone(hit: Hit) -> bool:
        if mode == "dense":
            return alone.get(hit.id, -1.0) >= threshold
        if terms and mentions(hit.text, terms):
            return True
        if mode == "keyword":
            return plan is None or shares_words(question, hit.text)
        score = alone.get(hit.id, -1.0)
        if score >= high:
            return True
        return score >= low and shares_words(question, hit.text)

    def tied(hit: Hit) -> bool:
        if plan is None:
            return False
        if hit.id in previous_of:
            return True
        if plan.subject and mentions(hit.text, [_bare(w) for w in plan.subject]):
            return True
        return not plan.swap and hit.text in plan.previous

    past = bool(_ASKS_PAST.search(question))
    previous_of: dict[str, str] = {}  # an older fact brought in → the fact that replaced it
    kept: list[Hit] = []
    superseded: list[Hit] = []
    for hit in found.hits:
        if not (passes_alone(hit) or tied(hit)):
            continue
        if is_superseded(hit) and not past:
            superseded.append(hit)
            continue
        kept.append(hit)
    if past:  # "what was it before?": the facts the kept ones replaced come with them
        older = [str(h.extra.get(SUPERSEDES) or "") for h in kept]
        have = {h.id for h in kept}
        wanted = [i for i in older if i and i not in have]
        for old in store.get(wanted) if wanted else []:
            newer = next(h for h in kept if h.extra.get(SUPERSEDES) == old.id)
            kept.insert(kept.index(newer) + 1, old)
            alone.setdefault(old.id, alone.get(newer.id, -1.0))
            previous_of[old.id] = newer.id
    best = max((alone.get(h.id, -1.0) for h in kept), default=-1.0)
    floor = best - RELATIVE_DROP * (1 - threshold) if mode != "keyword" else -1.0
    kept = [
        h
        for h in kept
        if alone.get(h.id, -1.0) >= floor or tied(h) or (terms and mentions(h.text, terms))
    ]
    if plan is not None and plan.subject and any(tied(h) for h in kept):
        # the conversation says what "her", "it", "and the bike" is: sources about something
        # else stay only when they name something the question itself names
        kept = [h for h in kept if tied(h) or (terms and mentions(h.text, terms))]
    if plan is None and mode != "dense":  # what the question names first ("grandpa's boat")
        named = about_named(question, [h.text for h in kept])
        if named is not None:
            kept.sort(key=lambda h: h.text not in named)
    if plan is not None:  # what the conversation is about first, the kind asked for first
        asked = asked_kind(question)

        def rank(hit: Hit) -> int:
            holds = asked is not None and holds_kind(hit.text, asked.name)
            return (0 if tied(hit) else 2) + (0 if holds else 1)

        kept.sort(key=rank)
    return Retrieval(
        query, kept[:top_k], found.filters, time.perf_counter() - t0, tuple(superseded)
    )


_FOLDED_STOP = {fold(w) for w in STOPWORDS}
