"""Secrets (API keys) kept out of ``settings.json``.

Where the OS offers a keyring (the ``keyring`` package is importable and has a working backend:
Secret Service, macOS Keychain, Windows Credential Locker) a secret lives there; otherwise in
``secrets.json`` in the config folder, readable by its owner only (mode 0600). Entries are keyed by
the config folder too, so two Tera homes (a portable install, the tests) never share a key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from tera_desktop.core.atomic import write_json_atomic
from tera_desktop.core.errors import ConfigError
from tera_desktop.core.paths import Paths

SERVICE = "tera-desktop"
SECRETS_FILE = "secrets.json"
ENV_BACKEND = "TERA_SECRETS_BACKEND"  # "file" forces the file (tests, headless machines)

LLM_API_KEY = "llm_api_key"


def _keyring() -> Any | None:
    """The ``keyring`` module when it has a usable backend, else None."""
    if os.environ.get(ENV_BACKEND, "").strip().lower() == "file":
        return None
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # not installed, or its backends failed to import
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def _user(paths: Paths, name: str) -> str:
    return f"{name}@{paths.config}"


def _read_file(paths: Paths) -> dict[str, str]:
    file = paths.config / SECRETS_FILE
    if not file.exists():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"Cannot read the secrets file {file}: {exc}.",
            "Delete it and enter the API key again in Settings.",
        ) from None
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _write_file(paths: Paths, data: dict[str, str]) -> None:
    paths.config.mkdir(parents=True, exist_ok=True)
    file = paths.config / SECRETS_FILE
    if not data:
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
        return
    # created 0600 from the start: the key is never readable by others, not even for a moment
    write_json_atomic(file, data, indent=2, sort_keys=True, ensure_ascii=True, mode=0o600)


def secret_location(paths: Paths) -> str:
    """Where secrets go on this machine, in words for the Settings dialog."""
    ring = _keyring()
    if ring is not None:
        return "the system keyring"
    return f"{paths.config / SECRETS_FILE} (readable only by you)"


def get_secret(paths: Paths, name: str) -> str:
    """The stored secret ``name`` ("" when none); from now on it is masked in what Tera shows."""
    ring = _keyring()
    if ring is not None:
        try:
            value = ring.get_password(SERVICE, _user(paths, name))
        except Exception:
            value = None
        if value:
            return known_secret(str(value))
    return known_secret(_read_file(paths).get(name, ""))


def set_secret(paths: Paths, name: str, value: str) -> None:
    """Store ``value`` (an empty value deletes the secret) in the keyring, else in the file."""
    value = value.strip()
    ring = _keyring()
    stored_in_ring = False
    if ring is not None:
        try:
            if value:
                ring.set_password(SERVICE, _user(paths, name), value)
                stored_in_ring = True
            else:
                with contextlib.suppress(Exception):
                    ring.delete_password(SERVICE, _user(paths, name))
        except Exception:  # a locked or broken keyring: fall back to the file
            stored_in_ring = False
    data = _read_file(paths)
    if value and not stored_in_ring:
        data[name] = value
    else:
        data.pop(name, None)  # never two copies, never a stale one
    if data or (paths.config / SECRETS_FILE).exists():
        _write_file(paths, data)


# ---- settings.json ----------------------------------------------------------------------------
# Settings fields that hold secrets: settings.json keeps only this mark in their place.
SECRET_FIELDS = (LLM_API_KEY,)
STORED_MARK = "<stored securely, not in this file>"


def secrets_out(paths: Paths, data: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """``data`` (settings about to be written) with each secret moved to the secret store and
    replaced by the mark; a secret that was cleared is deleted from the store."""
    out = dict(data)
    for name in SECRET_FIELDS:
        value = str(out.get(name) or "").strip()
        if value and value != STORED_MARK:
            if get_secret(paths, name) != value:
                set_secret(paths, name, value)
            out[name] = STORED_MARK
        elif value == STORED_MARK:
            out[name] = STORED_MARK
        else:
            if previous.get(name):
                set_secret(paths, name, "")
            out[name] = ""
    return out


def secrets_in(paths: Paths, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (read from settings.json) with each mark replaced by the stored secret."""
    out = dict(data)
    for name in SECRET_FIELDS:
        if out.get(name) == STORED_MARK:
            out[name] = get_secret(paths, name)
    return out


# ---- masking: no secret in output, logs or errors ----------------------------------------------
MASK = "***"
_MIN_SECRET = 4  # shorter values would mask ordinary words
_known: set[str] = set()
_known_lock = threading.Lock()
# scheme://user:password@host → scheme://***@host (greedy to the last "@" before the path)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#@]*(?:@[^/\s?#@]*)*@")
# "Bearer KEY", "api_key=KEY", "api-key: KEY", '"api_key": "KEY"', "password=KEY"
_KEY_VALUE = re.compile(
    r"(?i)(\bbearer\s+|\b(?:api[_-]?key|apikey|password)[\"']?\s*[:=]\s*[\"']?)"
    r"(?!\*\*\*)([^\s\"',;&)\]}]+)"
)
_OPENAI_STYLE = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")


def known_secret(value: str) -> str:
    """Remember ``value`` (an API key read from the settings, the environment or the secret
    store) so that ``mask_secrets`` hides it wherever it appears; returns it unchanged."""
    value = value.strip()
    if len(value) >= _MIN_SECRET and value != STORED_MARK:
        with _known_lock:
            _known.add(value)
    return value


def mask_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***`` (``http://***@host:8080``)."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}@", url)


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret hidden: credentials in URLs, ``Bearer``/``api_key=`` values,
    OpenAI-style ``sk-…`` keys, the ``secrets`` given and every key Tera has read (see
    ``known_secret``). The one helper for doctor reports, errors, status text and log lines."""
    with _known_lock:
        values = set(_known)
    values.update(v.strip() for v in secrets if len(v.strip()) >= _MIN_SECRET)
    for value in sorted(values, key=len, reverse=True):  # a longer key before its prefixes
        text = text.replace(value, MASK)
    text = mask_url(text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _OPENAI_STYLE.sub(MASK, text)


class MaskSecretsFilter(logging.Filter):
    """A logging filter that masks secrets in each record's message (and its traceback text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format: leave it to the handler's own error path
            return True
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True
