"""The main window: the memory sidebar and the chat, showing the application core.

The window owns no memory state: ``core/app.py`` (``TeraApp``) owns it and the flows that cross
features. The window runs the core's slow methods on workers (``run_worker``) and shows its typed
events, relayed onto the GUI thread by ``workers/app_events.py``. Controllers get narrow callbacks
(``ui/shell.py``), never the window: the chat, the setup dialog and remembering, files, folders and
forgetting, the menus. Every message reaches the user through ``notify()`` (ui/status_area.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, cast

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QSplitter,
    QTabWidget,
)

from tera_desktop import APP_NAME
from tera_desktop.core import app as core_app
from tera_desktop.core.app import (
    ConversationRewritten,
    Listing,
    MemoryChanged,
    Opened,
    ProblemFound,
    ReadinessChanged,
    TeraApp,
    WaitingChanged,
)
from tera_desktop.core.conversations import Conversation
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ACTION_SETUP_MODELS, ModelMissingError, StoreError, TeraError
from tera_desktop.core.paths import Paths
from tera_desktop.core.session import ChatSession
from tera_desktop.core.settings import Settings
from tera_desktop.core.store_health import StoreDamagedError
from tera_desktop.ui.chat import ChatPanel
from tera_desktop.ui.chat_controller import ChatController
from tera_desktop.ui.conversation_list import ConversationList
from tera_desktop.ui.error_text import error_text
from tera_desktop.ui.file_drops import FileDropFilter
from tera_desktop.ui.first_run import FirstRunDialog
from tera_desktop.ui.gui_gc import collect_on_gui_thread
from tera_desktop.ui.library_controller import LibraryController
from tera_desktop.ui.memory_panel import MemoryPanel
from tera_desktop.ui.menus import Menus
from tera_desktop.ui.model_status import SEARCH_ONLY_TIP
from tera_desktop.ui.open_file import open_file
from tera_desktop.ui.repair_flow import offer_repair
from tera_desktop.ui.safe_text import ask_yes_no, choose, show_error
from tera_desktop.ui.setup_controller import SetupController
from tera_desktop.ui.shell import Shell
from tera_desktop.ui.status_area import StatusArea
from tera_desktop.ui.theme import theme_manager
from tera_desktop.workers import Handlers, Worker, WorkerManager, create_worker
from tera_desktop.workers.app_events import AppEvents

log = logging.getLogger("tera.ui")

REFRESH_DELAY_MS = 150  # memory changes within this time are listed once


class MainWindow(QMainWindow):
    memories_changed = Signal(int)  # the memory count, after each refresh
    llm_state_changed = Signal(str)
    answer_finished = Signal()
    ingest_finished = Signal()

    def __init__(
        self, paths: Paths, settings: Settings | None = None, app: TeraApp | None = None
    ) -> None:
        super().__init__()
        self.paths = paths
        self.app = app or TeraApp(paths, settings)
        self.workers = WorkerManager(self)
        self.memory_count = 0
        self.closing = False
        self._shutdown_done = False
        self._opened = False
        self._llm_shown = self.app.llm_state
        self.events = AppEvents(self)
        self.events.event_received.connect(self._on_app_event)
        self.events.follow(self.app)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh_memories)

        collect_on_gui_thread()  # Qt objects in reference cycles die on this thread only
        self.theme = theme_manager()
        self.theme.apply(self.app.settings.theme)
        self.setWindowTitle(APP_NAME)
        self.resize(1180, 760)
        self.setAcceptDrops(True)
        self._drops = FileDropFilter(self, self.add_paths)  # drops anywhere on the window
        qapp = QApplication.instance()
        if qapp is not None:
            qapp.installEventFilter(self._drops)

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
        self.chat_controller.action_offered.connect(self._on_action_offered)
        self.chat_controller.answer_finished.connect(self.answer_finished)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(self.chat)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([430, 750])
        self.setCentralWidget(splitter)

        self.status = StatusArea(self.statusBar(), lambda: self.setup.show_model_setup())
        self.model_label = self.status.model_label
        self.count_label = self.status.count_label
        self.setup_button = self.status.setup_button

        self.shell = Shell(
            app=self.app,
            parent=self,
            workers=self.workers,
            run_worker=self.run_worker,
            # looked up at each use (tests and subclasses replace them on the window)
            notify=lambda *a, **k: self.notify(*a, **k),
            report_error=lambda exc: self._on_worker_error(exc),
            confirm=lambda title, text: self.confirm(title, text),
            choose=lambda title, text, choices: self.choose(title, text, choices),
            closing=lambda: self.closing,
            status=lambda text, ms: self.statusBar().showMessage(text, ms),
        )
        self.setup = SetupController(  # the setup dialog; remembering a fact
            self.shell,
            self.memory,
            memory_count=lambda: self.memory_count,
            apply_settings=self.apply_settings,
            load_llm=self.load_llm,
            load_embedding=self._load_embedding,
        )
        self.library = LibraryController(  # adding files, watched folders, forgetting
            self.shell, self.memory, lambda: self.memory_count
        )
        self.library.ingest_finished.connect(self.ingest_finished)
        self.menus = Menus(self)
        self.theme_actions: dict[str, QAction] = self.menus.theme_actions
        self.chat.open_source_requested.connect(self._on_open_source_requested)
        self.chat.chat_view.empty_hint.step_requested.connect(self._on_first_step_requested)

    # ---- helpers ---------------------------------------------------------------------------------
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
        the GUI thread. Errors without a handler go to ``notify``. After ``shutdown()`` nothing
        starts (the worker is returned unstarted)."""
        if self._shutdown_done:  # an answer's end arriving as the app quits: nothing new runs
            log.info("not started after shutdown: %s", name)
            return create_worker(fn, name=name, start=False)
        handlers.setdefault("errored", self._on_worker_error)
        connect = cast("Handlers[Any, Any]", handlers)
        return create_worker(fn, name=name, connect=connect, manager=self.workers, parent=self)

    def notify(self, message: str, *, error: bool = False, timeout_ms: int = 8000) -> None:
        """The one channel for messages to the user (ui/status_area.py)."""
        self.status.say(message, error=error, timeout_ms=timeout_ms)

    def _on_worker_error(self, exc: object) -> None:
        if isinstance(exc, TeraError):
            self.notify(error_text(exc), error=True)
            if exc.action:
                self._on_action_offered(exc.action)
        else:
            self.notify(
                f"Something went wrong: {exc!r}. Details are in {self.paths.log_file}.", error=True
            )

    @Slot(str)
    def _on_action_offered(self, action: str) -> None:
        """After an error's message: a button for what the window can do about it."""
        if action == ACTION_SETUP_MODELS:
            self.status.offer_setup()

    def confirm(self, title: str, text: str) -> bool:
        return ask_yes_no(self, title, text)  # plain text: labels may hold memory text

    def choose(self, title: str, text: str, choices: list[str]) -> int | None:
        """Which of ``choices`` the user picks (None: Cancel), in a plain-text dialog."""
        return choose(self, title, text, choices)

    # ---- the core's state, as the window shows it ---------------------------------------------
    @property
    def engine(self) -> Engine:
        return self.app.engine

    @property
    def session(self) -> ChatSession:
        return self.app.session

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def llm_state(self) -> str:  # as shown: the core's, once its event reached the GUI thread
        return self._llm_shown

    @property
    def setup_dialog(self) -> FirstRunDialog | None:
        """The model setup while it is open (ui/setup_controller.py)."""
        return self.setup.dialog

    def _on_app_event(self, event: object) -> None:
        """The core said what changed (on the GUI thread, through ``AppEvents``)."""
        if self.closing:
            return
        if isinstance(event, MemoryChanged):
            if self._opened and not self._refresh_timer.isActive():
                self._refresh_timer.start()
        elif isinstance(event, WaitingChanged):
            self.memory.set_pending_facts(list(event.facts), list(event.files))
        elif isinstance(event, ReadinessChanged):
            if event.kind == "llm":
                self._show_llm_state(event.state, event.detail)
        elif isinstance(event, ConversationRewritten):
            self.chat_controller.show(event.conversation)
        elif isinstance(event, ProblemFound) and self._opened:  # at start: said after "Ready."
            self.notify(event.problem.message, error=True, timeout_ms=0)

    # ---- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the memory and load the models in the background (the window is already shown).

        The memory is listed even when the embedding model is missing (listing and forgetting
        need no model); missing models open the one setup dialog, and what is typed or added
        meanwhile waits (``core/app.py``) until the embedding model is ready."""
        self.notify("Opening your memory…")
        self.memory.set_pending_facts(self.app.waiting.texts(), self.app.waiting.files())
        self.run_worker(
            "open", self.app.open, returned=self._on_opened, errored=self._on_open_failed
        )
        self.load_llm()

    def _on_opened(self, opened: Opened) -> None:
        self._opened = True
        self._show_memories(opened.listing)
        missing = opened.missing
        for kind in ("embedding", "llm"):
            if kind in missing:
                self.setup.offer(kind, missing[kind])
        self.setup.welcome(self.memory_count == 0)
        if "embedding" in missing:
            self.notify(self.setup.waiting_text())
        else:
            self._on_embedding_ready()
        for problem in opened.problems:
            self.notify(problem.message, error=True, timeout_ms=0)
        conversation = opened.conversation
        try:  # a chat that cannot be shown must not stop anything else
            if conversation is not None:
                self.chat_controller.show(conversation)
            else:
                self.chat_controller.refresh_list()
        except Exception:
            log.exception("cannot show the conversation %s", getattr(conversation, "id", "?"))
            self.notify(
                f"Could not show the last chat. Details are in {self.paths.log_file}.", error=True
            )

    def _on_open_failed(self, exc: object) -> None:
        self._opened = True
        self.memory.set_opening(False)
        if isinstance(exc, ModelMissingError):
            self.app.embedding_missing(str(exc))
            self.setup.offer("embedding", str(exc))
            self.notify(self.setup.waiting_text())
            return
        if isinstance(exc, StoreDamagedError):  # named, and Repair offered (ui/repair_flow.py)
            status = self.statusBar()
            offer_repair(self.shell, exc, memory=self.memory, status=status, reopen=self.start)
            return
        if isinstance(exc, StoreError):
            self.notify(error_text(exc), error=True)
            show_error(self, APP_NAME, f"Tera cannot open its memory.\n\n{exc}")
            return
        self._on_worker_error(exc)

    def _on_embedding_ready(self) -> None:
        """The embedding model is loaded: store the facts that waited, read the files that
        waited, sync watched folders."""
        self.notify("Ready.", timeout_ms=3000)
        self.setup.store_waiting()
        self.library.read_waiting()
        self.library.start_watching(catch_up=True)

    def _load_embedding(self) -> None:
        """The embedding model is on this computer now: load it, then go on as after start-up."""
        self.notify("Loading the embedding model…")

        def loaded(listing: Listing) -> None:
            self._show_memories(listing)
            self._on_embedding_ready()

        self.run_worker(
            "open-embedding",
            lambda _c: self.app.load_embedding(),
            returned=loaded,
            errored=self._on_open_failed,
        )

    def load_llm(self) -> None:
        self.app.llm_requested()  # "loading" at once; the core's events update the status bar
        self.run_worker("load-llm", self.app.load_llm, errored=self._on_llm_failed)

    def _on_llm_failed(self, exc: object) -> None:
        if isinstance(exc, ModelMissingError):
            self.setup.offer("llm", str(exc))
        else:
            self.notify(error_text(exc) if isinstance(exc, TeraError) else str(exc), error=True)

    def _set_llm_state(self, state: str, detail: str = "") -> None:
        """Show a language-model state (tests use it to simulate one)."""
        self.app.llm_state, self.app.llm_detail = state, detail
        self._show_llm_state(state, detail)

    def _show_llm_state(self, state: str, detail: str = "") -> None:
        from tera_desktop.core.providers import server_address

        self._llm_shown = state
        self.status.show_model(state, detail, server_address(self.app.settings))
        search_only = state in (core_app.MISSING, core_app.FAILED)
        self.chat_controller.search_only = search_only
        self.chat.set_ask_enabled(True, SEARCH_ONLY_TIP if search_only else "")
        self.llm_state_changed.emit(state)

    # ---- settings --------------------------------------------------------------------------------
    def apply_settings(self, settings: Settings) -> None:
        """Save new settings (the core decides what they change). Sampling changes apply at
        once; model or store changes stop the current work, close the old engine in the
        background and open the new one."""
        running = self.workers.active()
        old_engine = self.app.apply_settings(settings)
        if old_engine is None:
            self.notify("Settings saved.")
            return
        for worker in running:
            worker.cancel()
        self.memory.setEnabled(False)
        self.memory.set_opening(True)  # the memory reopens: say so, not "nothing remembered"
        self.chat.chat_view.empty_hint.set_opening(True)

        def reopening(_cancel: threading.Event) -> None:
            for worker in running:
                worker.join(120)
            TeraApp.close_engine(old_engine)

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
        self.run_worker("list", lambda _c: self.app.listing(), returned=self._show_memories)

    def _show_memories(self, listing: Listing) -> None:
        self.memory.set_memories(listing.facts, listing.documents)
        self.memory_count = int(listing.count)
        self.status.show_count(self.memory_count)
        self.chat.chat_view.empty_hint.set_memory_count(self.memory_count)
        self.memories_changed.emit(self.memory_count)

    def add_paths(self, paths: list[str], *, sync: bool = False, quiet: bool = False) -> None:
        """Ingest files/folders in the background (ui/library_controller.py)."""
        self.library.add_paths(paths, sync=sync, quiet=quiet)

    def watch_folder(self, folder: str) -> None:
        """Keep ``folder`` in sync from now on (saved in the settings) and sync it now."""
        self.library.watch_folder(folder)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # on the window itself
        if not self._drops.eventFilter(self, event):
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drops.eventFilter(self, event)

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

    @Slot(str)
    def _on_open_source_requested(self, path: str) -> None:
        open_file(self, path)  # a missing file or no app to open it: said in a dialog

    # ---- closing ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop and join every worker, then close the models and the store. Idempotent."""
        if self._shutdown_done:
            return
        self.closing = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._drops)
        if self.setup.dialog is not None:
            self.setup.dialog.close()
        self.library.stop_watching()
        if not self.workers.shutdown(timeout=60):
            log.error("some workers did not stop in time")
        self.events.stop()
        self.app.close()
        self._shutdown_done = True

    def closeEvent(self, event: QCloseEvent) -> None:
        self.notify("Closing…")
        self.shutdown()
        event.accept()


def schedule_start(window: MainWindow) -> None:
    """Start loading once the event loop runs (the window is painted first)."""
    QTimer.singleShot(0, window.start)
