"""What the status bar says about the language model: who answers (this computer or a model
server) and in which state (core/app.py: not loaded, loading, ready, missing, failed)."""

from __future__ import annotations

from tera_desktop.core.app import FAILED, LOADING, MISSING, READY

MISSING_TIP = (
    "No language model yet. File → Set Up Models… downloads one, or uses a model file you "
    "already have."
)
SEARCH_ONLY_TIP = (
    "No language model: Tera will show the memories that match your question. Choose a model in "
    "File → Settings to get answers."
)


def model_status(state: str, detail: str, server: str) -> tuple[str, str]:
    """(the status bar's text, its tooltip). ``detail``: the model's name when ready, why when
    missing or failed; ``server``: the model server's address, "" for this computer."""
    if server:
        text = {
            LOADING: f"Model server {server}: connecting…",
            READY: f"Answers: {detail} on the model server {server}",
            FAILED: f"Model server {server}: not available",
        }.get(state, f"Model server {server}: not connected")
    else:
        text = {
            LOADING: "Language model: loading…",
            READY: f"Language model: {detail}",
            MISSING: "No language model",
            FAILED: "Language model failed to load",
        }.get(state, "Language model: not loaded")
    # a missing model's detail names terminal commands: not for this window
    return text, MISSING_TIP if state == MISSING else detail
