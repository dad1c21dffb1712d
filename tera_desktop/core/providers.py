"""The one place that picks Tera's engines from the settings.

``make_generator`` gives the answer engine: llama.cpp on this computer (``llm_model``), or an
OpenAI-compatible model server when ``llm_url`` is set. ``make_embedder`` gives the embedding model
(FastEmbed on this computer), ``make_store`` the memory (embedded or a Qdrant server),
``make_speech`` speech to text (faster-whisper). Callers are typed
on the ``Generator`` / ``Embedder`` protocols; what only llama.cpp can do (exact token counts,
KV-cache prefix reuse, prefill progress) is declared by each engine (``Generator.capabilities``),
never probed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tera_desktop.core import models
from tera_desktop.core.embedder import Embedder, EmbeddingSpec, FastEmbedEmbedder, resolve_embedding
from tera_desktop.core.errors import ACTION_SETUP_MODELS, ConfigError, ModelMissingError
from tera_desktop.core.generator import Generator, LlamaGenerator
from tera_desktop.core.paths import Paths
from tera_desktop.core.secrets import LLM_API_KEY, get_secret
from tera_desktop.core.settings import Settings

if TYPE_CHECKING:
    from tera_desktop.core.speech import SpeechSource
    from tera_desktop.core.store import MemoryStore

ENGINE_LOCAL = "local"
ENGINE_SERVER = "server"


def resolve_llm(paths: Paths, value: str) -> Path:
    """A local ``.gguf`` path, a catalog name, or the name of an imported file → the model file."""
    value = value.strip()
    if not value:
        raise ConfigError("No language model is set.")
    candidate = Path(value).expanduser()
    if candidate.suffix.lower() == ".gguf" or candidate.is_file():
        if not candidate.is_file():
            raise ModelMissingError(f"The language model file {candidate} does not exist.")
        return candidate.resolve()
    if value in models.CATALOG and models.CATALOG[value].kind == "llm":
        entry = models.get_model(value)
        found = models.installed_path(paths, entry)
        if found is None:
            raise ModelMissingError(
                f"The language model {entry.name} is not on this computer.",
                f"Run `tera models download {entry.name}` ({entry.size / 1e9:.1f} GB), or "
                f"`tera models import FILE.gguf`, or put {entry.files[0].name} in "
                f"{models.model_dir(paths, entry)}.",
                action=ACTION_SETUP_MODELS,
            )
        return Path(found)
    imported = paths.llm_models / (value if value.endswith(".gguf") else f"{value}.gguf")
    if imported.is_file():
        return imported
    known = ", ".join(n for n, m in models.CATALOG.items() if m.kind == "llm")
    raise ConfigError(
        f"Unknown language model {value!r}.", f"Use one of: {known}; or a path to a .gguf file."
    )


def generator_kind(settings: Settings) -> str:
    """``"server"`` when an OpenAI-compatible server answers, else ``"local"``."""
    return ENGINE_SERVER if settings.llm_url.strip() else ENGINE_LOCAL


def llm_api_key(paths: Paths, settings: Settings) -> str:
    """The model server's API key: the setting (or TERA_LLM_API_KEY), else the stored secret."""
    return settings.llm_api_key.strip() or get_secret(paths, LLM_API_KEY)


def make_generator(paths: Paths, settings: Settings) -> Generator:
    """The answer engine the settings choose, loaded (local) or connected (server)."""
    if generator_kind(settings) == ENGINE_SERVER:
        from tera_desktop.core.openai_generator import OpenAIGenerator

        return OpenAIGenerator(
            settings.llm_url,
            model=settings.llm_server_model,
            api_key=llm_api_key(paths, settings),
            n_ctx=settings.llm_context,
            timeout=settings.llm_timeout,
        )
    return LlamaGenerator(
        resolve_llm(paths, settings.llm_model),
        n_ctx=settings.llm_context,
        n_threads=settings.llm_threads,
        n_threads_batch=settings.llm_threads_batch,
    )


def make_embedder(
    paths: Paths, settings: Settings, *, spec: EmbeddingSpec | None = None
) -> Embedder:
    """The embedding model the settings choose (``spec`` when the caller already resolved it)."""
    spec = spec or resolve_embedding(paths, settings.embedding_model)
    return FastEmbedEmbedder(spec, threads=settings.embed_threads)


def make_store(paths: Paths, settings: Settings, *, dim: int, embedding_model: str) -> MemoryStore:
    """The memory the settings choose: a Qdrant server when ``qdrant_url`` is set, else the
    embedded Qdrant engine in ``paths.store``."""
    from tera_desktop.core.store import open_store

    return open_store(
        folder=paths.store,
        dim=dim,
        embedding_model=embedding_model,
        qdrant_url=settings.qdrant_url,
        qdrant_api_key=settings.qdrant_api_key,
        collection=settings.qdrant_collection,
    )


def make_speech(paths: Paths, settings: Settings) -> SpeechSource:
    """Speech to text for recordings (faster-whisper); its model loads with the first one."""
    from tera_desktop.core.speech import SpeechSource

    return SpeechSource(paths, settings.speech_model, settings.speech_language)


def describe_generator(generator: Generator) -> str:
    """Who answers, in words for the status bar: "SmolLM2 on this computer", "llama3 on the model
    server at 10.0.0.5:8080"."""
    return generator.description


def server_address(settings: Settings) -> str:
    """``host:port`` of the model server that answers, "" when the local model answers (never
    a user name, password or key that the address carries)."""
    import urllib.parse

    from tera_desktop.core.secrets import mask_secrets

    url = settings.llm_url.strip()
    return mask_secrets(urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1]) if url else ""
