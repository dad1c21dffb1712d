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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tera_desktop.core.query_filters import distinctive_terms, mentions

CUT_MARK = "… [cut at the length limit]"

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

# what a question asks for → a pattern one of its sources must match to hold the answer
_ASKS = (
    (re.compile(r"^\s*(?:when|what time|what day|what date|which day|how long|how often|"
                r"until when|since when)\b|\b(?:open(?:ing)? hours|what time|which days?)\b",
                re.I), "time", _TIME, "when"),
    (re.compile(r"^\s*(?:how (?:much|many|old|big|far|tall|heavy)|what(?:'s| is) the "
                r"(?:price|cost|number|amount|code|total|budget|phone|pin|password))\b|"
                r"\b(?:phone|telephone|number|pin|code|price|cost|amount|budget)\b", re.I),
     "number", _NUMBER, "the number"),
    (re.compile(r"^\s*(?:who|whom|whose)\b", re.I), "name", _NAME, "who"),
    (re.compile(r"^\s*where\b", re.I), "place", _PLACE, "where"),
)  # fmt: skip
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

    @property
    def clean(self) -> bool:
        return not (
            self.removed_citations
            or self.stripped_markup
            or self.echoed_instructions
            or self.cut
            or self.unsupported
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "removed_citations": list(self.removed_citations),
            "stripped_markup": self.stripped_markup,
            "echoed_instructions": self.echoed_instructions,
            "cut": self.cut,
            "unsupported": list(self.unsupported),
            "cited": list(self.cited),
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


def unsupported_claims(answer: str, texts: Iterable[str]) -> list[str]:
    """The claims in ``answer`` that none of ``texts`` (sources, the question) contains."""
    haystack = _norm(" ".join(texts))
    out: list[str] = []
    for claim in _claims(answer):
        key = _norm(claim)
        if not key:
            continue
        if key in haystack:
            continue
        if " " in claim and all(_norm(part) in haystack for part in claim.split()):
            continue
        out.append(claim)
    return out


def check_answer(
    text: str,
    *,
    valid_citations: Iterable[int],
    source_texts: Sequence[str],
    question: str = "",
    instructions: str = "",
    cut: bool = False,
) -> tuple[str, AnswerCheck]:
    """The cleaned answer and what was found. ``valid_citations``: the source numbers the model
    was given; ``source_texts``: the full texts of the sources (claims are looked up there and in
    the question); ``instructions``: the system prompt (an answer that repeats it is cut back)."""
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
    unsupported = unsupported_claims(answer, [*source_texts, question])
    if cut:
        answer = answer.rstrip() + " " + CUT_MARK if answer else CUT_MARK
    check = AnswerCheck(
        removed_citations=tuple(sorted(set(work.removed))),
        stripped_markup=stripped,
        echoed_instructions=echoed,
        cut=cut,
        unsupported=tuple(unsupported),
        cited=tuple(work.cited),
    )
    return answer, check


def missing_answer_kind(question: str, source_texts: Sequence[str]) -> str | None:
    """When the question asks for a kind of fact (a time, a number, a name, a place) that none of
    the sources holds, the words for it ("when", "the number"…); else None. When the question
    names someone or something, only the sources that mention it count."""
    names = [re.sub(r"['’]s$", "", t) for t in distinctive_terms(question)]
    names = [n for n in names if not n.isdigit() and len(n) > 1]
    on_topic = [t for t in source_texts if mentions(t, names)] if names else []
    texts = on_topic or list(source_texts)  # a question about Sven: what the sources say of Sven
    for asks, _kind, holds, words in _ASKS:
        if asks.search(question):
            if not any(holds.search(t) for t in texts):
                return words
            return None
    return None
