"""The main window: the memory sidebar and the chat, wired to background workers.

Data flows one way: a UI event starts a ``Worker`` around a core generator (ask, upload, remember,
forget, list); its signals come back on the GUI thread and update the widgets. Every worker error
reaches the user through ``notify()`` (status bar; a dialog only when fatal).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QWidget,
)

from tera_desktop import APP_NAME, __version__
from tera_desktop.core.assistant import system_prompt
from tera_desktop.core.conversations import Conversation, ConversationStore
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ModelMissingError, StoreError, TeraError
from tera_desktop.core.paths import Paths
from tera_desktop.core.pending_facts import PendingFacts
from tera_desktop.core.session import ChatSession
from tera_desktop.core.settings import Settings, save_settings
from tera_desktop.core.units import plural
from tera_desktop.ui.chat import ChatPanel
from tera_desktop.ui.chat_controller import ChatController
from tera_desktop.ui.conversation_list import ConversationList
from tera_desktop.ui.first_run import FirstRunDialog
from tera_desktop.ui.gui_gc import collect_on_gui_thread
from tera_desktop.ui.library_controller import LibraryController
from tera_desktop.ui.memory_panel import MemoryPanel
from tera_desktop.ui.open_file import open_file, open_folder
from tera_desktop.ui.safe_text import (
    ask_yes_no,
    choose,
    plain_label,
    show_error,
    show_status,
    tooltip,
)
from tera_desktop.ui.theme import THEME_LABELS, THEMES, theme_manager
from tera_desktop.workers import Handlers, Worker, WorkerManager, create_worker

log = logging.getLogger("tera.ui")

LLM_NOT_LOADED = "not loaded"
LLM_LOADING = "loading"
LLM_READY = "ready"
LLM_MISSING = "missing"
LLM_FAILED = "failed"


class MainWindow(QMainWindow):
    memories_changed = Signal(int)  # the memory count, after each refresh
    llm_state_changed = Signal(str)
    answer_finished = Signal()
    ingest_finished = Signal()

    def __init__(self, paths: Paths, settings: Settings, engine: Engine | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings
        self.engine = engine or Engine(paths, settings)
        self.workers = WorkerManager(self)
        self.conversations = ConversationStore(paths)
        self.session = ChatSession(self.engine, self.conversations)
        self.llm_state = LLM_NOT_LOADED
        self.llm_error = ""
        self.memory_count = 0
        self.setup_dialog: FirstRunDialog | None = None
        self._setup_models: dict[str, Any] = {}  # kind → the catalog model the setup offers
        self._setup_ready: dict[str, str] = {}  # kind → a model made ready, not put to use yet
        self._embedding_ready = False  # until it is, typed facts wait in pending_facts
        self._embedding_missing = False
        self.pending_facts = PendingFacts(paths.pending_facts_file)
        self._storing_pending = False
        self._pending_stored = 0
        self._pending_failed = False
        self.closing = False
        self._shutdown_done = False

        collect_on_gui_thread()  # Qt objects in reference cycles die on this thread only
        self.theme = theme_manager()
        self.theme.apply(settings.theme)
        self.setWindowTitle(APP_NAME)
        self.resize(1180, 760)
        self.setAcceptDrops(True)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # drops anywhere on the window (see eventFilter)

        self.memory = MemoryPanel()
        self.chats = ConversationList()
        self.chat = ChatPanel()
        self.sidebar = QTabWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.addTab(self.memory, "Memory")
        self.sidebar.addTab(self.chats, "Chats")
        self.sidebar.setDocumentMode(True)
        self.chat_controller = ChatController(
            self.session, self.chat, self.chats, self.run_worker, self
        )
        self.chat_controller.notified.connect(self._on_chat_notified)
        self.chat_controller.answer_finished.connect(self.answer_finished)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(self.chat)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([430, 750])
        self.setCentralWidget(splitter)

        self.model_label = plain_label("Language model: not loaded")  # holds a model's name
        self.model_label.setObjectName("modelStatus")
        self.count_label = QLabel("")
        self.count_label.setObjectName("memoryCount")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.count_label)

        self.library = LibraryController(self)  # adding files, watched folders, forgetting
        self.library.ingest_finished.connect(self.ingest_finished)
        self._build_menus()
        self.memory.remember_requested.connect(self._on_remember_requested)
        self.chat.open_source_requested.connect(self._on_open_source_requested)
        self.chat.chat_view.empty_hint.step_requested.connect(self._on_first_step_requested)
        self.memory.text_search_requested.connect(self._on_text_search_requested)

    # ---- helpers ---------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        """File, View and Help menus; every shortcut is listed in Help → Keyboard Shortcuts."""
        file_menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (
            ("&New Chat", QKeySequence.StandardKey.New, self._on_new_chat_requested),
            ("Add &Files…", QKeySequence.StandardKey.Open, self.library.choose_files),
            ("Add F&older…", None, self.library.choose_folder),
            ("&Settings…", QKeySequence.StandardKey.Preferences, self._on_settings_requested),
            ("Set Up &Models…", None, self.show_model_setup),
            ("Open &Data Folder", None, self._on_open_data_folder_requested),
            ("&Quit", QKeySequence.StandardKey.Quit, self.close),
        ):
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        for text, keys, slot in (
            ("&Search Memory", "Ctrl+K", self.focus_memory_search),
            ("&Focus Question Box", "Ctrl+L", self.focus_question),
            ("S&top Answer", "Esc", self.stop_answer),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            view_menu.addAction(action)
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for choice in THEMES:
            action = QAction(THEME_LABELS[choice], self, checkable=True)
            action.setChecked(choice == self.settings.theme)
            action.setData(choice)
            action.triggered.connect(self._on_theme_chosen)
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[choice] = action
        help_menu = self.menuBar().addMenu("&Help")
        shortcuts = QAction("&Keyboard Shortcuts", self)
        shortcuts.triggered.connect(self._on_shortcuts_requested)
        help_menu.addAction(shortcuts)
        check = QAction("&Check Installation…", self)
        check.triggered.connect(self._on_check_installation_requested)
        help_menu.addAction(check)
        help_menu.addSeparator()
        about = QAction(f"&About {APP_NAME}", self)
        about.triggered.connect(self._on_about_requested)
        help_menu.addAction(about)

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu action with a shortcut, as the user's system
        shows the keys (Help → Keyboard Shortcuts reads this, so the list cannot go stale)."""
        rows = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            for action in menu.actions() if menu is not None else []:
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys:
                    rows.append((keys, action.text().replace("&", "").rstrip("…")))
        return rows

    @Slot()
    def _on_shortcuts_requested(self) -> None:
        from tera_desktop.ui.shortcuts_dialog import ShortcutsDialog

        ShortcutsDialog(self.shortcut_list(), self).exec()

    @Slot()
    def focus_memory_search(self) -> None:
        self.sidebar.setCurrentWidget(self.memory)
        self.memory.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.memory.filter_edit.selectAll()

    @Slot()
    def focus_question(self) -> None:
        self.chat.input.setFocus(Qt.FocusReason.ShortcutFocusReason)

    @Slot()
    def stop_answer(self) -> None:
        self.chat_controller.stop()

    @Slot()
    def _on_theme_chosen(self) -> None:
        action = self.sender()
        choice = action.data() if isinstance(action, QAction) else None
        if choice not in THEMES or choice == self.settings.theme:
            return
        self.theme.apply(choice)
        settings = replace(self.settings, theme=choice)
        save_settings(self.paths, settings)
        self.settings = self.engine.settings = settings

    @Slot(str)
    def _on_text_search_requested(self, query: str) -> None:
        """The sidebar's filter also finds documents by their text (a keyword search)."""

        def found(sources: object) -> None:
            self.memory.set_text_matches(query, set(sources))  # type: ignore[call-overload]

        def failed(exc: object) -> None:  # e.g. no memory open yet: names still filter
            log.info("text search for the filter failed: %s", exc)

        self.run_worker(
            "filter-search",
            lambda _c: self.engine.documents_containing(query),
            returned=found,
            errored=failed,
        )

    @Slot(str)
    def _on_first_step_requested(self, step: str) -> None:
        """A button of the empty chat's "what to do first" (ui/empty_state.py)."""
        if step == "remember":
            self.sidebar.setCurrentWidget(self.memory)
            self.memory.remember_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        elif step == "add_files":
            self.library.choose_files()
        else:
            self.focus_question()

    @Slot()
    def bring_to_front(self) -> None:
        """Another launch asked for this window (ui/single_instance.py)."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def run_worker(
        self, name: str, fn: Callable[[threading.Event], Any], **handlers: Callable[..., None]
    ) -> Worker:
        """Start ``fn`` on a worker; ``handlers`` (yielded/returned/errored/aborted/finished) run on
        the GUI thread. Errors without a handler go to ``notify``."""
        handlers.setdefault("errored", self._on_worker_error)
        connect = cast("Handlers[Any, Any]", handlers)
        return create_worker(fn, name=name, connect=connect, manager=self.workers, parent=self)

    def notify(self, message: str, *, error: bool = False, timeout_ms: int = 8000) -> None:
        """The one channel for messages to the user."""
        (log.warning if error else log.info)("%s", message)
        self.statusBar().setStyleSheet("color: #c0392b;" if error else "")
        show_status(self.statusBar(), message, 0 if error else timeout_ms)

    def _on_worker_error(self, exc: object) -> None:
        if isinstance(exc, TeraError):
            self.notify(str(exc), error=True)
        else:
            self.notify(
                f"Something went wrong: {exc!r}. Details are in {self.paths.log_file}.", error=True
            )

    def confirm(self, title: str, text: str) -> bool:
        return ask_yes_no(self, title, text)  # plain text: labels may hold memory text

    def choose(self, title: str, text: str, choices: list[str]) -> int | None:
        """Which of ``choices`` the user picks (None: Cancel), in a plain-text dialog."""
        return choose(self, title, text, choices)

    # ---- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        """Load the memory and the models in the background (the window is already shown).

        The memory is listed even when the embedding model is missing (listing and forgetting
        need no model); missing models open the one setup dialog, and facts typed meanwhile wait
        in ``pending_facts`` until the embedding model is ready."""
        from tera_desktop.core.providers import ENGINE_LOCAL, generator_kind

        self._embedding_ready = False
        self.notify("Opening your memory…")

        def opening(_cancel: threading.Event) -> dict[str, Any]:
            missing: dict[str, str] = {}
            try:
                self.engine.embedding_spec()
            except ModelMissingError as exc:
                missing["embedding"] = str(exc)
            if generator_kind(self.engine.settings) == ENGINE_LOCAL:
                try:
                    self.engine.llm_path()
                except ModelMissingError as exc:
                    missing["llm"] = str(exc)
                except TeraError:
                    pass  # an unknown model: loading the language model says so
            try:
                count = self.engine.count()
                facts, documents = self.engine.facts(), self.engine.documents()
            except ModelMissingError:
                if "embedding" not in missing:
                    raise
                count, facts, documents = 0, [], []  # a new memory: nothing to list yet
            if "embedding" not in missing:
                self.engine.embedder  # noqa: B018 - load the embedding model now, not on first use
            return {
                "conversation": self.session.restore_last(),
                "facts": facts,
                "documents": documents,
                "count": count,
                "missing": missing,
            }

        self.run_worker("open", opening, returned=self._on_opened, errored=self._on_open_failed)
        self.load_llm()

    def _on_opened(self, result: dict[str, Any]) -> None:
        self._show_memories(result)
        conversation = result["conversation"]
        if conversation is not None:
            self.chat_controller.show(conversation)
        else:
            self.chat_controller.refresh_list()
        missing: dict[str, str] = result.get("missing", {})
        for kind in ("embedding", "llm"):
            if kind in missing:
                self._offer_model_setup(kind, missing[kind])
        if self.setup_dialog is not None:  # a new user is welcomed; one with memories is not
            self.setup_dialog.set_welcome(self.memory_count == 0)
        if "embedding" in missing:
            self._embedding_missing = True
            self._show_pending_facts()
            self.notify(self._waiting_text())
            return
        self._on_embedding_ready()

    def _on_embedding_ready(self) -> None:
        """The embedding model is loaded: store the facts that waited, sync watched folders."""
        self._embedding_ready = True
        self._embedding_missing = False
        self.notify("Ready.", timeout_ms=3000)
        self._store_pending_facts()
        self.library.start_watching(catch_up=True)

    def _open_embedding(self) -> None:
        """The embedding model is on this computer now: load it, then go on as after start-up."""
        self.notify("Loading the embedding model…")

        def opening(_cancel: threading.Event) -> dict[str, Any]:
            self.engine.embedding_spec()
            self.engine.embedder  # noqa: B018 - load it here, not on the first fact
            return {
                "facts": self.engine.facts(),
                "documents": self.engine.documents(),
                "count": self.engine.count(),
            }

        self.run_worker(
            "open-embedding",
            opening,
            returned=self._on_embedding_opened,
            errored=self._on_open_failed,
        )

    def _on_embedding_opened(self, result: dict[str, Any]) -> None:
        self._show_memories(result)
        self._on_embedding_ready()

    def _waiting_text(self) -> str:
        from tera_desktop.core.units import plural

        n = len(self.pending_facts)
        if n == 1:
            return "The fact you typed waits for the embedding model; it is added once it is ready."
        if n:
            return (
                f"{plural(n, 'fact')} you typed wait for the embedding model; they are added once "
                "it is ready."
            )
        return "Tera needs its embedding model to add and search memories."

    def _on_open_failed(self, exc: object) -> None:
        if isinstance(exc, ModelMissingError):
            self._embedding_ready = False
            self._embedding_missing = True
            self._offer_model_setup("embedding", str(exc))
            self.notify(self._waiting_text())
            return
        if isinstance(exc, StoreError):
            self.notify(str(exc), error=True)
            show_error(self, APP_NAME, f"Tera cannot open its memory.\n\n{exc}")
            return
        self._on_worker_error(exc)

    def load_llm(self) -> None:
        self._set_llm_state(LLM_LOADING)

        def loading(_cancel: threading.Event) -> str:
            generator = self.engine.generator
            generator.prefill([{"role": "system", "content": system_prompt()}])
            return generator.name

        self.run_worker(
            "load-llm", loading, returned=self._on_llm_loaded, errored=self._on_llm_failed
        )

    def _on_llm_loaded(self, name: str) -> None:
        self._set_llm_state(LLM_READY, name)

    def _on_llm_failed(self, exc: object) -> None:
        if isinstance(exc, ModelMissingError):
            self._set_llm_state(LLM_MISSING, str(exc))
            self._offer_model_setup("llm", str(exc))
        else:
            self._set_llm_state(LLM_FAILED, str(exc))
            self.notify(str(exc), error=True)

    def _set_llm_state(self, state: str, detail: str = "") -> None:
        self.llm_state = state
        self.llm_error = detail if state in (LLM_MISSING, LLM_FAILED) else ""
        from tera_desktop.core.providers import server_address

        server = server_address(self.engine.settings)  # who answers: this computer or a server
        text = {
            LLM_LOADING: "Language model: loading…",
            LLM_READY: f"Language model: {detail}",
            LLM_MISSING: "No language model",
            LLM_FAILED: "Language model failed to load",
        }.get(state, "Language model: not loaded")
        if server:
            text = {
                LLM_LOADING: f"Model server {server}: connecting…",
                LLM_READY: f"Answers: {detail} on the model server {server}",
                LLM_FAILED: f"Model server {server}: not available",
            }.get(state, f"Model server {server}: not connected")
        self.model_label.setText(text)
        if state == LLM_MISSING:  # the detail names terminal commands: not for this window
            detail = "No language model yet. File → Set Up Models… downloads one, or uses a "
            detail += "model file you already have."
        self.model_label.setToolTip(tooltip(detail))
        self.chat_controller.search_only = state in (LLM_MISSING, LLM_FAILED)
        if state in (LLM_MISSING, LLM_FAILED):
            self.chat.set_ask_enabled(
                True,
                "No language model: Tera will show the memories that match your question. "
                "Choose a model in File → Settings to get answers.",
            )
        else:
            self.chat.set_ask_enabled(True)
        self.llm_state_changed.emit(state)

    def _offer_model_setup(self, kind: str, reason: str) -> None:
        """Show the one setup dialog for every missing model: a model found missing while it is
        open joins it. ``reason`` (which may name terminal commands) goes to the log only."""
        from tera_desktop.core.model_setup import model_for

        if self.closing:
            return
        log.info("model setup: the %s model is missing: %s", kind, reason)
        configured = self.settings.llm_model if kind == "llm" else self.settings.embedding_model
        model = model_for(kind, configured)
        self._setup_models[kind] = model
        dialog = self.setup_dialog
        if dialog is not None:
            dialog.need(kind, model)
            return
        welcome = self.memory_count == 0 and not self.paths.store.exists()  # until counted
        dialog = FirstRunDialog(self.paths, self.workers, self, welcome=welcome)
        dialog.model_ready.connect(self._on_setup_model_ready)
        dialog.busy_changed.connect(self._on_setup_busy_changed)
        dialog.finished.connect(self._on_setup_finished)
        self.setup_dialog = dialog
        dialog.need(kind, model)
        dialog.show()  # modeless: the memory stays listed, and forget works, behind it

    def show_model_setup(self) -> None:
        """Open the model setup again (e.g. from a menu) for the models still missing."""
        if self.setup_dialog is not None:
            self.setup_dialog.raise_()
            self.setup_dialog.activateWindow()
            return
        if not self._embedding_missing and self.llm_state != LLM_MISSING:
            self.notify("Both models are set up. File → Settings chooses other ones.")
            return
        if self._embedding_missing:
            self._offer_model_setup("embedding", "asked for by the user")
        if self.llm_state == LLM_MISSING:
            self._offer_model_setup("llm", self.llm_error)

    @Slot(str, str)
    def _on_setup_model_ready(self, kind: str, path: str) -> None:
        self._setup_ready[kind] = path
        self._apply_setup_models()

    @Slot(bool)
    def _on_setup_busy_changed(self, busy: bool) -> None:
        if not busy:
            self._apply_setup_models()

    def _apply_setup_models(self) -> None:
        """Put the models the setup made ready to use: one the settings already name is loaded
        at once (the embedding model while the language model still downloads); a different
        one (the user's own files) is saved in the settings when the setup closes, all in one
        change, since new settings reopen Tera and stop the work under way."""
        from tera_desktop.core import models

        if self.closing or not self._setup_ready:
            return
        changes: dict[str, Any] = {}
        same: list[str] = []
        for kind, path in self._setup_ready.items():
            model = self._setup_models.get(kind)
            installed = models.installed_path(self.paths, model) if model is not None else None
            value = model.name if model and installed and Path(installed) == Path(path) else path
            field = "llm_model" if kind == "llm" else "embedding_model"
            if getattr(self.settings, field) == value:
                same.append(kind)
            else:
                changes[field] = value
        if changes and self.setup_dialog is not None:
            for kind in same:  # the rest waits for the setup to close
                del self._setup_ready[kind]
        else:
            self._setup_ready.clear()
            if changes:
                self.apply_settings(replace(self.settings, **changes))  # reopens: loads both
                return
        if "embedding" in same:
            self._open_embedding()
        if "llm" in same:
            self.load_llm()

    @Slot(int)
    def _on_setup_finished(self, result: int) -> None:
        dialog = self.setup_dialog
        self.setup_dialog = None
        if dialog is None or self.closing:
            return
        waiting = [kind for kind in dialog.kinds() if not dialog.row(kind).ready]
        dialog.deleteLater()
        self._apply_setup_models()
        if "embedding" in waiting:
            self.notify(
                "No embedding model yet: your memories are listed, and facts you type wait "
                "until it is ready."
            )
        elif "llm" in waiting:
            self.notify("No language model yet: Tera will show matching memories instead.")

    # ---- settings --------------------------------------------------------------------------------
    _HEAVY_SETTINGS = (
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
        "llm_url",  # a model server (issue 14)
        "llm_server_model",
        "llm_api_key",
        "llm_timeout",
    )

    def apply_settings(self, settings: Settings) -> None:
        """Save new settings. Sampling changes apply at once; model or store changes stop the
        current work, close the old engine in the background and open the new one."""
        old = self.settings
        save_settings(self.paths, settings)
        self.settings = settings
        if all(getattr(old, f) == getattr(settings, f) for f in self._HEAVY_SETTINGS):
            self.engine.settings = settings
            self.notify("Settings saved.")
            return
        running = self.workers.active()
        for worker in running:
            worker.cancel()
        old_engine = self.engine
        self.engine = Engine(self.paths, settings)
        self.session.engine = self.engine
        self.memory.setEnabled(False)
        self._set_llm_state(LLM_LOADING)

        def reopening(_cancel: threading.Event) -> None:
            for worker in running:
                worker.join(120)
            old_engine.close()

        self.run_worker("reopen", reopening, finished=self._on_reopened)

    def _on_reopened(self) -> None:
        self.memory.setEnabled(True)
        if not self.closing:
            self.start()

    @Slot()
    def _on_settings_requested(self) -> None:
        from tera_desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.paths, self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.settings())

    # ---- memories --------------------------------------------------------------------------------
    def refresh_memories(self) -> None:
        def listing(_cancel: threading.Event) -> dict[str, Any]:
            return {
                "facts": self.engine.facts(),
                "documents": self.engine.documents(),
                "count": self.engine.count(),
            }

        self.run_worker("list", listing, returned=self._show_memories)

    def _show_memories(self, result: dict[str, Any]) -> None:
        self.memory.set_memories(result["facts"], result["documents"])
        self.memory_count = int(result["count"])
        self.count_label.setText(plural(self.memory_count, "memory", "memories"))
        self.chat.chat_view.empty_hint.set_memory_count(self.memory_count)
        self.memories_changed.emit(self.memory_count)

    @Slot(str)
    def _on_remember_requested(self, text: str) -> None:
        if not self._embedding_ready or self.pending_facts or self._storing_pending:
            self._keep_fact(text)  # stored in order once the embedding model is ready
            return
        self.run_worker(
            "remember",
            lambda _c: self.engine.remember(text),
            returned=self._on_remembered,
            errored=lambda exc: self._on_remember_failed(text, exc),
        )

    def _on_remember_failed(self, text: str, exc: object) -> None:
        if isinstance(exc, ModelMissingError):  # the model went missing: the fact waits
            self._embedding_ready = False
            self._embedding_missing = True
            self._keep_fact(text)
            self._offer_model_setup("embedding", str(exc))
            return
        self._on_worker_error(exc)

    # ---- facts typed before the embedding model is ready -----------------------------------
    def _keep_fact(self, text: str) -> None:
        """Keep ``text`` (on disk too) until the embedding model can store it: nothing typed is
        dropped, not even when Tera is closed before the model is ready."""
        try:
            self.pending_facts.add(text)
        except OSError as exc:
            log.warning("cannot save a waiting fact in %s: %s", self.pending_facts.path, exc)
            self.notify(
                "Kept until the model is ready, but it could not be saved on disk: keep Tera "
                "open until then.",
                error=True,
            )
        else:
            if not self._embedding_ready:
                self.notify("Saved — it will be added to memory when the model is ready.")
        self._show_pending_facts()
        self._store_pending_facts()

    def _show_pending_facts(self) -> None:
        """Let the sidebar show the waiting facts."""
        self.memory.set_pending_facts(self.pending_facts.texts())

    def _store_pending_facts(self) -> None:
        """Store the waiting facts, oldest first (the embedding model is ready)."""
        if (
            self._storing_pending
            or not self.pending_facts
            or not self._embedding_ready
            or self.closing
        ):
            return
        texts = self.pending_facts.texts()
        self._storing_pending = True
        self._pending_failed = False

        def storing(cancel: threading.Event) -> Any:
            for text in texts:
                if cancel.is_set():
                    return
                yield text, self.engine.remember(text)

        self.run_worker(
            "remember-waiting",
            storing,
            yielded=self._on_pending_fact_stored,
            errored=self._on_pending_facts_failed,
            finished=self._on_pending_facts_done,
        )

    def _on_pending_fact_stored(self, item: Any) -> None:
        text, result = item
        self.pending_facts.remove_first(text)
        self._pending_stored += 1
        replaces = getattr(result, "replaces", None)
        if replaces is not None:
            self.memory.show_replaced(result.id, replaces.text)
        self._show_pending_facts()

    def _on_pending_facts_failed(self, exc: object) -> None:
        self._pending_failed = True
        if isinstance(exc, ModelMissingError):
            self._embedding_ready = False
            self._embedding_missing = True
            self._offer_model_setup("embedding", str(exc))
            return
        self._on_worker_error(exc)

    def _on_pending_facts_done(self) -> None:
        from tera_desktop.core.units import plural

        self._storing_pending = False
        stored, self._pending_stored = self._pending_stored, 0
        if stored:
            what = "the fact" if stored == 1 else f"the {plural(stored, 'fact')}"
            self.notify(f"Remembered {what} you typed while the model was getting ready.")
            self.refresh_memories()
        if self.pending_facts and not self._pending_failed:  # typed while these were stored
            self._store_pending_facts()

    def _on_remembered(self, result: Any) -> None:
        replaces = getattr(result, "replaces", None)
        if replaces is not None:  # it updates an older fact: say which, offer Undo
            self.notify("Remembered. It replaces an older fact, kept as superseded.")
            self.memory.show_replaced(result.id, replaces.text)
        elif result.is_new:
            self.memory.hide_replaced()
            self.notify("Remembered.")
        else:
            self.notify(f"Already remembered on {result.created_at[:10]}.")
        self.refresh_memories()

    # ---- adding files ----------------------------------------------------------------------------
    def add_paths(self, paths: list[str], *, sync: bool = False, quiet: bool = False) -> None:
        """Ingest files/folders in the background (ui/library_controller.py)."""
        self.library.add_paths(paths, sync=sync, quiet=quiet)

    def watch_folder(self, folder: str) -> None:
        """Keep ``folder`` in sync from now on (saved in the settings) and sync it now."""
        self.library.watch_folder(folder)

    # ---- dropped files ---------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Files dropped on any part of the window (the chat box, the lists…) are added to
        memory, instead of a child widget inserting their paths as text."""
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop) and (
            isinstance(watched, QWidget) and watched.window() is self and watched is not self
        ):
            mime = event.mimeData()  # type: ignore[attr-defined]
            urls = mime.urls() if mime is not None and mime.hasUrls() else []
            if urls and all(u.isLocalFile() for u in urls):
                event.acceptProposedAction()  # type: ignore[attr-defined]
                if kind == QEvent.Type.Drop:
                    self.add_paths([u.toLocalFile() for u in urls])
                return True
        return False  # not a file drop: let the event through (never touch `watched` again)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and all(u.isLocalFile() for u in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # ---- chat ------------------------------------------------------------------------------------
    @property
    def conversation(self) -> Conversation:
        """A copy of the open conversation (the session owns it)."""
        return self.session.conversation

    @property
    def _ask_worker(self) -> Worker | None:
        return self.chat_controller._ask_worker

    @Slot(str, bool)
    def _on_chat_notified(self, message: str, error: bool) -> None:
        self.notify(message, error=error)

    @Slot()
    def _on_new_chat_requested(self) -> None:
        self.chat_controller.new_chat()

    @Slot(str)
    def _on_open_source_requested(self, path: str) -> None:
        open_file(self, path)  # a missing file or no app to open it: said in a dialog

    @Slot()
    def _on_open_data_folder_requested(self) -> None:
        open_folder(self, self.paths.data, what="Your data")

    @Slot()
    def _on_check_installation_requested(self) -> None:
        from tera_desktop.ui.doctor_dialog import DoctorDialog

        DoctorDialog(self.paths, self.workers, self.engine, self).exec()

    @Slot()
    def _on_about_requested(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME} {__version__}</b><p>A private, offline second memory.</p>"
            f"<p>Your data: {html.escape(str(self.paths.data))}</p>",
        )

    # ---- closing ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop and join every worker, then close the models and the store. Idempotent."""
        if self._shutdown_done:
            return
        self.closing = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        if self.setup_dialog is not None:
            self.setup_dialog.close()
        self.library.stop_watching()
        if not self.workers.shutdown(timeout=60):
            log.error("some workers did not stop in time")
        self.engine.close()
        self._shutdown_done = True

    def closeEvent(self, event: QCloseEvent) -> None:
        self.notify("Closing…")
        self.shutdown()
        event.accept()


def schedule_start(window: MainWindow) -> None:
    """Start loading once the event loop runs (the window is painted first)."""
    QTimer.singleShot(0, window.start)
