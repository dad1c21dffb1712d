"""Filters read from a question: who (chat senders named in it) and when (a day, month or year).

"What did Sam say about the trip in May 2023?" → senders ["Sam"], 2023-05-01 … 2023-05-31. The
assistant searches with these filters first and fills up with an unfiltered search, so a question
that merely mentions a name or a year still finds facts and documents.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tera_desktop.core.folding import fold
from tera_desktop.core.stopwords import STOPWORDS

_MONTHS = {
    name.lower(): i
    for i in range(1, 13)
    for name in (calendar.month_name[i], calendar.month_abbr[i])
}
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_PATTERNS = [
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\s*,?\s+{_YEAR}\b", re.I),  # 3 May 2023
    re.compile(rf"\b{_MONTH}\s+{_DAY}\s*,?\s+{_YEAR}\b", re.I),  # May 3, 2023
    re.compile(rf"\b{_MONTH}\s+(?:of\s+)?{_YEAR}\b", re.I),  # May 2023
    re.compile(r"\b(?P<iso>(?:19|20)\d\d-[01]\d(?:-[0-3]\d)?)\b"),  # 2023-05(-03)
    re.compile(rf"\b(?:in|during|from|of)\s+{_MONTH}(?!\s*\d)", re.I),  # in May
    re.compile(rf"\b(?:in|during|from|of|since)\s+{_YEAR}\b", re.I),  # in 2023
]


@dataclass(frozen=True)
class QueryFilters:
    senders: tuple[str, ...] = ()
    date_from: str | None = None  # ISO 8601, inclusive
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.senders or self.date_from or self.date_to)


def _span(year: int, month: int | None = None, day: int | None = None) -> tuple[str, str]:
    if month is None:
        return f"{year:04d}-01-01T00:00:00", f"{year:04d}-12-31T23:59:59"
    if day is None:
        last = calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-01T00:00:00", f"{year:04d}-{month:02d}-{last:02d}T23:59:59"
    return (
        f"{year:04d}-{month:02d}-{day:02d}T00:00:00",
        f"{year:04d}-{month:02d}-{day:02d}T23:59:59",
    )


def find_period(question: str, today: date | None = None) -> tuple[str, str] | None:
    """The period a question names, or None. A month without a year is its latest occurrence."""
    today = today or date.today()
    for pattern in _PATTERNS:
        m = pattern.search(question)
        if not m:
            continue
        groups = m.groupdict()
        try:
            if groups.get("iso"):
                parts = [int(p) for p in groups["iso"].split("-")]
                return _span(*parts)
            month = _MONTHS[groups["month"].lower()] if groups.get("month") else None
            if groups.get("year"):
                day = int(groups["day"]) if groups.get("day") else None
                if day is not None and month is not None:
                    date(int(groups["year"]), month, day)  # validate
                return _span(int(groups["year"]), month, day)
            if month is not None:
                year = today.year if month <= today.month else today.year - 1
                return _span(year, month)
        except (ValueError, KeyError):
            continue
    return None


def find_senders(question: str, known: Sequence[str]) -> tuple[str, ...]:
    """Known chat senders named in the question, by full name or first name (whole words)."""
    found = []
    for sender in known:
        names = {sender.strip(), sender.strip().split()[0]} if sender.strip() else set()
        for name in names:
            if len(name) >= 2 and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", question, re.I):
                found.append(sender)
                break
    return tuple(found)


def extract_filters(
    question: str, known_senders: Sequence[str] = (), today: date | None = None
) -> QueryFilters:
    period = find_period(question, today)
    return QueryFilters(
        senders=find_senders(question, known_senders),
        date_from=period[0] if period else None,
        date_to=period[1] if period else None,
    )


_TOKEN = re.compile(r"[\w][\w.\-/]*[\w]|\w")


def _is_common(word: str) -> bool:
    """A stop word ("what", "The", "tell"), but not a short acronym that spells one ("US",
    "IT"): those may be names."""
    return fold(word) in STOPWORDS and not (word.isupper() and len(word) <= 3)


def distinctive_terms(question: str) -> list[str]:
    """Exact names, numbers and IDs in a question ("INV-2024-0193", "ZEPHYR", "4512", "iPhone"):
    words a keyword match on is strong evidence, even when the embedding model misses it."""
    terms = []
    for i, m in enumerate(_TOKEN.finditer(question)):
        word = m.group(0).strip(".-/")
        if len(word) < 2 or _is_common(word):
            continue
        has_digit = any(c.isdigit() for c in word)
        upper = sum(c.isupper() for c in word)
        proper = word[0].isupper() and i > 0 and len(word) >= 3
        if has_digit or upper >= 2 or (upper and not word[0].isupper()) or proper:
            terms.append(word)
    return terms


def mentions(text: str, terms: Sequence[str]) -> bool:
    """Whether ``text`` contains any of ``terms`` as a whole word, ignoring case and accents
    ("Café" mentions "cafe")."""
    folded = fold(text)
    return any(re.search(rf"(?<!\w){re.escape(fold(t))}(?!\w)", folded) for t in terms)
