"""Accent- and case-folding, one definition for the keyword index and the query filters."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """``text`` without accents and case: "Le Café ÉTÉ" → "le cafe ete" (ß → ss, ﬁ → fi).

    NFKD (compatibility decomposition), combining marks dropped, casefolded, recomposed."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())
