"""Secrets (API keys) kept out of ``settings.json``.

Where the OS offers a keyring (the ``keyring`` package is importable and has a working backend:
Secret Service, macOS Keychain, Windows Credential Locker) a secret lives there; otherwise in
``secrets.json`` in the config folder, readable by its owner only (mode 0600). Entries are keyed by
the config folder too, so two Tera homes (a portable install, the tests) never share a key.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

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
    tmp = file.with_suffix(".json.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    # created 0600 from the start: the key is never readable by others, not even for a moment
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o600)  # in case the umask or a previous file left other bits
    os.replace(tmp, file)


def secret_location(paths: Paths) -> str:
    """Where secrets go on this machine, in words for the Settings dialog."""
    ring = _keyring()
    if ring is not None:
        return "the system keyring"
    return f"{paths.config / SECRETS_FILE} (readable only by you)"


def get_secret(paths: Paths, name: str) -> str:
    """The stored secret ``name`` ("" when none)."""
    ring = _keyring()
    if ring is not None:
        try:
            value = ring.get_password(SERVICE, _user(paths, name))
        except Exception:
            value = None
        if value:
            return str(value)
    return _read_file(paths).get(name, "")


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
