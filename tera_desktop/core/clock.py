"""Times and dates, one way for the whole app: the stored timestamp (UTC, ISO 8601), the m:ss
clock of a recording, and dates as people say them (English, local time; ``strftime`` is slow and
follows the locale, the rest of the app does not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def now_iso(timespec: str = "microseconds") -> str:
    """The current time in UTC, ISO 8601 ("2026-12-07T22:51:29.123456+00:00"): it sorts as text.
    ``timespec`` as ``datetime.isoformat`` takes it (stored chunks use "milliseconds")."""
    return datetime.now(UTC).isoformat(timespec=timespec)


def local_time(iso: str) -> datetime | None:
    """A stored time (UTC when it names no zone) in local time; None when it cannot be read."""
    try:
        when = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone()


def format_clock(seconds: float | None) -> str:
    """A position in a recording: "12:31", or "1:02:03" past an hour."""
    total = max(0, int(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def relative_date(iso: str, now: datetime | None = None, *, capitalized: bool = False) -> str:
    """When something happened, as a list row says it, in local time: "today 14:05",
    "yesterday", "3 Nov", or "3 Nov 2024" in another year ("Today"/"Yesterday" when
    ``capitalized``). "" for a time that cannot be read."""
    when = local_time(iso)
    if when is None:
        return ""
    current = (now or datetime.now(UTC)).astimezone()
    when = when.astimezone(current.tzinfo)
    day, today = when.date(), current.date()
    if day == today:
        word = "Today" if capitalized else "today"
        return f"{word} {when.hour:02d}:{when.minute:02d}"
    if day == today - timedelta(days=1):
        return "Yesterday" if capitalized else "yesterday"
    short = f"{day.day} {MONTHS[day.month - 1][:3]}"
    return short if day.year == today.year else f"{short} {day.year}"


def full_date(iso: str) -> str:
    """A stored time in full, in local time: "3 November 2024, 14:05"; "" when unreadable."""
    when = local_time(iso)
    if when is None:
        return ""
    return f"{when.day} {MONTHS[when.month - 1]} {when.year}, {when.hour:02d}:{when.minute:02d}"
