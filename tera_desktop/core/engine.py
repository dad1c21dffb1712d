"""``Engine``: Tera's memory and answering in one object, shared by the CLI, the GUI and the tests.

Heavy parts load lazily, on first use: the embedding model, the store (it needs the embedding size,
which comes from the model's spec, not the model), and the language model. Store access is
serialized with a lock so GUI workers may call in from several threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from tera_desktop.core import forgetting, models
from tera_desktop.core.conversations import ConversationStore
from tera_desktop.core.embedder import (
    Embedder,
    EmbeddingSpec,
    resolve_embedding,
)
from tera_desktop.core.errors import (
    DownloadError,
    ModelLoadError,
    ModelMissingError,
    NotFoundError,
)
from tera_desktop.core.generator import Generator, LlamaGenerator, Sampling
from tera_desktop.core.ingest import FileResult, IngestProgress, RememberResult, ingest, remember
from tera_desktop.core.ingest.ignored import IgnoreList, watched_folder_of
from tera_desktop.core.ingest.pipeline import resolve_source
from tera_desktop.core.paths import Paths
from tera_desktop.core.providers import (
    make_embedder,
    make_generator,
    make_speech,
    make_store,
    resolve_llm,
)
from tera_desktop.core.redact import Forgotten, RedactResult, redact_conversations
from tera_desktop.core.retrieval import retrieve
from tera_desktop.core.settings import Settings
from tera_desktop.core.speech import SpeechSource
from tera_desktop.core.store import (
    KIND_DOCUMENT,
    DocumentInfo,
    FactInfo,
    Hit,
    MemoryStore,
    stored_shape,
)
from tera_desktop.core.units import MB

log = logging.getLogger("tera.engine")

ProgressFn = Callable[[models.DownloadProgress], None]


class _SerializedStore:
    """The store with every call made under one lock: workers on several threads (an ingestion
    and a question at once) interleave call by call instead of waiting for each other to finish."""

    def __init__(self, store: MemoryStore, lock: threading.RLock) -> None:
        self._store = store
        self._lock = lock
        self.dim = store.dim

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr
        lock = self._lock

        def call(*args: object, **kwargs: object) -> object:
            with lock:
                return attr(*args, **kwargs)

        return call


@dataclass(frozen=True)
class ForgetResult:
    removed: int
    redacted: int = 0  # saved conversations rewritten because they quoted what was forgotten
    conversation_ids: tuple[str, ...] = ()  # which ones
    forgotten: Forgotten = field(default_factory=Forgotten)


class Engine:
    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        conversations: ConversationStore | None = None,
    ) -> None:
        self.paths = paths
        # the one conversation store of this home: redaction and sessions share its lock
        self.conversations = conversations or ConversationStore(paths)
        self._generator: Generator | None = None
        self.settings = settings.validate()
        self._lock = threading.RLock()  # guards the lazy loading of the parts
        self._store_lock = threading.RLock()  # serializes store calls
        self._spec: EmbeddingSpec | None = None
        self._embedder: Embedder | None = None
        self._store: MemoryStore | None = None
        self._speech: SpeechSource | None = None
        self._finished_ids: set[str] = set()  # ids whose interrupted forget this run finished

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        """New settings; the loaded language model follows its idle-unload time at once."""
        self._settings = settings
        self._set_unload_time()

    def _set_unload_time(self) -> None:
        generator = self._generator
        if generator is not None and generator.capabilities.unloads_when_idle:
            cast(LlamaGenerator, generator).unload_after_s = (
                self._settings.llm_unload_after_minutes * 60
            )

    # ---- lazy parts ------------------------------------------------------------------------------
    def embedding_spec(self) -> EmbeddingSpec:
        if self._spec is None:
            self._spec = resolve_embedding(self.paths, self.settings.embedding_model)
        return self._spec

    def ensure_embedding_model(self, on_progress: ProgressFn | None = None) -> EmbeddingSpec:
        """Resolve the embedding model; download a missing catalog model (with progress) when the
        network allows. When it does not, the error names the model and the folder for its files."""
        try:
            return self.embedding_spec()
        except ModelMissingError:
            name = self.settings.embedding_model
            if name not in models.CATALOG:
                raise
            entry = models.get_model(name)
            try:
                for progress in models.download(self.paths, entry):
                    if on_progress:
                        on_progress(progress)
            except DownloadError as exc:
                files = ", ".join(f.name for f in entry.files)
                raise ModelMissingError(
                    f"The embedding model {entry.name} is not on this computer and could not be "
                    f"downloaded ({exc.message}).",
                    f"Put its files ({files}) in {models.model_dir(self.paths, entry)}, "
                    "or set TERA_EMBEDDING_MODEL to a local model folder.",
                    action="setup-models",
                ) from None
            return self.embedding_spec()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(
                    self.paths, self.settings, spec=self.embedding_spec()
                )
            return self._embedder

    @property
    def store(self) -> MemoryStore:
        with self._lock:
            if self._store is None:
                dim, model_name = self._store_shape()
                self.paths.data.mkdir(parents=True, exist_ok=True)
                opened = make_store(self.paths, self.settings, dim=dim, embedding_model=model_name)
                self._store = _SerializedStore(opened, self._store_lock)  # type: ignore[assignment]
            assert self._store is not None
            return self._store

    def release_store(self) -> None:
        """Close the memory (its folder lock goes with it) and keep the models loaded: the next
        call that needs the memory opens it again (``tera mcp`` lets the window open it)."""
        with self._lock, self._store_lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def store_held(self) -> threading.RLock:
        """Hold this to keep every other store call waiting: one point in time (a backup)."""
        return self._store_lock

    def _store_shape(self) -> tuple[int, str]:
        """The embedding size and model name to open the store with. Listing and forgetting need
        no embedding model: when it cannot be found, an existing memory's own record is used
        (searching and adding then say that the model is missing)."""
        try:
            spec = self.embedding_spec()
        except (ModelMissingError, ModelLoadError):
            shape = stored_shape(self.paths.store)
            if shape is None or self.settings.qdrant_url:
                raise
            return shape
        return spec.dim, spec.name

    def llm_path(self) -> Path:
        return resolve_llm(self.paths, self.settings.llm_model)

    @property
    def generator(self) -> Generator:
        """The answer engine the settings choose (core/providers.py): llama.cpp on this computer,
        or an OpenAI-compatible model server (connected, its model checked, on first use)."""
        with self._lock:
            if self._generator is None:
                self._generator = make_generator(self.paths, self.settings)
                self._set_unload_time()
            return self._generator

    @property
    def generator_loaded(self) -> bool:
        return self._generator is not None

    # ---- memory ----------------------------------------------------------------------------------
    def remember(self, text: str, *, supersede: bool = True) -> RememberResult:
        """Store a fact; with ``supersede``, one that updates an older fact replaces it."""
        return remember(text, self.embedder, self.store, supersede=supersede)

    def undo_supersede(self, fact_id: str) -> str:
        """Keep both facts current: take off the mark that ``fact_id`` replaces an older fact
        (``RememberResult.replaces``). Returns the older fact's id, "" if there was none."""
        from tera_desktop.core.supersede import undo

        return undo(self.store, fact_id)

    def upload(
        self,
        roots: Sequence[str | Path],
        *,
        cancel: threading.Event | None = None,
        sync: bool = False,
    ) -> Iterator[FileResult | IngestProgress]:
        s = self.settings
        ignore = IgnoreList(self.paths)
        for root in roots:  # a forgotten file added again by name is no longer ignored
            if not sync and Path(root).expanduser().is_file():
                ignore.remove(resolve_source(root))
        yield from ingest(
            roots,
            self.embedder,
            self.store,
            max_tokens=s.chunk_tokens,
            overlap=s.chunk_overlap,
            max_file_bytes=s.max_file_mb * MB,  # decimal MB, as shown (core/units.py)
            cancel=cancel,
            exclude=self.own_folders(),
            sync=sync,
            ignored=ignore.all(),
            speech=self.speech,
        )

    def own_folders(self) -> list[Path]:
        """Tera's own folders: never ingested, even when the user drops a parent folder."""
        p = self.paths
        return [p.data, p.config, p.cache, p.models, p.logs]

    @property
    def speech(self) -> SpeechSource:
        """Speech to text for audio files; the model is found and loaded by the first recording
        (without one, recordings are skipped with a reason that says how to get one)."""
        with self._lock:
            if self._speech is None:
                self._speech = make_speech(self.paths, self.settings)
            return self._speech

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        kind: str | None = None,
        source: str | None = None,
        mode: str | None = None,
    ) -> list[Hit]:
        """The relevant memories, ranked by THE retrieval pipeline (``core/retrieval.py``): the
        same filters, search mode and relevance threshold as a question's sources."""
        return retrieve(
            query,
            self.embedder,
            self.store,
            top_k=k or self.settings.top_k,
            min_score=self.settings.min_score,
            mode=mode or self.settings.retrieval,
            kind=kind,
            source=source,
        ).hits

    def sampling(self) -> Sampling:
        s = self.settings
        return Sampling(
            max_tokens=s.max_answer_tokens,
            temperature=s.temperature,
            repeat_penalty=s.repeat_penalty,
        )

    # ---- forgetting: crash-safe (core/forgetting.py) -------------------------------------------
    def forget(self, item_id: str) -> ForgetResult:
        hits = self.store.get([item_id])
        if not hits:
            finished = self.finish_forgets(only_id=item_id)
            if finished is not None:  # gone from search, but a killed forget left work on disk
                return finished
            if item_id in self._finished_ids:  # finished as this run opened the memory
                return ForgetResult(0)
            raise NotFoundError(
                "That is not in memory any more: it may have been forgotten already.",
                f"Nothing in memory has the id {item_id}; see `tera list`.",
                action="list",
            )
        hit = hits[0]
        if hit.kind == "document":  # an id of a document chunk forgets the whole document
            return self._forget(
                Forgotten.of(sources=[hit.source]),
                lambda: self.store.delete_source(hit.source, scrub=False),
            )

        def delete() -> int:
            if hit.extra.get("supersedes"):  # forgetting an update makes the older fact current
                self.undo_supersede(hit.id)
            return self.store.delete_ids([item_id], scrub=False)

        return self._forget(Forgotten.of(ids=[hit.id], texts=[hit.text]), delete)

    def forget_source(self, source: str | Path, *, keep_ignoring: bool = False) -> ForgetResult:
        """Forget a document. With ``keep_ignoring``, a watched folder's sync skips the file
        from now on (else the sync would read it again); adding it by name undoes that."""
        path = resolve_source(source)
        if self.store.document(path) is None and self.store.document(str(source)) is not None:
            path = str(source)
        if self.store.document(path) is None:
            raise NotFoundError(
                f"No document from {path} is in memory.", "See `tera list`.", action="list"
            )
        if keep_ignoring:
            IgnoreList(self.paths).add(path)
        return self._forget(
            Forgotten.of(sources=[path]), lambda: self.store.delete_source(path, scrub=False)
        )

    def watched_folder_of(self, source: str) -> str | None:
        """The watched folder (settings) that holds ``source``, or None."""
        return watched_folder_of(source, self.settings.watched_folders)

    def forget_all(self) -> ForgetResult:
        return self._forget(
            Forgotten.of(everything=True), lambda: self.store.delete_all(scrub=False)
        )

    def _forget(self, what: Forgotten, delete: Callable[[], int]) -> ForgetResult:
        """Intent first, then the points, the files on disk and the saved chats; the intent goes
        last. Killed at any step, the next start (``finish_forgets``) completes it."""
        intent = forgetting.write_intent(self.paths, what)
        forgetting.crash_point("intent-written")
        removed = delete()
        forgetting.crash_point("deleted")
        self.store.scrub()
        forgetting.crash_point("scrubbed")
        redacted = self._redact(what)
        forgetting.crash_point("redacted")
        forgetting.done(intent)
        return ForgetResult(removed, len(redacted.ids), tuple(redacted.ids), what)

    def finish_forgets(self, only_id: str | None = None) -> ForgetResult | None:
        """Finish the forgets a killed process left (all of them, or the one holding
        ``only_id``); None when there was none."""
        total: ForgetResult | None = None
        for intent in list(forgetting.pending(self.paths)):
            if only_id is not None and only_id not in intent.ids:
                continue
            what = intent.forgotten
            log.info("finishing an interrupted forget (%s)", intent.path.name)
            store = self.store
            removed = 0
            if what.everything:
                removed += store.delete_all(scrub=False)
            if what.ids:
                for hit in store.get(sorted(what.ids)):
                    if hit.extra.get("supersedes"):
                        self.undo_supersede(hit.id)
                removed += store.delete_ids(sorted(what.ids), scrub=False)
            for source in sorted(what.sources):
                removed += store.delete_source(source, scrub=False)
            store.scrub()
            redacted = self._redact(what)
            forgetting.done(intent)
            self._finished_ids |= what.ids
            ids = (*(total.conversation_ids if total else ()), *redacted.ids)
            total = ForgetResult(
                removed + (total.removed if total else 0), len(set(ids)), tuple(set(ids)), what
            )
        return total

    def _redact(self, forgotten: Forgotten) -> RedactResult:
        """Rewrite saved conversations that quoted what was just forgotten (core/redact.py)."""
        return redact_conversations(self.conversations, forgotten)

    def facts(self, offset: int = 0, limit: int | None = None) -> list[FactInfo]:
        return self.store.list_facts(offset, limit)

    def documents(self) -> list[DocumentInfo]:
        return self.store.list_documents()

    def documents_containing(self, query: str, limit: int = 500) -> set[str]:
        """The sources of documents whose stored text holds every word of ``query`` (the
        sidebar's filter). Keyword search only: it needs no embedding model."""
        words = query.casefold().split()
        if not words:
            return set()
        store = self.store
        hits = store.search(
            [0.0] * store.dim, limit, kind=KIND_DOCUMENT, text=query, mode="keyword"
        )
        return {h.source for h in hits if all(w in h.text.casefold() for w in words)}

    def count(self, kind: str | None = None) -> int:
        return self.store.count(kind)

    def close(self) -> None:
        with self._lock, self._store_lock:
            if self._generator is not None:
                self._generator.close()
                self._generator = None
            if self._store is not None:
                self._store.close()
                self._store = None
            self._embedder = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
