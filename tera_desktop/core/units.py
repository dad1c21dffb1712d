"""One unit for sizes shown to people: decimal, as disks and downloads count them
(1 MB = 1,000,000 bytes). The ``*_mb`` settings use the same unit, so a 50 MB limit is 50,000,000
bytes and is shown as "50 MB", never "52 MB"."""

from __future__ import annotations

MB = 1000 * 1000


def format_mb(n_bytes: float, decimals: int = 0) -> str:
    """``n_bytes`` in MB: ``format_mb(50 * MB) == "50 MB"``; a non-zero size too small to show
    is "<1 MB" (or "<0.1 MB" with one decimal), never "0 MB"."""
    value = n_bytes / MB
    smallest = 10.0**-decimals
    if 0 < value < smallest / 2:
        return f"<{smallest:g} MB"
    return f"{value:.{decimals}f} MB"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``n`` and the right form of a noun: "1 chunk", "2 chunks", "1 memory", "3 memories"."""
    word = singular if n == 1 else (plural_form or f"{singular}s")
    return f"{n:,} {word}"
