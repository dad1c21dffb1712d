"""The window's words for the core's errors: the message and what to do in the window, never the
CLI's hint (which may name a ``tera`` command) nor a raw id."""

from __future__ import annotations

import re

from tera_desktop.core.errors import (
    ACTION_LIST,
    ACTION_SETTINGS,
    ACTION_SETUP_MODELS,
    TeraError,
)

# what to do, after a message that ends a sentence / after a short label ("Speech model missing")
ACTION_SENTENCES = {
    ACTION_SETUP_MODELS: "Get one with File → Set Up Models…",
    ACTION_LIST: "The memory list shows what is in memory.",
    ACTION_SETTINGS: "Change it in File → Settings…",
}
ACTION_WORDS = {
    ACTION_SETUP_MODELS: "File → Set Up Models…",
    ACTION_LIST: "see the memory list",
    ACTION_SETTINGS: "File → Settings…",
}

CLI_COMMAND = re.compile(r"`?\btera [a-z]", re.IGNORECASE)
RAW_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)


def names_cli_or_id(text: str) -> bool:
    """True if ``text`` sends the user to a terminal or shows a raw id."""
    return bool(CLI_COMMAND.search(text) or RAW_ID.search(text))


def with_action(message: str, action: str | None, hint: str | None = None) -> str:
    """``message`` and the window's words for ``action``; without one, the CLI's ``hint`` only
    if it names no command and no raw id."""
    message = message.strip()
    if action in ACTION_WORDS:
        if message.endswith((".", "!", "?", "…")):
            return f"{message} {ACTION_SENTENCES[action]}"
        return f"{message}: {ACTION_WORDS[action]}"
    if hint and not names_cli_or_id(hint):
        return f"{message} {hint}"
    return message


def window_fix(fix: str, action: str | None) -> str:
    """A fix in the window's words: the action's menu item when the CLI's fix names a command,
    else its sentences that name no command or id ("" if none is left)."""
    if not names_cli_or_id(fix):
        return fix
    if action in ACTION_SENTENCES:
        return ACTION_SENTENCES[action]
    kept = [s for s in re.split(r"(?<=[.!?])\s+", fix) if not names_cli_or_id(s)]
    return " ".join(kept)


def error_text(exc: TeraError) -> str:
    """What the window says for a core error."""
    return with_action(exc.message, exc.action, exc.hint)
