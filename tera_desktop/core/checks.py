"""Cheap checks on what the model wrote, and on whether the sources can answer at all.

No model calls: regular expressions and set lookups, so they run on every answer.

- ``check_answer()`` cleans the model's text (citations that point to no source removed, copied
  reference markup and echoed instructions stripped, a thinking block dropped, an answer cut by the
  length limit marked) and lists the numbers, codes, dates and names in the answer that appear in
  no source ("not found in memory").
- ``missing_answer_kind()`` tells when the sources are on the topic but cannot hold the answer:
  a "when" question whose sources hold no time or date, a "how much" question with no number…
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tera_desktop.core.query_filters import distinctive_terms, mentions

CUT_MARK = "… [cut at the length limit]"


def fold(text: str) -> str:
    """``text`` without accents and case ("Café" → "cafe"), for comparing words. (The keyword
    index and the query filters fold the same way in ``core/folding.py``.)"""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())


_CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,–-]\s*\d{1,3})*)\]")
_REF_MARKUP = re.compile(
    r"\((?:from|remembered)\s[^()\n]{0,80}\)\s*:?\s*|"  # "(from dentist.md)" "(remembered 2024-…)"
    r"^\s*(?:References|Sources|Question)\s*:\s*$|"  # a copied header line
    r"^\s*(?:References|Sources)\s*:\s*",
    re.I | re.M,
)
_LABEL = re.compile(  # a source's label copied from the references: "falcon-plan.md (p. 3): "
    r"(?<![\w/])[\w.-]+\.(?:md|txt|pdf|docx|html?|m4a|mp3|wav|ogg|opus|flac|webm|png|jpe?g)"
    r"(?: \(p\. \d+(?:, OCR)?\)| \d+:\d\d(?:–\d+:\d\d)?)?:\s+",
    re.I,
)
_REF_LINE = re.compile(r"^\s*\[\d{1,3}\]\s*(?:fact|[\w .-]+\.\w{1,5})\b[^:\n]{0,40}:\s*", re.M)
# the numbered source list echoed after the answer: "… Lisbon. Referenced references: [1] …"
_REF_TAIL = re.compile(
    r"\s*\b(?:referenced\s+)?(?:references|sources)\s*:\s*(?=\[\d{1,3}\]).*\Z", re.I | re.S
)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)
_SPECIAL = re.compile(r"<\|[a-z_]+\|>|</?s>")

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_TIME = re.compile(
    rf"\b\d{{1,2}}(?::\d\d)?\s*(?:am|pm|h|o'clock)\b|\b\d{{1,2}}:\d\d\b|\b(?:{_DAYS})s?\b|"
    rf"\b(?:{_MONTHS})\b|\b(?:19|20)\d\d\b|\b\d{{4}}-\d\d(?:-\d\d)?\b|\b\d{{1,2}}[./]\d{{1,2}}\b|"
    r"\b\d+\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b|"
    r"\b(?:today|tomorrow|yesterday|noon|midnight|morning|evening|weekend|weekday|daily|weekly|"
    r"monthly|every\s+\w+)\b",
    re.I,
)
_NUMBER = re.compile(r"\d")
_NAME = re.compile(r"\b[A-Z][a-zà-ÿ]+(?:[ -][A-Z][a-zà-ÿ]+)*\b")
_PLACE = re.compile(
    r"\b(?:street|st\.|road|rd\.|avenue|ave|lane|floor|level|room|building|garage|office|"
    r"address|city|town|at|in|near|next to|behind)\b|\d+\s*\w+\s+(?:street|road|avenue)",
    re.I,
)

# ---- answer kinds: what a question asks for, and whether a text can hold it -------------------
# A question asks for one kind of answer (a date, a phone number, a password, a person…), read
# from its words; a source can answer it only if its text holds a value of that kind (a date, a
# run of digits, an "@"…). The kinds are decided from what the sources hold, not from a list of
# question wordings: "What's the PIN of the credit card?" and "the card's pin?" ask the same kind.
_DAYS_ML = (  # weekday names in the languages a memory here is written in (en, fr, de, es, it)
    f"{_DAYS}|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|montag|dienstag|mittwoch|"
    "donnerstag|freitag|samstag|sonntag|lunes|martes|miércoles|miercoles|jueves|viernes|sábado|"
    "sabado|domingo|lunedì|lunedi|martedì|martedi|mercoledì|mercoledi|giovedì|giovedi|venerdì|"
    "venerdi|sabato|domenica"
)
_MONTHS_ML = (
    f"{_MONTHS}|janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
    "novembre|décembre|decembre|januar|februar|märz|marz|juni|juli|oktober|dezember|enero|"
    "febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|gennaio|"
    "febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre"
)
_HOLDS_TIME = re.compile(
    rf"\b\d{{1,2}}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.|h|uhr|o'clock)(?!\w)|\b\d{{1,2}}[:.h]\d\d\b|"
    rf"\b(?:{_DAYS_ML})s?\b|\b(?:{_MONTHS_ML})\b|(?-i:\b(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|"
    r"Sat|Sun)\b)|\b(?:19|20)\d\d\b|\b\d{4}-\d\d(?:-\d\d)?\b|\b\d{1,2}[./]\d{1,2}\b|"
    r"\b\d+(?:st|nd|rd|th)\b|\b(?:\d+|a|an|one|two|three|four|five|six|several|few)\s*"
    r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|fortnights?|months?|years?)\b|"
    r"\b(?:today|tomorrow|yesterday|noon|midday|midnight|mornings?|afternoons?|evenings?|"
    r"nights?|weekends?|weekdays?|daily|weekly|monthly|yearly|annually|fortnightly|twice|"
    r"once|every\s+\w+|other\s+\w+day|hours|opening|closed|cancel+ed|24/7|next\s+week|"
    r"last\s+week|spring|summer|autumn|fall|winter|christmas|easter)\b",
    re.I,
)
_HOLDS_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HOLDS_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)
_HOLDS_PHONE = re.compile(r"(?<![\w@])\+?\(?\d[\d ()/.-]{4,}\d(?![\w@])")
_HOLDS_PASSWORD = re.compile(
    r"\b(?:password|passcode|passphrase|passwort|kennwort|mot de passe|pw)\b\s*(?:is|was|:|=|"
    r"now|changed to|reads)?\s*[\"'“]?[^\s\"'”]{3,}",
    re.I,
)
_HOLDS_CODE = re.compile(r"(?<![\w@])[A-Za-z]{0,6}[-‐ ]?\d[\w!#$%&*+./-]*\d|(?<![\w@])\d{2,}")
_HOLDS_MONEY = re.compile(
    r"[€$£¥]\s*\d|\d[\d.,]*\s*(?:€|\$|£|eur|euros?|dollars?|usd|pounds?|gbp|chf|francs?|"
    r"cents?|pence|p\b|k\b|million|thousand|grand)|\b(?:free|nothing|no charge)\b",
    re.I,
)
_NUMBER_WORDS = (
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|dozen|half|double|twice|single|couple|few|several|"
    r"large|medium|small|xl|xs)\b"
)
_HOLDS_NUMBER = re.compile(rf"\d|{_NUMBER_WORDS}", re.I)
_STREET = (
    r"strasse|straße|str\.|weg|gasse|allee|platz|damm|ring|ufer|chaussee|markt|via|rue|calle|"
    r"street|st\.|road|rd\.?|avenue|ave\.?|lane|ln\.?|close|drive|dr\.|way|boulevard|blvd|"
    r"square|place|terrace|crescent|court|row|hill|gardens|parkway|highway"
)
_HOLDS_ADDRESS = re.compile(
    rf"\b\w*(?:strasse|straße|weg|gasse|allee|platz|damm|ring|ufer)\s*\d|"
    rf"\b\d+[a-z]?,?\s+(?:[A-ZÀ-Ý][\w'’-]*\s+){{1,3}}(?i:{_STREET})\b|"
    rf"\b(?i:{_STREET})\s+\d+[a-z]?\b|\b(?:via|rue|calle)\s+[A-ZÀ-Ý]|\b\d{{4,5}}\s+[A-ZÀ-Ý]\w+|"
    r"\b(?:flat|apartment|apt\.?|room|suite|unit|floor|berth|plot|house)\s+(?:no\.?\s*)?\d",
)
_PLACE_NOUNS = (
    r"centre|center|shop|store|office|station|hospital|clinic|klinik|practice|surgery|school|"
    r"kindergarten|university|market|supermarket|pharmacy|library|hotel|hostel|restaurant|"
    r"caf[eé]|bar|pub|museum|park|garden|garage|drawer|cupboard|cabinet|shelf|wardrobe|box|safe|"
    r"basement|cellar|attic|loft|balcony|hallway|hall|kitchen|bedroom|bathroom|living room|"
    r"desk|car|boot|trunk|marina|harbour|harbor|port|airport|church|town hall|city hall|gym|"
    r"pool|stadium|cinema|theatre|theater|bank|post office|depot|yard|farm|beach|lake|island|"
    r"village|town|city|country|building|floor|room|flat|apartment|house|home|street|road"
)
_HOLDS_PLACE = re.compile(
    rf"{_HOLDS_ADDRESS.pattern}|\b(?:at|in|near|on|to|from|behind|beside|under|inside|by|opposite)"
    rf"\s+(?:the\s+|a\s+|my\s+|our\s+|his\s+|her\s+|their\s+)?(?:old\s+|new\s+|big\s+|"
    rf"small\s+|main\s+)?(?:[A-ZÀ-Ý][\w'’-]+|(?i:{_PLACE_NOUNS})\b)|\b(?i:{_PLACE_NOUNS})\b|"
    r"\bnext to\b|\bupstairs\b|\bdownstairs\b|\bnearby\b",
)
_TITLE = r"(?:Dr|Mr|Mrs|Ms|Miss|Prof|Frau|Herr|Señora|Senora|Señor|Senor|Madame|Monsieur|Mme|Sr)"
_PERSON_CAPS_SKIP = {
    "The", "A", "An", "My", "Our", "Your", "His", "Her", "Their", "This", "That", "These",
    "Those", "It", "Its", "I", "We", "You", "He", "She", "They", "From", "Note", "Remember",
    "New", "Change", "Hotel", "Le", "La", "Les", "Der", "Die", "Das", "El", "Il", "WhatsApp",
}  # fmt: skip


_NAME_GOES_ON = re.compile(
    r"(?:['’]s\b|is\b|was\b|has\b|works\b|lives\b|does\b|takes\b|teaches\b|comes\b|"
    r"visits\b|loves\b|likes\b|babysits\b|moved\b|[A-ZÀ-Ý])"
)


def _holds_person(text: str) -> bool:
    """A name of someone (or something named like one): a title ("Dr. Haas", "Frau Müller"),
    or a capitalized word that is not a sentence's ordinary opening, a month or a day."""
    if re.search(rf"\b{_TITLE}\.?\s+[A-ZÀ-Ý]", text):
        return True
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n+|\s+-\s+", text):
        for m in re.finditer(r"[A-ZÀ-Ý][a-zà-ÿ'’]+(?:-[A-ZÀ-Ý][a-zà-ÿ]+)?", sentence):
            word = re.sub(r"['’]s$", "", m.group(0))
            if word in _PERSON_CAPS_SKIP or word in _CAPS_OK:
                continue
            if re.fullmatch(rf"(?:{_MONTHS_ML}|{_DAYS_ML})s?", word, re.I):
                continue
            # a sentence's first word is a name when the sentence goes on like a name does
            if m.start() == 0 and not _NAME_GOES_ON.match(sentence[m.end() :].lstrip()):
                continue
            return True
    return False


@dataclass(frozen=True)
class AnswerKind:
    """One kind of answer: the question words that ask for it, what a text must hold to give
    it, and how the honest answer names it ("none of them says {words}")."""

    name: str
    asks: re.Pattern[str]
    words: str


_W = r"(?:wh?en|whe?n)"  # "when", and the typos "wen", "whn"
ANSWER_KINDS: tuple[AnswerKind, ...] = (
    AnswerKind("email", re.compile(r"\be-?mail\b|\bemail address\b", re.I), "the email address"),
    AnswerKind("password", re.compile(r"\b(?:password|passcode|passphrase|pass word)\b", re.I),
               "the password"),
    AnswerKind("phone", re.compile(r"\b(?:phone|telephone|mobile|cell|landline|hotline|fax|"
                                   r"support line|helpline)\b|\bhow (?:can|do) (?:i|we) (?:reach|"
                                   r"call|ring|contact)\b|\bnumber to call\b", re.I),
               "the phone number"),
    AnswerKind("code", re.compile(r"\b(?:code|pin|combination|passkey|licen[cs]e plate|number "
                                  r"plate|plate number|plate|ip address|ip|serial(?: number)?|"
                                  r"frame number|model number|iban|account number|customer number|"
                                  r"policy number|permit number|reference number|ticket number|"
                                  r"tracking number|flight number|seat(?: number)?)\b", re.I),
               "the code or number"),
    AnswerKind("price", re.compile(r"\b(?:cost|costs|price|prices|priced|charge|charges|fee|fees|"
                                   r"rent|pay|paid|fare|salary|budget|how much money)\b", re.I),
               "the price"),
    AnswerKind("age", re.compile(r"\bhow old\b|\bwhat age\b|\bage of\b|\b(?:his|her|its|their)"
                                 r" age\b", re.I), "the age"),
    AnswerKind("person", re.compile(r"^\W*(?:and\s+|so\s+|but\s+)?(?:who|whom|whose)\b|"
                                    r"\bwho(?:'s| is| are| was)\b", re.I), "who"),
    AnswerKind("address", re.compile(r"\baddress\b|\bstreet\b|\bwhere (?:does|do|did) \w+ "
                                     r"live\b", re.I), "the address"),
    AnswerKind("place", re.compile(r"^\W*(?:and\s+|so\s+|but\s+)?(?:where|wher|whre|wehre)\b|"
                                   r"\bwhere(?:'s| is| are| was| were| do| does| did| can)\b|"
                                   r"\bwhich (?:city|town|country|street|floor|room|flat|berth|"
                                   r"shop|place)\b|\blocation\b", re.I), "where"),
    AnswerKind("time", re.compile(rf"^\W*(?:and\s+|so\s+|but\s+)?(?:{_W}|until {_W}|till {_W}|"
                                  rf"since {_W}|by {_W}|from {_W})\b|\b(?:what|which) (?:time|"
                                  r"day|days|date|month|year|week|hour|hours)\b|"
                                  r"\bhow (?:long|often)\b|\bopening (?:hours|times)\b|"
                                  r"\bdeadline\b|\bwhen\b",
                                  re.I), "when"),
    AnswerKind("number", re.compile(r"\bhow (?:much|many|big|far|tall|heavy|wide|high|deep|long|"
                                    r"large|small|fast)\b|\b(?:size|weight|height|width|length|"
                                    r"amount|total|quantity|number|count)\b", re.I), "the number"),
)  # fmt: skip


def asked_kind(question: str) -> AnswerKind | None:
    """The kind of answer ``question`` asks for (the first that matches, most specific first),
    or None (a yes/no question, "tell me about…", "how do I…")."""
    q = " ".join(question.split())
    for kind in ANSWER_KINDS:
        if kind.asks.search(q):
            if kind.name in ("phone", "email") and _ASKS_HOW_MUCH.search(q):
                return _PRICE  # "How much is my phone contract?" asks a price, not a number
            return kind
    return None


_ASKS_HOW_MUCH = re.compile(r"\bhow much (?:is|are|was|were|does|do|did|will)\b", re.I)
_PRICE = next(k for k in ANSWER_KINDS if k.name == "price")


_SAYS_CANCELLED = re.compile(r"\b(?:cancel+ed|called off|scrapped|axed)\b", re.I)


def holds_kind(text: str, kind: str) -> bool:
    """Whether ``text`` holds a value of answer kind ``kind`` (see ``ANSWER_KINDS``). A text
    that says the thing was cancelled answers any kind ("When is the barbecue?" "Called off.")."""
    if _SAYS_CANCELLED.search(text):
        return True
    if kind == "email":
        return bool(_HOLDS_EMAIL.search(text))
    plain = _HOLDS_URL.sub(" ", _HOLDS_EMAIL.sub(" ", text))  # an address is not a place or code
    if kind == "password":
        return bool(_HOLDS_PASSWORD.search(plain))
    if kind == "phone":
        return any(sum(c.isdigit() for c in m.group(0)) >= 6 for m in _HOLDS_PHONE.finditer(plain))
    if kind == "code":
        return bool(_HOLDS_CODE.search(plain))
    if kind == "price":
        return bool(_HOLDS_MONEY.search(plain))
    if kind == "age":
        return bool(re.search(r"\d|\bborn\b", plain)) or bool(re.search(_NUMBER_WORDS, plain, re.I))
    if kind == "person":
        return _holds_person(plain)
    if kind == "address":
        return bool(_HOLDS_ADDRESS.search(plain))
    if kind == "place":
        return bool(_HOLDS_PLACE.search(plain))
    if kind == "time":
        return bool(_HOLDS_TIME.search(plain))
    if kind == "number":
        return bool(_HOLDS_NUMBER.search(plain))
    return True


_CAPS_OK = {
    "I", "The", "A", "An", "It", "Its", "Yes", "No", "Your", "You", "My", "Tera", "This", "That",
    "There", "They", "He", "She", "We", "What", "When", "Where", "Who", "How", "Why", "Which",
    "According", "Based", "Sorry", "However", "In", "On", "At", "From", "To", "For", "Of", "If",
    "Unfortunately", "Also", "And", "But", "So", "Note", "Please", "Here", "Today", "Tomorrow",
    "Yesterday", "None", "Not", "Nothing", "Reference", "References", "Source", "Sources",
}  # fmt: skip


@dataclass(frozen=True)
class AnswerCheck:
    """What the checks found and did. ``unsupported``: claims in the answer found in no source."""

    removed_citations: tuple[int, ...] = ()
    stripped_markup: bool = False
    echoed_instructions: bool = False
    cut: bool = False
    unsupported: tuple[str, ...] = ()
    cited: tuple[int, ...] = ()
    # values the answer states that only a superseded fact holds ("the gate code is 4512" when
    # 7788 replaced it): an old value given as the current one
    stale: tuple[str, ...] = ()
    # the model said nothing (it repeated the question): the best source is quoted instead
    quoted_source: bool = False

    @property
    def clean(self) -> bool:
        return not (
            self.removed_citations
            or self.stripped_markup
            or self.echoed_instructions
            or self.cut
            or self.unsupported
            or self.stale
            or self.quoted_source
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "removed_citations": list(self.removed_citations),
            "stripped_markup": self.stripped_markup,
            "echoed_instructions": self.echoed_instructions,
            "cut": self.cut,
            "unsupported": list(self.unsupported),
            "cited": list(self.cited),
            "stale": list(self.stale),
            "quoted_source": self.quoted_source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerCheck:
        return cls(
            removed_citations=tuple(int(x) for x in data.get("removed_citations", ())),
            stripped_markup=bool(data.get("stripped_markup")),
            echoed_instructions=bool(data.get("echoed_instructions")),
            cut=bool(data.get("cut")),
            unsupported=tuple(str(x) for x in data.get("unsupported", ())),
            cited=tuple(int(x) for x in data.get("cited", ())),
            stale=tuple(str(x) for x in data.get("stale", ())),
            quoted_source=bool(data.get("quoted_source")),
        )


@dataclass
class _Work:
    text: str
    removed: list[int] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)


def _expand(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*,\s*", group):
        bounds = re.split(r"\s*[–-]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            out.extend(range(lo, min(hi, lo + 50) + 1))
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def _fix_citations(work: _Work, valid: set[int]) -> None:
    def repl(m: re.Match[str]) -> str:
        numbers = _expand(m.group(1))
        good = [n for n in numbers if n in valid]
        work.removed.extend(n for n in numbers if n not in valid)
        for n in good:
            if n not in work.cited:
                work.cited.append(n)
        return "".join(f"[{n}]" for n in good)

    work.text = _CITATION.sub(repl, work.text)


def _norm(text: str) -> str:
    return re.sub(r"[\s,.'’-]+", "", text.lower())


def _claims(answer: str) -> list[str]:
    """Numbers, codes, dates and names in the answer: the parts a wrong answer gets wrong."""
    text = _CITATION.sub(" ", answer)
    found: list[str] = []
    for m in re.finditer(r"[A-Za-z0-9][\w./:-]*\d[\w./:-]*|\d+", text):  # codes and numbers
        token = m.group(0).rstrip(".:/-")
        if token and token not in found:
            found.append(token)
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        for m in _NAME.finditer(sentence):
            name = m.group(0)
            first = name.split()[0]
            if m.start() == 0 and " " not in name:
                continue  # a capital at the start of a sentence is not a name
            if first in _CAPS_OK and " " not in name:
                continue
            if re.fullmatch(rf"(?:{_MONTHS}|{_DAYS})", name, re.I):
                found.append(name)
                continue
            if name not in found:
                found.append(name)
    return found


# what a source's words may carry between their letters: markup, entities, soft hyphens and
# zero-width characters (HTML, PDFs); any dash counts as one (``_norm`` drops "-")
_MARKUP = re.compile(r"<[^<>\n]{1,200}>|&(?:[a-z]{2,8}|#\d{1,6}|#x[0-9a-f]{1,5});|[*_`~|]", re.I)
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
_DASHES = re.compile("[\u2010-\u2015\u2212]")


def _plain(text: str) -> str:
    """``text`` as words only: markup and invisible characters out (a tag or entity is a space:
    "Object<br>Notation" is two words), every dash "-"."""
    return _DASHES.sub("-", _MARKUP.sub(" ", _INVISIBLE.sub("", text)))


def unsupported_claims(answer: str, texts: Iterable[str]) -> list[str]:
    """The claims in ``answer`` that none of ``texts`` (sources, the question) contains, words
    compared whatever whitespace, line breaks or markup stand between them in a source."""
    haystack = _norm(_plain(" ".join(texts)))
    out: list[str] = []
    for claim in _claims(answer):
        key = _norm(_plain(claim))
        if not key:
            continue
        if key in haystack:
            continue
        if " " in claim and all(_norm(_plain(part)) in haystack for part in claim.split()):
            continue
        out.append(claim)
    # an email address is exact: "kweiss@…" is not "k.weiss@…" (which ``_norm`` makes equal)
    exact = " ".join(texts).casefold()
    for m in _HOLDS_EMAIL.finditer(answer):
        email = m.group(0).rstrip(".")
        if email.casefold() not in exact and email not in out:
            out.append(email)
    return out


def check_answer(
    text: str,
    *,
    valid_citations: Iterable[int],
    source_texts: Sequence[str],
    question: str = "",
    instructions: str = "",
    cut: bool = False,
    superseded_texts: Sequence[str] = (),
) -> tuple[str, AnswerCheck]:
    """The cleaned answer and what was found. ``valid_citations``: the source numbers the model
    was given; ``source_texts``: the full texts of the sources (claims are looked up there and in
    the question); ``instructions``: the system prompt (an answer that repeats it is cut back);
    ``superseded_texts``: facts that newer facts replaced (left out of the prompt): a value
    found only there is flagged ``stale``. An answer that says nothing but the question back is
    replaced by the best source, quoted and cited, when it is short (a fact, a message)."""
    work = _Work(_SPECIAL.sub("", _THINK.sub("", text)))
    before = work.text
    work.text = _REF_TAIL.sub("", work.text)
    work.text = _REF_LINE.sub("", work.text)
    work.text = _REF_MARKUP.sub("", work.text)
    work.text = _LABEL.sub("", work.text)
    stripped = work.text != before
    echoed = False
    if instructions:
        for sentence in re.split(r"(?<=[.!?;])\s+", instructions):
            sentence = sentence.strip()
            if len(sentence) >= 24 and sentence in work.text:
                work.text = work.text.replace(sentence, "")
                echoed = True
    _fix_citations(work, set(valid_citations))
    answer = re.sub(r"[ \t]+([.,;:!?])", r"\1", work.text)
    answer = re.sub(r"[ \t]{2,}", " ", answer)
    answer = re.sub(r"\n{3,}", "\n\n", answer).strip()
    quoted = False
    valid = set(valid_citations)
    # only a finished answer that said nothing: an empty one (stopped before the first word)
    # or a cut one stays as it is
    if answer and not cut and source_texts and 1 in valid and _says_nothing(answer, question):
        best = _quotable(source_texts[0], question)  # "[1]" alone: its best sentence
        if best:
            answer, quoted = f"{best} [1]", True
            work.cited = [1]
    unsupported = unsupported_claims(answer, [*source_texts, question])
    stale = stale_values(answer, source_texts, superseded_texts) if superseded_texts else []
    # after an update, an answer that gives the old value as current, or a value no source
    # holds (a small model that garbles "k.weiss@…" or mixes the two facts), is replaced by the
    # best current source, quoted and cited, when it is short (a fact); ``stale`` keeps what
    # the model said
    if (stale or (superseded_texts and unsupported)) and not cut and not quoted:
        best = " ".join(source_texts[0].split()) if source_texts and 1 in valid else ""
        if best and len(best) <= QUOTE_MAX_CHARS:
            answer, quoted, unsupported = f"{best} [1]", True, []
            work.cited = [1]
    if cut:
        answer = answer.rstrip() + " " + CUT_MARK if answer else CUT_MARK
    check = AnswerCheck(
        removed_citations=tuple(sorted(set(work.removed))),
        stripped_markup=stripped,
        echoed_instructions=echoed,
        cut=cut,
        unsupported=tuple(unsupported),
        cited=tuple(work.cited),
        stale=tuple(stale),
        quoted_source=quoted,
    )
    return answer, check


QUOTE_MAX_CHARS = 240
_FILLER = re.compile(
    r"\b(?:the\s+)?answer(?:\s+to\s+(?:this|the|your)\s+question)?\s+is\s*:?|"
    r"\b(?:here\s+is|here's)\s+(?:the|my)\s+answer\s*:?|\bquestion\s*:|\banswer\s*:",
    re.I,
)


def _quotable(text: str, question: str) -> str:
    """What of a source can stand as the answer: all of it when short (a fact, a message), else
    its sentence sharing most of the question's words (the first on a tie); "" if none is short."""
    whole = " ".join(text.split())
    if len(whole) <= QUOTE_MAX_CHARS:
        return whole
    asked = {w.casefold()[:5] for w in re.findall(r"\w{3,}", question)} - {"what", "which", "where"}
    best, best_score = "", 0
    for sentence in re.split(r"(?<=[.!?])\s+", whole):
        words = {w.casefold()[:5] for w in re.findall(r"\w{3,}", sentence)}
        score = len(words & asked)
        if score > best_score and len(sentence) <= QUOTE_MAX_CHARS:
            best, best_score = sentence, score
    return best


def _says_nothing(answer: str, question: str) -> bool:
    """The answer holds no word beyond the question's and "the answer is:" (a small model
    that echoes the question, or stops after its opening)."""
    rest = _FILLER.sub(" ", _CITATION.sub(" ", answer))
    own = {w.casefold() for w in re.findall(r"\w+", question)}
    return not [w for w in re.findall(r"\w+", rest) if w.casefold() not in own]


def stale_values(
    answer: str, source_texts: Sequence[str], superseded_texts: Sequence[str]
) -> list[str]:
    """Claims in ``answer`` (numbers, codes, dates, names) that a superseded fact holds and no
    current source does: an old value stated as the current one."""
    current = _norm(" ".join(source_texts))
    old = _norm(" ".join(superseded_texts))
    out = []
    for claim in _claims(answer):
        key = _norm(claim)
        if key and key in old and key not in current and claim not in out:
            out.append(claim)
    for word in re.findall(r"[a-zà-ÿ]{4,}", answer.casefold()):  # "on Tuesdays", "in Kiel"
        key = _norm(word)
        if (
            word not in _CLAIM_STOP
            and re.search(rf"\b{re.escape(word)}", " ".join(superseded_texts).casefold())
            and key not in current
            and word not in [c.casefold() for c in out]
        ):
            out.append(word)
    return out


_CLAIM_STOP = {
    "that", "this", "with", "from", "your", "have", "they", "them", "their", "there", "what",
    "when", "where", "which", "will", "would", "could", "should", "about", "been", "were",
    "does", "into", "than", "then", "also", "only", "just", "some", "more", "most", "very",
}  # fmt: skip


# words a question uses around what it asks for: not what it is about
_KIND_WORDS = {
    "phone", "telephone", "mobile", "number", "numbers", "email", "mail", "address", "password",
    "passcode", "code", "pin", "combination", "price", "cost", "costs", "charge", "fee", "rent",
    "age", "time", "date", "day", "days", "when", "where", "who", "whose", "long",
    "often", "much", "many", "open", "opens", "close", "closes", "start", "starts", "end",
    "ends", "next", "last", "current", "new", "name", "called", "plate", "license", "licence",
    "ip", "hours", "opening", "deadline", "due", "street", "location", "size", "access",
    "login", "birthday", "e-mail", "contact",
}  # fmt: skip
_SUBJECT_STOP = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did",
    "have", "has", "had", "what", "whats", "which", "how", "i", "me", "my", "we", "us", "our",
    "you", "your", "of", "to", "in", "on", "at", "for", "from", "by", "with", "about", "and",
    "or", "but", "so", "it", "its", "he", "she", "him", "her", "his", "they", "them", "their",
    "this", "that", "there", "can", "could", "would", "should", "will", "get", "please", "tell",
    # verbs too common to say what a question is about
    "take", "takes", "go", "goes", "going", "come", "comes", "make", "makes", "give", "put",
    "keep", "use", "find", "see", "let", "want", "need", "needs", "got", "know", "remember",
}  # fmt: skip


def _fold_words(text: str) -> list[str]:
    return [re.sub(r"['’]s$", "", w) for w in re.findall(r"[\w'’]+", fold(text))]


def subject_words(question: str) -> set[str]:
    """What a question is about: its content words without the words that say which kind of
    answer it wants ("What is the guest wifi's password?" → {"guest", "wifi"})."""
    out = set()
    for w in _fold_words(question):
        if len(w) > 1 and w not in _SUBJECT_STOP and w not in _KIND_WORDS and not w.isdigit():
            out.add(w.replace("-", ""))
    return out


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word.rstrip("s")


def _owners(question: str) -> set[str]:
    """The words a question marks as the owner of what it asks for: "the tailor's shop",
    "the van's license plate", "the parents' evening" → {"tailor"}, {"van"}, {"parent"}."""
    found = re.findall(r"\b([a-z][\w-]*?)(?:['’]s|s['’])(?!\w)", fold(question))
    return {w.replace("-", "") for w in found if w not in _SUBJECT_STOP and len(w) > 1}


def about_named(question: str, source_texts: Sequence[str]) -> list[str] | None:
    """The sources naming who or what the question names or marks as an owner ("Sven",
    "grandpa's boat"), or None when it names nothing or no source names it."""
    names = [re.sub(r"['’]s$", "", t) for t in distinctive_terms(question)]
    names = [
        n
        for n in names
        if not n.isdigit()
        and len(n) > 1
        and not re.fullmatch(rf"(?:{_DAYS_ML}|{_MONTHS_ML})s?", n, re.I)
    ]
    named = [t for t in source_texts if mentions(t, names)] if names else []
    if named:
        return named
    owners = {_stem(w) for w in _owners(question)}
    if owners:
        owned = [
            t for t in source_texts if owners & {_stem(w.replace("-", "")) for w in _fold_words(t)}
        ]
        if owned:
            return owned
    return None


def on_topic(question: str, source_texts: Sequence[str]) -> list[str]:
    """The sources about what ``question`` is about: those naming its names ("Sven"), else
    those naming the owner it marks ("the tailor's shop"), else those sharing the most of its
    subject words; all of them when none shares any. A source sharing fewer of them is about a
    sibling: the cabin's wifi is not the guest wifi, the optician's shop not the tailor's."""
    named = about_named(question, source_texts)
    if named is not None:
        return named
    stems = [{_stem(w.replace("-", "")) for w in _fold_words(t)} for t in source_texts]
    want = {_stem(w) for w in subject_words(question)}
    overlap = [len(want & have) for have in stems]
    best = max(overlap, default=0)
    if best == 0:
        return list(source_texts)
    return [t for t, n in zip(source_texts, overlap, strict=True) if n == best]


def missing_answer_kind(question: str, source_texts: Sequence[str]) -> str | None:
    """When the question asks for a kind of answer (a date, a number, a code, a password, a
    person, a place…) that none of the sources on its topic holds, the words for it ("when",
    "the password"…); else None. Which sources count: see ``on_topic``."""
    kind = asked_kind(question)
    if kind is None or not source_texts:
        return None
    texts = on_topic(question, source_texts)
    if any(holds_kind(t, kind.name) for t in texts):
        return None
    return kind.words
