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
name). A newer fact that says a change ("now", "moved", "no longer", "I put…", "from next
week") may name the same thing in other words: an attribute by another name ("email" / "reach",
"phone number" / "a new number", "address" / "home" / "live", ``_SYNONYM_GROUPS``), a one-letter
typo ("dor" / "door"), or repeat every word of the old fact when it says the old one ended ("Noah
no longer plays the cello; he plays…"). The cosine of the two facts does not tell updates from
look-alikes (the dev set v2 measures updates 0.46-0.89 and look-alikes 0.39-0.98 with
all-MiniLM-L6-v2), so it only picks the candidates. Deliberately conservative: a false update
costs the user an Undo, a missed one costs nothing new. No Qt here.

In a search, the fact that replaced a superseded one takes that fact's place and score
(``current_first``): the question matched the older wording, the answer is the newer fact.
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
    "put", "puts", "placed", "stored", "hid", "left", "bills", "billed", "get", "trains",
    "shows", "belong",
}  # fmt: skip
_AUXILIARIES = {
    "is", "are", "was", "were", "has", "have", "had", "will", "can", "does", "do", "did",
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
        noun = i + 1 < len(words) and words[i + 1] in _AUXILIARIES and w not in _AUXILIARIES
        if w in _VERBS and i > 0 and not noun:  # "The school play will…": "play" is a noun
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
            if not after - _WORDS_OF_CHANGE and _term(w) in _SYNONYM:  # "I now live at…"
                return {_term(w)}
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
    if not a or not b:
        return False
    if _ENDS.search(new) and not _ENDS.search(old):  # "X no longer works at Y; she teaches…"
        return _says_a_change_of(old, new)
    if not (a - b - _WORDS_OF_CHANGE) or not (b - a - _WORDS_OF_CHANGE):
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
    r"dropped|lowered|goes down|went down|updated|replaced|from now on|these days|nowadays|"
    r"from (?:next|this) \w+|as of|starting|put|placed|stored|hid|quit|sold)\b",
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
    r"\b(?:no longer|not\b.*\bany ?more|instead|cancel+ed|called off|stopped|ended)\b"
    r"|n't\b.*\bany ?more\b",  # "we don't shop there anymore"
    re.I,
)
_CANCELLED = re.compile(r"\b(?:cancel+ed|called off|instead)\b", re.I)
# words that name one attribute in other words: "phone" / "number" / "mobile", "email" / "mail",
# "address" / "home" / "live"; "reach" and "contact" name a phone or an email
_SYNONYM_GROUPS = (
    {"phone", "telephone", "mobile", "cell", "number", "line", "sim"},
    {"email", "e-mail", "mail", "inbox"},
    {"address", "home", "live", "lived", "living", "house", "reside"},
    {"price", "cost", "charge", "bill", "fee"},
    {"contract", "plan", "tariff", "subscription"},
)
_SYNONYM = {w: i for i, group in enumerate(_SYNONYM_GROUPS) for w in group}
_CONTACT = {"reach", "reached", "contact", "contacted", "write"}  # a phone or an email
# a word that names the kind of thing a subject is, not which one: "Yoga class" is "Yoga"
_KIND_OF_EVENT = {
    "class", "lesson", "session", "appointment", "meeting", "practice", "training", "club",
    "service", "course", "group", "visit", "checkup", "slot",
}  # fmt: skip
# a word that makes another thing of the same name: "Hannah's husband" is not "Hannah"
_OTHER_ONE = {
    "husband", "wife", "partner", "son", "daughter", "sister", "brother", "mum", "mother", "dad",
    "father", "friend", "boss", "neighbour", "neighbor", "cousin", "aunt", "uncle", "niece",
    "nephew", "grandma", "grandpa", "kid", "child", "colleague", "office", "work", "spare",
}  # fmt: skip
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
        if _same_attribute(word, t) or _one_typo(word, t):
            return True
        short, long_ = sorted((word, t), key=len)
        compound = len(long_) - len(short) >= 3  # "sail|boat", not "pa|rent" or "rent|ed"
        if len(short) >= 4 and compound and (long_.endswith(short) or long_.startswith(short)):
            return True
    return False


def _same_attribute(a: str, b: str) -> bool:
    """ "phone" / "number", "email" / "reach", "address" / "live" (``_SYNONYM_GROUPS``)."""
    ga, gb = _SYNONYM.get(a), _SYNONYM.get(b)
    if ga is not None and ga == gb:
        return True
    contact = {0, 1}  # the phone and email groups
    return (a in _CONTACT and gb in contact) or (b in _CONTACT and ga in contact)


def _one_typo(a: str, b: str) -> bool:
    """One letter left out, added, changed or two swapped, in words of 4+ letters ("dor" is
    "door"; numbers and codes never: "4512" is not "4513")."""
    if a == b or min(len(a), len(b)) < 3 or max(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if any(c.isdigit() for c in a + b):
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )  # fmt: skip
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


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
    # "I no longer take the bus…", "Tennis practice has been cancelled"; not "Lisa's son no
    # longer…" (another one's subject), and what ends is what the older fact said
    if (
        _ENDS.search(new)
        and all(_matches(w, b) for w in s_old)
        and not any(w in _OTHER_ONE and not _matches(w, a) for w in s_new)
        and (_CANCELLED.search(new) or any(_matches(w, b) for w in a - s_old - _WORDS_OF_CHANGE))
    ):
        return True
    if not s_new or not all(_matches(w, a) for w in s_new):
        return False
    missing = [w for w in s_old if not _matches(w, b)]
    return len(missing) == 0 or (
        len(missing) == 1
        and len(s_old) > 1
        and missing[0] not in _ATTRIBUTES
        and missing[0] not in _OTHER_ONE
        and (len(s_old) > 2 or missing[0] in _KIND_OF_EVENT)
    )  # "Jake's football training" / "Jake trains…", "Yoga class" / "Yoga"; not "Jake's swimming"


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
    """``hits`` with every superseded fact moved after the current ones (order otherwise kept).
    The current fact that replaced one of them answers what the older one was found for: it
    takes the older fact's place and score when it ranked lower (a newer fact worded otherwise,
    "You can now reach Rosa at…", is not beaten by a rival the older wording resembled); with
    ``store``, one that the search missed is brought in there."""
    old = [h for h in hits if is_superseded(h)]
    if not old:
        return list(hits)
    have = {h.id: h for h in hits}
    newer: dict[str, Hit] = {}  # an older fact's id → the current fact that replaced it
    wanted = [str(h.extra[SUPERSEDED_BY]) for h in old]
    missing = [w for w in dict.fromkeys(wanted) if w not in have]
    found = {h.id: h for h in store.get(missing)} if store is not None and missing else {}
    for h in old:
        nid = str(h.extra[SUPERSEDED_BY])
        hit = have.get(nid) or found.get(nid)
        if hit is not None and not is_superseded(hit):
            newer[h.id] = hit
    current: list[Hit] = []
    placed: set[str] = set()
    for h in hits:
        if is_superseded(h):
            hit = newer.get(h.id)
            if hit is not None and hit.id not in placed:
                current.append(_with_score(hit, max(hit.score, h.score)))
                placed.add(hit.id)
        elif h.id not in placed:
            current.append(h)
            placed.add(h.id)
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
