"""THE application core: one Qt-free object that owns Tera's state and every flow that crosses
features. The window (``ui/``), the CLI and the tests all drive a ``TeraApp``; none of them keeps
its own copy of what it owns:

- the ``Engine`` (models and memory) and the one ``ConversationStore`` and open ``ChatSession``;
- the readiness of the embedding and language models, and the facts and files that wait for the
  embedding model (``core/waiting.py``, on disk);
- the ingest queue (one ingestion at a time; later work waits its turn) and the watched folders;
- the settings: applying them, saving them, and reopening the engine when a change needs it;
- the cross-feature flows: forget → scrub → redact the saved chats and the open one → what the
  views must refresh; start-up that finishes interrupted forgets and sets aside saved files that
  cannot be loaded instead of stopping.

Methods that do slow work (disk, models, store) are meant to run on a worker thread (the GUI) or
directly (the CLI, the tests); they are safe to call from several threads. What changed is told
through typed events (``subscribe``), delivered on the thread that made the change: a GUI bridge
re-emits them as a Qt signal, so widgets only ever change on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tera_desktop.core.conversations import Conversation
from tera_desktop.core.engine import Engine, ForgetResult
from tera_desktop.core.errors import ConfigError, ModelMissingError, TeraError
from tera_desktop.core.ingest import FileResult, IngestProgress, RememberResult
from tera_desktop.core.paths import Paths
from tera_desktop.core.prompts import AskEvent, system_prompt
from tera_desktop.core.saved_state import Problem, set_aside
from tera_desktop.core.session import ChatSession
from tera_desktop.core.settings import Settings, load_settings, save_settings
from tera_desktop.core.store import DocumentInfo, FactInfo
from tera_desktop.core.waiting import WaitingList

log = logging.getLogger("tera.app")

# model readiness
NOT_LOADED = "not loaded"
LOADING = "loading"
READY = "ready"
MISSING = "missing"
FAILED = "failed"

LIST_EVERY_S = 2.0  # while files are read, the memory list is refreshed at most this often

# settings whose change needs the engine reopened (models, store, server); the rest apply at once
HEAVY_SETTINGS = (
    "embedding_model",
    "embed_threads",
    "qdrant_url",
    "qdrant_api_key",
    "qdrant_collection",
    "llm_model",
    "llm_threads",
    "llm_threads_batch",
    "llm_context",
    "speech_model",
    "speech_language",
    "llm_url",
    "llm_server_model",
    "llm_api_key",
    "llm_timeout",
)


# ---- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryChanged:
    """Facts or documents were added or forgotten: lists and counts must be read again."""


@dataclass(frozen=True)
class WaitingChanged:
    """The facts and files waiting for the embedding model changed."""

    facts: tuple[str, ...]
    files: tuple[str, ...]


@dataclass(frozen=True)
class ReadinessChanged:
    kind: str  # "embedding" | "llm"
    state: str  # NOT_LOADED | LOADING | READY | MISSING | FAILED
    detail: str = ""  # the model's name when ready; why, when missing or failed


@dataclass(frozen=True)
class ConversationRewritten:
    """The open conversation was rewritten (a forget redacted it): show this copy."""

    conversation: Conversation


@dataclass(frozen=True)
class SettingsChanged:
    settings: Settings
    reopen: bool = False  # the engine was replaced: the front end reopens (``open()``)


@dataclass(frozen=True)
class ProblemFound:
    """A saved file could not be loaded; it was set aside (``core/saved_state.py``)."""

    problem: Problem


AppEvent = (
    MemoryChanged
    | WaitingChanged
    | ReadinessChanged
    | ConversationRewritten
    | SettingsChanged
    | ProblemFound
)
Listener = Callable[[AppEvent], None]


# ---- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Listing:
    facts: list[FactInfo]
    documents: list[DocumentInfo]
    count: int


@dataclass(frozen=True)
class Opened:
    listing: Listing
    conversation: Conversation | None  # the chat reopened, if any
    missing: dict[str, str]  # model kind → why it is missing
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Remembered:
    """What became of a fact: stored (``result``), or waiting for the embedding model."""

    text: str
    result: RememberResult | None = None
    waiting: bool = False
    saved: bool = True  # waiting: False when it could not be written to disk (kept in memory)


@dataclass(frozen=True)
class IngestJob:
    paths: tuple[str, ...]
    sync: bool = False
    from_waiting: bool = False  # files that waited for the embedding model


@dataclass(frozen=True)
class IngestStarted:
    job: IngestJob


ADD_STARTED = "start"  # run ``ingest()`` on a worker now
ADD_QUEUED = "queued"  # the running ingestion takes it after the current work
ADD_WAITING = "waiting"  # kept until the embedding model is ready
ADD_SKIPPED = "skipped"  # a folder sync before the model is ready: the catch-up does it


@dataclass(frozen=True)
class Forgot:
    result: ForgetResult
    conversation: Conversation | None = None  # the open chat, redacted, to show again


def load_settings_safely(paths: Paths) -> tuple[Settings, list[Problem], str]:
    """The settings; a settings file that cannot be read is set aside (defaults are used), and
    environment variables that cannot be used are ignored with a notice."""
    problems: list[Problem] = []
    notice = ""
    try:
        load_settings(paths, use_env=False)
    except ConfigError as exc:
        if paths.settings_file.exists():
            problems.append(set_aside(paths.settings_file, "the settings", exc.message))
    try:
        settings = load_settings(paths)
    except ConfigError as exc:
        settings, notice = Settings(), f"{exc} Using the default settings for now."
    return settings, problems, notice


class TeraApp:
    def __init__(self, paths: Paths, settings: Settings | None = None) -> None:
        self.paths = paths
        self.problems: list[Problem] = []
        self.notice = ""
        if settings is None:
            settings, self.problems, self.notice = load_settings_safely(paths)
        self._settings = settings.validate()
        self.engine = Engine(paths, self._settings)
        self.conversations = self.engine.conversations
        self.session = ChatSession(self.engine, self.conversations)
        self.waiting = WaitingList(paths.waiting_file)
        if self.waiting.problem is not None:
            self.problems.append(self.waiting.problem)
        self.embedding_state = NOT_LOADED
        self.llm_state = NOT_LOADED
        self.llm_detail = ""
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._queue: deque[IngestJob] = deque()
        self._ingesting = False
        self._storing_waiting = False
        self.closed = False

    # ---- events ---------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event (on the thread that caused it); returns an
        unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: AppEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a front end's bug must not break the core's flow
                log.exception("event listener failed on %r", event)

    # ---- settings -------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings

    def apply_settings(self, settings: Settings) -> Engine | None:
        """Save and apply new settings. Returns the old engine when the change needs the models
        or the store reopened: the caller stops its work, closes that engine (``close_engine``,
        on a worker) and calls ``open()`` again. None when the change applied at once."""
        settings = settings.validate()
        old = self._settings
        save_settings(self.paths, settings)
        self._settings = settings
        if all(getattr(old, f) == getattr(settings, f) for f in HEAVY_SETTINGS):
            self.engine.settings = settings
            self._emit(SettingsChanged(settings))
            return None
        old_engine = self.engine
        self.engine = Engine(self.paths, settings, self.conversations)
        self.session.engine = self.engine
        self.embedding_state = NOT_LOADED
        self._set_llm(LOADING)
        self._emit(SettingsChanged(settings, reopen=True))
        return old_engine

    def update_settings(self, **changes: Any) -> Settings:
        """A change that needs no reopen (the theme, watched folders): saved and applied."""
        settings = replace(self._settings, **changes)
        self.apply_settings(settings)
        return settings

    @staticmethod
    def close_engine(engine: Engine) -> None:
        engine.close()

    # ---- start-up -------------------------------------------------------------------------------
    def open(self, cancel: threading.Event | None = None) -> Opened:
        """Open the memory: finish interrupted forgets, find which models are missing, list the
        memory, set aside saved chats that cannot be read and reopen the last chat, load the
        embedding model. Never stopped by a saved file: what cannot be loaded is a ``Problem``."""
        from tera_desktop.core.providers import ENGINE_LOCAL, generator_kind

        engine = self.engine
        problems = list(self.problems)
        self.problems = []
        missing: dict[str, str] = {}
        try:
            engine.embedding_spec()
        except ModelMissingError as exc:
            missing["embedding"] = str(exc)
        if generator_kind(engine.settings) == ENGINE_LOCAL:
            try:
                engine.llm_path()
            except ModelMissingError as exc:
                missing["llm"] = str(exc)
            except TeraError:
                pass  # an unknown model: loading the language model says so
        try:
            engine.finish_forgets()
            listing = self.listing()
        except ModelMissingError:
            if "embedding" not in missing:
                raise
            listing = Listing([], [], 0)  # a new memory and no model: nothing to list yet
        problems += self.conversations.set_aside_damaged()
        conversation = self.session.restore_last()
        if "embedding" in missing:
            self._set_embedding(MISSING, missing["embedding"])
        else:
            engine.embedder  # noqa: B018 - load the embedding model now, not on first use
            self._set_embedding(READY)
        for problem in problems:
            self._emit(ProblemFound(problem))
        return Opened(listing, conversation, missing, problems)

    def listing(self) -> Listing:
        engine = self.engine
        return Listing(engine.facts(), engine.documents(), engine.count())

    # ---- models ---------------------------------------------------------------------------------
    @property
    def embedding_ready(self) -> bool:
        return self.embedding_state == READY

    def _set_embedding(self, state: str, detail: str = "") -> None:
        self.embedding_state = state
        self._emit(ReadinessChanged("embedding", state, detail))

    def embedding_missing(self, reason: str) -> None:
        """The embedding model turned out to be missing: what is added from now on waits."""
        self._set_embedding(MISSING, reason)

    def load_embedding(self) -> Listing:
        """The embedding model is on this computer now (after the setup): load it and list."""
        self.engine.embedding_spec()
        self.engine.embedder  # noqa: B018 - load it here, not on the first fact
        listing = self.listing()
        self._set_embedding(READY)
        return listing

    @property
    def search_only(self) -> bool:
        """No language model: a question shows the memories that match."""
        return self.llm_state in (MISSING, FAILED)

    def _set_llm(self, state: str, detail: str = "") -> None:
        self.llm_state = state
        self.llm_detail = detail
        self._emit(ReadinessChanged("llm", state, detail))

    def llm_requested(self) -> None:
        """The language model is about to be loaded (on a worker): it is "loading" from now."""
        self._set_llm(LOADING)

    def load_llm(self, cancel: threading.Event | None = None) -> str:
        """Load the language model and read the system prompt into its cache (so the first
        question reads only what follows it). Returns the model's name."""
        self._set_llm(LOADING)
        engine = self.engine
        try:
            generator = engine.generator
            generator.prefill([{"role": "system", "content": system_prompt()}])
        except ModelMissingError as exc:
            if engine is self.engine:
                self._set_llm(MISSING, str(exc))
            raise
        except Exception as exc:
            if engine is self.engine:
                self._set_llm(FAILED, str(exc))
            raise
        if engine is self.engine:  # not replaced by new settings meanwhile
            self._set_llm(READY, generator.name)
        return generator.name

    # ---- remembering ----------------------------------------------------------------------------
    def must_wait(self) -> bool:
        """Whether a fact typed now waits (the embedding model is not ready, or older facts
        still wait: facts are always stored in the order they were typed)."""
        with self._lock:
            return not self.embedding_ready or bool(self.waiting) or self._storing_waiting

    def keep_waiting(self, text: str) -> Remembered:
        """Keep a fact until the embedding model can store it (a small file write: quick)."""
        with self._lock:
            return self._keep_fact(text)

    def remember(self, text: str) -> Remembered:
        """Store a fact, or keep it waiting (on disk) until the embedding model is ready; facts
        are always stored in the order they were typed."""
        with self._lock:
            if self.must_wait():
                return self._keep_fact(text)
        try:
            result = self.engine.remember(text)
        except ModelMissingError as exc:  # the model went missing: the fact waits
            self.embedding_missing(str(exc))
            return self._keep_fact(text)
        self._emit(MemoryChanged())
        return Remembered(text, result)

    def _keep_fact(self, text: str) -> Remembered:
        saved = True
        try:
            self.waiting.add(text)
        except OSError as exc:
            log.warning("cannot save what waits in %s: %s", self.waiting.path, exc)
            saved = False
        self._emit_waiting()
        return Remembered(text, waiting=True, saved=saved)

    def _emit_waiting(self) -> None:
        self._emit(WaitingChanged(tuple(self.waiting.texts()), tuple(self.waiting.files())))

    def store_waiting(
        self, cancel: threading.Event | None = None
    ) -> Iterator[tuple[str, RememberResult]]:
        """Store the facts that waited, oldest first (the embedding model is ready)."""
        with self._lock:
            if self._storing_waiting or not self.embedding_ready:
                return
            self._storing_waiting = True
        try:
            while not (cancel is not None and cancel.is_set()):
                with self._lock:
                    texts = self.waiting.texts()
                    if not texts:
                        break
                text = texts[0]
                result = self.engine.remember(text)
                with self._lock:
                    self.waiting.remove_first(text)
                self._emit_waiting()
                yield text, result
        finally:
            with self._lock:
                self._storing_waiting = False
            self._emit(MemoryChanged())

    def undo_supersede(self, fact_id: str) -> str:
        old = self.engine.undo_supersede(fact_id)
        self._emit(MemoryChanged())
        return old

    # ---- adding files: one ingestion at a time --------------------------------------------------
    def add(self, paths: Sequence[str], *, sync: bool = False) -> str:
        """Ask for files or folders to be read. Returns ADD_STARTED (the caller runs
        ``ingest()`` on a worker), ADD_QUEUED (the running ingestion will read them),
        ADD_WAITING (kept until the embedding model is ready) or ADD_SKIPPED."""
        return self._submit(IngestJob(tuple(str(p) for p in paths), sync))

    def _submit(self, job: IngestJob) -> str:
        with self._lock:
            if not self.embedding_ready and not job.from_waiting:
                if job.sync:
                    return ADD_SKIPPED  # the catch-up after the model is ready syncs it
                try:
                    self.waiting.add_files(list(job.paths))
                except OSError as exc:
                    log.warning("cannot save what waits in %s: %s", self.waiting.path, exc)
                self._emit_waiting()
                return ADD_WAITING
            if job.sync and job in self._queue:
                return ADD_QUEUED  # a watched folder already waiting for its sync
            self._queue.append(job)
            if self._ingesting:
                return ADD_QUEUED
            self._ingesting = True
            return ADD_STARTED

    @property
    def ingesting(self) -> bool:
        return self._ingesting

    def queued(self) -> list[IngestJob]:
        with self._lock:
            return list(self._queue)

    def ingest(
        self, cancel: threading.Event | None = None
    ) -> Iterator[IngestStarted | FileResult | IngestProgress]:
        """Read every queued job, one after the other, until the queue is empty (jobs added
        meanwhile are read too). Stopping drops what is still queued."""
        cancel = cancel or threading.Event()
        last_change = time.monotonic()
        try:
            while True:
                with self._lock:
                    if cancel.is_set() or not self._queue:
                        self._queue.clear()
                        self._ingesting = False
                        return
                    job = self._queue.popleft()
                yield IngestStarted(job)
                for event in self.engine.upload(job.paths, cancel=cancel, sync=job.sync):
                    yield event
                    now = time.monotonic()
                    if isinstance(event, FileResult) and now - last_change >= LIST_EVERY_S:
                        last_change = now  # the memory list follows along, cheaply
                        self._emit(MemoryChanged())
                if job.from_waiting and not cancel.is_set():
                    self.waiting.remove_files(list(job.paths))
                    self._emit_waiting()
                self._emit(MemoryChanged())
        finally:
            with self._lock:
                if cancel.is_set():
                    self._queue.clear()
                self._ingesting = False

    def read_waiting_files(self) -> str | None:
        """Queue the files that waited for the embedding model (now ready)."""
        files = self.waiting.files()
        if not files or not self.embedding_ready:
            return None
        with self._lock:
            if any(j.from_waiting for j in self._queue):
                return ADD_QUEUED
        return self._submit(IngestJob(tuple(files), from_waiting=True))

    # ---- watched folders ------------------------------------------------------------------------
    def catch_up(self) -> tuple[list[str], list[str]]:
        """Sync every watched folder once (files may have changed while Tera was closed).
        Returns (what the caller must start: ADD_STARTED results, the folders that are missing)."""
        started: list[str] = []
        missing: list[str] = []
        for folder in self._settings.watched_folders:
            if Path(folder).is_dir():
                if self.add([folder], sync=True) == ADD_STARTED:
                    started.append(folder)
            else:
                missing.append(folder)
        return started, missing

    def watch(self, folder: str) -> str:
        """Keep ``folder`` in sync from now on (saved in the settings); returns its full path."""
        folder = str(Path(folder).expanduser().resolve())
        if folder not in self._settings.watched_folders:
            self.update_settings(watched_folders=(*self._settings.watched_folders, folder))
        return folder

    def unwatch(self, folder: str) -> None:
        kept = tuple(f for f in self._settings.watched_folders if f != folder)
        self.update_settings(watched_folders=kept)

    def watched_folder_of(self, source: str) -> str | None:
        return self.engine.watched_folder_of(source)

    # ---- forgetting -----------------------------------------------------------------------------
    def forget(self, item_id: str) -> Forgot:
        return self._after_forget(self.engine.forget(item_id))

    def forget_source(self, source: str, *, keep_ignoring: bool = False) -> Forgot:
        return self._after_forget(self.engine.forget_source(source, keep_ignoring=keep_ignoring))

    def forget_waiting(self) -> None:
        """Drop the facts and files that wait for the embedding model (OSError: the file that
        holds them could not be removed)."""
        with self._lock:
            try:
                self.waiting.clear()
            finally:
                self._emit_waiting()

    def forget_all(self) -> Forgot:
        """Forget everything: the memory, and the facts and files still waiting."""
        if self.waiting or self.waiting.files():
            self.forget_waiting()
        if self.engine.count() == 0:
            return Forgot(ForgetResult(0))
        return self._after_forget(self.engine.forget_all())

    def _after_forget(self, result: ForgetResult) -> Forgot:
        """The open chat is redacted as its saved file was: shown again (when no answer is
        being written), and never saved back with the forgotten text."""
        changed = self.session.apply_forgotten(result.forgotten)
        shown: Conversation | None = None
        if changed and not self.session.busy:
            shown = self.session.conversation
            self._emit(ConversationRewritten(shown))
        self._emit(MemoryChanged())
        return Forgot(result, shown)

    # ---- asking ---------------------------------------------------------------------------------
    def ask(self, question: str, cancel: threading.Event | None = None) -> Iterator[AskEvent]:
        """The next turn of the open conversation (``ChatSession.ask``); without a language
        model, the memories that match."""
        yield from self.session.ask(question, cancel=cancel, search_only=self.search_only)

    # ---- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        self.closed = True
        self.engine.close()

    def __enter__(self) -> TeraApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
