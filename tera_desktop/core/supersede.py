"""Memory that stays current: a fact that updates an earlier one supersedes it.

"From March the recycling goes out on Thursdays" after "The recycling goes out on Tuesdays":
both stay in memory, but the older one is marked superseded (``superseded_by``, ``superseded_at``
in its payload; the newer one names it in ``supersedes``). Then

- remembering says which fact the new one replaces, and ``undo`` takes the mark off;
- searches rank the current fact first (``current_first``: a superseded fact goes after the
  facts that are current, and the fact that replaced it is brought in if the search missed it);
- the prompt says which fact is current and when it changed (``status_note``).

An update is recognised when a stored fact is among the nearest in meaning (cosine similarity of
the two facts' vectors) *and* the words say so: both facts are about the same thing (each one's
subject, the words before its verb, is in the other: "Project Falcon's budget" is not "Project
Heron's budget", "The holiday flat" is not "The Rovinj holiday flat's key box code"), most content
words are shared, and each has words the other lacks (the changed value: a day, a number, a
name). Deliberately conservative: a false update costs the user an Undo, a missed one costs
nothing new. No Qt here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tera_desktop.core.store import KIND_FACT, Hit, MemoryStore

MIN_SIMILARITY = 0.2  # cosine of the two facts' embeddings: a loose gate for candidates (the
# pair set's updates measure 0.60-0.95 with all-MiniLM-L6-v2, its look-alikes 0.51-0.90: the
# words test below is what tells them apart)
MIN_SHARED = 0.34  # shared content words / content words of the shorter fact
CANDIDATES = 5

SUPERSEDED_BY = "superseded_by"
SUPERSEDED_AT = "superseded_at"
SUPERSEDES = "supersedes"

_WORD = re.compile(r"\w+(?:[.'’@-]\w+)*")  # "jo.new@flats.example", "555-0134" stay whole
_STOP = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did",
    "have", "has", "had", "i", "me", "my", "mine", "we", "us", "our", "you", "your", "of", "to",
    "in", "on", "at", "for", "from", "by", "with", "about", "and", "or", "but", "so", "if", "it",
    "its", "that", "this", "these", "those", "then", "than", "now", "no", "not", "will", "going",
    "he", "she", "his", "her", "they", "them", "their", "there", "here", "as", "into", "out",
    "up", "every", "each", "all", "any", "some", "since", "until", "after", "before", "again",
}  # fmt: skip


@dataclass(frozen=True)
class Replaced:
    """The stored fact a new fact replaces."""

    id: str
    text: str
    created_at: str


_WORDS_OF_CHANGE = {"new", "now", "current", "currently", "latest", "anymore", "longer"}
# the verb that ends a fact's subject: "is", or a verb a fact that changes says ("moved to")
_VERBS = {
    "is", "are", "was", "were", "has", "have", "had", "will", "can", "does", "do", "did", "be",
    "changed", "changes", "moved", "moves", "switched", "became", "becomes", "got", "gets",
    "goes", "go", "went", "opens", "open", "opened", "closes", "close", "closed", "lives",
    "live", "lived", "eats", "eat", "works", "work", "worked", "expires", "expire", "renews",
    "renew", "starts", "start", "started", "ends", "end", "costs", "cost", "charges", "charge",
    "leads", "lead", "led", "likes", "like", "loves", "uses", "use", "used", "runs", "run",
    "comes", "come", "takes", "take", "needs", "need", "wants", "want", "pays", "pay", "drives",
    "drive", "plays", "play", "meets", "meet", "happens", "arrives", "leaves", "belongs",
    "stays", "stay", "keeps", "keep", "kept", "sits", "sit", "babysits", "visits", "teaches",
}  # fmt: skip
_LEAD_IN = {"from", "since", "starting", "beginning", "as", "after", "until", "in", "on", "at"}
_DETERMINERS = {"the", "my", "our", "your", "his", "her", "their", "a", "an", "this", "that"}


def _term(word: str) -> str:
    """A word as the words test compares it: possessive and plural "s" dropped ("Falcon's" =
    "falcon", "Tuesdays" = "tuesday")."""
    word = re.sub(r"['’]s$", "", word)
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word


def _terms(text: str) -> list[str]:
    """Lower-cased content words in order (see ``_term``)."""
    return [_term(w) for w in _WORD.findall(text.casefold()) if w not in _STOP]


def content_terms(text: str) -> set[str]:
    return set(_terms(text))


def subject_terms(text: str) -> set[str]:
    """The content words of a fact's subject: those before its verb, after a lead-in such as
    "From March" ("From March the recycling goes out…" → {"recycling"}); words that only say a
    change ("new", "now") are left out. A fact with no verb the list knows: its first content
    word."""
    words = _WORD.findall(_LABEL.sub("", text.casefold()))
    if words and words[0] in _LEAD_IN:  # "From March the recycling…": skip to the determiner
        for i, w in enumerate(words):
            if w in _DETERMINERS:
                words = words[i:]
                break
    subject: list[str] = []
    for i, w in enumerate(words):
        if w in _VERBS and i > 0:
            found = {t for t in subject if t not in _WORDS_OF_CHANGE}
            if found:
                return found
            # "You can reach Kofi on…": nothing before the verb says what it is about, the
            # words after it do, up to a preposition or a value
            after: set[str] = set()
            for v in words[i + 1 :]:
                if v in _LEAD_IN or v in {"to", "for", "by", "with"}:
                    break
                if v not in _STOP and v not in _VERBS and not v[:1].isdigit():
                    after.add(_term(v))
            return after - _WORDS_OF_CHANGE
        if w not in _STOP:
            subject.append(_term(w))
    first = [t for t in _terms(text) if t not in _WORDS_OF_CHANGE][:1]
    return set(first)


def is_update(old: str, new: str) -> bool:
    """Whether ``new`` reads as a new value of what ``old`` says (the words test alone): each
    fact's subject is in the other, most content words are shared, and each fact has words the
    other lacks (the value that changed). A newer fact that says it is a change ("moved to",
    "now", "no longer", "instead", "postponed", "goes up to"…) may word its subject differently
    (see ``_says_a_change_of``)."""
    a, b = content_terms(old), content_terms(new)
    if not a or not b or not (a - b - _WORDS_OF_CHANGE) or not (b - a - _WORDS_OF_CHANGE):
        return False  # one says nothing the other does not: a repeat or a refinement
    same_subject = subject_terms(old) <= b and subject_terms(new) <= a
    if same_subject and len(a & b) / min(len(a), len(b)) >= MIN_SHARED:
        return True
    return _says_a_change_of(old, new)


# a newer fact that says it changes something: "moved to", "now", "no longer", "instead"…
_CHANGE = re.compile(
    r"\b(?:now|new|newly|moved|moves|has moved|relocated|switched|changed|changes|no longer|"
    r"any ?more|instead|postponed|pushed back|put back|brought forward|rescheduled|"
    r"cancel+ed|called off|goes up|went up|gone up|rises|rose|raised|increased|decreased|"
    r"dropped|lowered|goes down|went down|updated|replaced|from now on|these days|nowadays)\b",
    re.I,
)
# words that name an attribute of a subject: a fact about "Anna's phone" is not one about "Anna"
_ATTRIBUTES = {
    "phone", "number", "email", "mail", "address", "password", "pin", "code", "birthday",
    "age", "price", "cost", "fee", "name", "website", "iban", "account", "plate", "size",
    "colour", "color", "weight", "height", "salary", "budget", "job", "deadline", "date",
}  # fmt: skip


_LABEL = re.compile(  # "Change of plan: …", "Update: …" say a change, not the subject
    r"^\s*(?:change of plans?|update|updated|correction|note|fyi|heads up|news)\s*[:,-]\s*", re.I
)
# a newer fact that says the old value no longer holds, with or without a new one
_ENDS = re.compile(
    r"\b(?:no longer|not\b.*\bany ?more|instead|cancel+ed|called off|stopped|ended)\b", re.I
)
_WHEN_WORDS = re.compile(
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|"
    r"may|june|july|august|september|october|november|december|today|tomorrow|week|month|year)",
)


def _matches(word: str, terms: set[str]) -> bool:
    """``word`` is among ``terms``, or shares its stem with one, or one ends the other
    ("sailboat" / "boat", "babysitter" / "babysits", "monthly" / "month")."""
    for t in terms:
        if word == t or (len(word) > 4 and len(t) > 4 and word[:5] == t[:5]):
            return True
        short, long_ = sorted((word, t), key=len)
        compound = len(long_) - len(short) >= 3  # "sail|boat", not "pa|rent" or "rent|ed"
        if len(short) >= 4 and compound and (long_.endswith(short) or long_.startswith(short)):
            return True
    return False


def _says_a_change_of(old: str, new: str) -> bool:
    """``new`` says it changes what ``old`` is about, worded differently: it says a change, every
    word of its subject is in ``old`` (stems and compounds count: "Grandpa's sailboat" is
    "grandpa… boat"), and ``old``'s subject is in ``new`` but for at most one word that names no
    attribute ("Yoga class" / "Yoga"; "Anna's phone" is not "Anna")."""
    if not _CHANGE.search(new):
        return False
    a, b = content_terms(old), content_terms(new)
    s_old = subject_terms(old)
    s_new = {w for w in subject_terms(new) if not _WHEN_WORDS.fullmatch(w)}
    if not s_old:
        return False
    if _ENDS.search(new) and all(_matches(w, b) for w in s_old):
        return True  # "I no longer take the bus…", "Tennis practice has been cancelled"
    if not s_new or not all(_matches(w, a) for w in s_new):
        return False
    missing = [w for w in s_old if not _matches(w, b)]
    return len(missing) == 0 or (
        len(missing) == 1 and len(s_old) > 1 and missing[0] not in _ATTRIBUTES
    )


def find_superseded(
    store: MemoryStore, vector: Sequence[float], text: str, exclude: str = ""
) -> Hit | None:
    """The current fact that ``text`` (with embedding ``vector``) updates, or None."""
    hits = store.search(vector, CANDIDATES, kind=KIND_FACT, min_score=MIN_SIMILARITY)
    for hit in hits:
        if hit.id == exclude or hit.extra.get(SUPERSEDED_BY):
            continue
        if hit.score >= MIN_SIMILARITY and is_update(hit.text, text):
            return hit
    return None


def is_superseded(hit: Hit) -> bool:
    return hit.kind == KIND_FACT and bool(hit.extra.get(SUPERSEDED_BY))


def current_first(hits: Sequence[Hit], store: MemoryStore | None = None) -> list[Hit]:
    """``hits`` with every superseded fact moved after the current ones (order otherwise kept);
    with ``store``, a current fact that replaced one of them and is missing is brought in just
    before the first superseded fact, with that fact's score."""
    current = [h for h in hits if not is_superseded(h)]
    old = [h for h in hits if is_superseded(h)]
    if store is not None and old:
        have = {h.id for h in hits}
        wanted = [str(h.extra[SUPERSEDED_BY]) for h in old]
        missing = [w for w in dict.fromkeys(wanted) if w not in have]
        if missing:
            found = {h.id: h for h in store.get(missing)}
            for h in old:
                newer = found.pop(str(h.extra[SUPERSEDED_BY]), None)
                if newer is not None and not is_superseded(newer):
                    current.append(_with_score(newer, h.score))
    return current + old


def _with_score(hit: Hit, score: float) -> Hit:
    return Hit(
        hit.id, score, hit.kind, hit.source, hit.text, hit.created_at, hit.doc_id,
        hit.chunk_index, dict(hit.extra),
    )  # fmt: skip


def status_note(hit: Hit) -> str:
    """For the prompt: "superseded on 2026-03-01 by a newer fact", "current; replaces an older
    fact", or ""."""
    if hit.kind != KIND_FACT:
        return ""
    if hit.extra.get(SUPERSEDED_BY):
        when = str(hit.extra.get(SUPERSEDED_AT) or "")[:10]
        return f"superseded on {when} by a newer fact" if when else "superseded by a newer fact"
    if hit.extra.get(SUPERSEDES):
        return "current; it replaces an older fact"
    return ""


def mark(store: MemoryStore, old_id: str, new_id: str, when: str) -> None:
    store.set_fact_fields(old_id, {SUPERSEDED_BY: new_id, SUPERSEDED_AT: when})
    store.set_fact_fields(new_id, {SUPERSEDES: old_id})


def undo(store: MemoryStore, new_id: str) -> str:
    """Take the "replaces" mark off ``new_id`` and its older fact; returns the older fact's id
    ("" when there was none). Both facts stay, both current."""
    hits = store.get([new_id])
    old_id = str(hits[0].extra.get(SUPERSEDES) or "") if hits else ""
    if old_id:
        store.set_fact_fields(old_id, {SUPERSEDED_BY: "", SUPERSEDED_AT: ""})
        store.set_fact_fields(new_id, {SUPERSEDES: ""})
    return old_id
