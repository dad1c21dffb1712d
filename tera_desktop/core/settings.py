"""Typed user settings with defaults, a schema version and migrations.

Stored as JSON in the config folder. Environment variables override the file for one run and are
never written back. Window state is not a setting: the desktop app keeps it apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from tera_desktop.core.atomic import write_text_atomic
from tera_desktop.core.errors import ConfigError
from tera_desktop.core.paths import Paths
from tera_desktop.core.secrets import mask_url, secrets_in, secrets_out

SCHEMA_VERSION = 2

DEFAULT_EMBEDDING_MODEL = "BAAI/bge-small-en-v1.5"
DEFAULT_LLM_MODEL = "dolphin-2.6-phi-2"
DEFAULT_SPEECH_MODEL = "whisper-base"


def _default_threads() -> int:
    # llama.cpp is memory-bound: physical cores, not hyperthreads; with another busy process on a
    # 2-core laptop one thread beats two (measured), so half the logical CPUs, at least one.
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class Settings:
    schema_version: int = SCHEMA_VERSION
    # models
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    llm_model: str = DEFAULT_LLM_MODEL
    llm_threads: int = field(default_factory=_default_threads)
    llm_threads_batch: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    llm_context: int = 2048
    # an idle language model is unloaded after this many minutes and loads again with the next
    # question (like Ollama's keep_alive); 0 keeps it loaded while Tera runs
    llm_unload_after_minutes: float = 5.0
    # an OpenAI-compatible model server answers instead of llm_model when llm_url is set
    llm_url: str = ""  # e.g. http://127.0.0.1:8080 (llama.cpp), http://localhost:11434/v1 (Ollama)
    llm_server_model: str = ""  # the server's model id; "" = the server's only model
    llm_api_key: str = ""  # never written to settings.json in plain text (core/secrets.py)
    llm_timeout: float = 120.0  # seconds a model server may stay silent (reading the prompt)
    embed_threads: int = 0  # 0: let ONNX Runtime decide
    speech_model: str = DEFAULT_SPEECH_MODEL  # a catalog name or a faster-whisper model folder
    speech_language: str = ""  # "" = detect; else a Whisper language code ("en", "de", ...)
    # answering (the seed's sampling)
    top_k: int = 4
    # "dense" | "keyword" | "hybrid" | "expanded" (hybrid + query expansion from its top hits);
    # the default is the best measured by bench/bench_retrieval.py
    retrieval: str = "expanded"
    min_score: float | None = None  # None: the embedding model's calibrated default
    temperature: float = 0.3
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    max_answer_tokens: int = 400
    # ingestion
    chunk_tokens: int = 256
    chunk_overlap: int = 32
    max_file_mb: int = 50
    watched_folders: tuple[str, ...] = ()  # kept in sync by the desktop app while it runs
    # store
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    qdrant_collection: str = "tera"
    # look
    theme: str = "system"  # "system" (follow the desktop's light/dark), "light" or "dark"

    def validate(self) -> Settings:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(f"Invalid setting: {what}.")

        need(self.llm_threads >= 1, f"llm_threads must be at least 1 (got {self.llm_threads})")
        need(self.llm_threads_batch >= 1, "llm_threads_batch must be at least 1")
        need(self.llm_context >= 256, f"llm_context must be at least 256 (got {self.llm_context})")
        need(self.llm_unload_after_minutes >= 0, "llm_unload_after_minutes must be 0 or more")
        need(1 <= self.top_k <= 100, f"top_k must be 1-100 (got {self.top_k})")
        need(
            self.retrieval in RETRIEVAL_MODES,
            f"retrieval must be {', '.join(RETRIEVAL_MODES)} (got {self.retrieval!r})",
        )
        need(0.0 <= self.temperature <= 2.0, "temperature must be between 0 and 2")
        need(self.max_answer_tokens >= 1, "max_answer_tokens must be at least 1")
        need(32 <= self.chunk_tokens <= 2048, "chunk_tokens must be 32-2048")
        need(
            0 <= self.chunk_overlap < self.chunk_tokens, "chunk_overlap must be below chunk_tokens"
        )
        need(self.max_file_mb >= 1, "max_file_mb must be at least 1")
        need(self.embed_threads >= 0, "embed_threads must be 0 (auto) or more")
        need(
            re.fullmatch(r"([a-z]{2,3})?", self.speech_language) is not None,
            f"speech_language must be empty (detect) or a language code like 'en' "
            f"(got {self.speech_language!r})",
        )
        need(
            self.theme in THEMES,
            f"theme must be {', '.join(THEMES)} (got {self.theme!r})",
        )
        need(self.llm_timeout > 0, f"llm_timeout must be above 0 seconds (got {self.llm_timeout})")
        url = urllib.parse.urlsplit(self.llm_url.strip()) if self.llm_url.strip() else None
        need(
            url is None or (url.scheme in ("http", "https") and bool(url.hostname)),
            f"llm_url must look like http://host:8080 (got {mask_url(self.llm_url)!r})",
        )
        return self


# Migrations: each takes the raw dict of version N and returns version N+1.
RETRIEVAL_MODES = ("dense", "keyword", "hybrid", "expanded")  # as MemoryStore.search's modes
THEMES = ("system", "light", "dark")


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    # schema 1 saved the then-default "hybrid"; "expanded" (hybrid + feedback) measured better
    return {**raw, "retrieval": "expanded"} if raw.get("retrieval") == "hybrid" else raw


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}

ENV_OVERRIDES: dict[str, str] = {
    "TERA_EMBEDDING_MODEL": "embedding_model",
    "TERA_LLM_MODEL": "llm_model",
    "TERA_SPEECH_MODEL": "speech_model",
    "TERA_LLM_THREADS": "llm_threads",
    "TERA_LLM_CONTEXT": "llm_context",
    "TERA_QDRANT_URL": "qdrant_url",
    "TERA_QDRANT_API_KEY": "qdrant_api_key",
    "TERA_LLM_URL": "llm_url",  # a model server answers, for this run
    "TERA_LLM_API_KEY": "llm_api_key",
    "TERA_LLM_SERVER_MODEL": "llm_server_model",
}


def _coerce(name: str, raw: Any, source: str) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = str(kinds[name])
    try:
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "float | None":
            return None if raw in (None, "") else float(raw)
        if kind == "str":
            if not isinstance(raw, str):
                raise ValueError
            return raw
        if kind == "tuple[str, ...]":
            if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
                raise ValueError
            return tuple(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"Invalid value for {name} in {source}: {raw!r}.") from None
    return raw


def from_dict(data: Mapping[str, Any], source: str = "settings") -> Settings:
    raw = dict(data)
    version = int(raw.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"{source} was written by a newer Tera (schema {version}); this one reads up to "
            f"{SCHEMA_VERSION}.",
            "Update Tera, or move the settings file aside to start from defaults.",
        )
    while version < SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version += 1
    raw["schema_version"] = SCHEMA_VERSION
    known = {f.name for f in fields(Settings)}
    values = {k: _coerce(k, v, source) for k, v in raw.items() if k in known}
    return Settings(**values).validate()


def apply_env(settings: Settings, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    changes = {
        attr: _coerce(attr, env[var].strip(), f"${var}")
        for var, attr in ENV_OVERRIDES.items()
        if env.get(var, "").strip()
    }
    if "llm_model" in changes and changes.get("llm_url", settings.llm_url):
        # with a model server answering, TERA_LLM_MODEL names the server's model
        changes.setdefault("llm_server_model", changes.pop("llm_model"))
    return replace(settings, **changes).validate() if changes else settings


def load_settings(paths: Paths, *, use_env: bool = True) -> Settings:
    """The settings file (defaults where absent), with environment overrides on top."""
    file = paths.settings_file
    settings = Settings()
    if file.exists():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"Cannot read settings file {file}: {exc}.",
                "Fix it or delete it to start from defaults.",
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"Settings file {file} does not hold a JSON object.")
        settings = from_dict(secrets_in(paths, data), source=str(file))
    return apply_env(settings) if use_env else settings


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings the environment overrides for this run: field name → value (valid ones)."""
    env = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for var, attr in ENV_OVERRIDES.items():
        if env.get(var, "").strip():
            try:
                found[attr] = _coerce(attr, env[var].strip(), f"${var}")
            except ConfigError:
                continue
    if "llm_model" in found:  # TERA_LLM_MODEL names the server's model when a server answers
        found.setdefault("llm_server_model", found["llm_model"])
    return found


def save_settings(
    paths: Paths, settings: Settings, *, environ: Mapping[str, str] | None = None
) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a settings file.

    Environment overrides are never persisted: a field that still holds its environment value is
    written with the file's own value (the default when the file has none); a field the user
    changed away from the environment's value is written as changed.
    """
    settings.validate()
    overridden = {
        attr: value
        for attr, value in env_overrides(environ).items()
        if getattr(settings, attr) == value
    }
    if overridden:
        try:
            own = load_settings(paths, use_env=False)
        except ConfigError:  # an unreadable file is replaced; its values cannot be kept
            own = Settings()
        settings = replace(settings, **{attr: getattr(own, attr) for attr in overridden})
    paths.config.mkdir(parents=True, exist_ok=True)
    previous: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    data = secrets_out(paths, asdict(settings), previous if isinstance(previous, dict) else {})
    write_text_atomic(paths.settings_file, json.dumps(data, indent=2, sort_keys=True) + "\n")
