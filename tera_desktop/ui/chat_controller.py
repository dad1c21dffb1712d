"""The chat's face: shows a core ``ChatSession`` in the chat panel and the conversation list.

The session (Qt-free) owns the conversation, its persistence, retrieval, the prompt and the
checks; this controller only starts its generators on workers and shows their events: the
evidence at once, "Reading 4 sources… 40%" while the model reads, the streamed answer, then the
checked answer. While the user types, it reads ahead (``ChatSession.prepare``) after a short pause
so that after Enter only the question is left to read.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDir, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from tera_desktop.core.conversations import Conversation, export_markdown
from tera_desktop.core.errors import ModelMissingError, TeraError
from tera_desktop.core.prompts import AnswerDone, Reading, Source, SourcesFound, Token
from tera_desktop.core.session import ChatSession
from tera_desktop.ui.chat import ROLE_NOTICE, ChatPanel, MessageView
from tera_desktop.ui.conversation_list import ConversationList
from tera_desktop.ui.error_text import error_text
from tera_desktop.workers import Worker

log = logging.getLogger("tera.ui.chat")

PREPARE_PAUSE_MS = 450  # a pause in typing this long (or a finished word) starts reading ahead

RunWorker = Callable[..., Worker]


def reading_text(event: Reading) -> str:
    n = event.sources
    what = f"{n} source{'s' if n != 1 else ''}" if n else "the question"
    return f"Reading {what}… {round(100 * event.fraction)}%"


NO_ANSWER_TEXT = "Stopped: no answer."  # a saved question whose answer never came


class ChatController(QObject):
    answer_finished = Signal()
    conversation_changed = Signal(str)  # the open conversation's id
    notified = Signal(str, bool)  # message, is_error
    action_offered = Signal(str)  # what the user can do about the last error (ACTION_* key)

    def __init__(
        self,
        session: ChatSession,
        chat: ChatPanel,
        chats: ConversationList,
        run_worker: RunWorker,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.chat = chat
        self.chats = chats
        self._run_worker = run_worker
        self.search_only = False  # no language model: show the matching memories
        self.prepare_enabled = True
        self._ask_worker: Worker | None = None
        self._prepare_worker: Worker | None = None
        self._prepare_again = False
        self._view: MessageView | None = None
        self._sources: list[Source] = []
        self._prepare_timer = QTimer(self)
        self._prepare_timer.setSingleShot(True)
        self._prepare_timer.setInterval(PREPARE_PAUSE_MS)
        self._prepare_timer.timeout.connect(self._on_prepare_due)
        chat.question_asked.connect(self._on_question_asked)
        chat.stop_requested.connect(self._on_stop_requested)
        chat.input.textChanged.connect(self._on_input_changed)
        chats.conversation_selected.connect(self._on_conversation_selected)
        chats.new_chat_requested.connect(self.new_chat)
        chats.rename_requested.connect(self._on_rename_requested)
        chats.delete_requested.connect(self._on_delete_requested)
        chats.export_requested.connect(self._on_export_requested)
        chats.search_changed.connect(self._on_search_changed)

    # ---- state -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._ask_worker is not None

    def notify(self, message: str, error: bool = False) -> None:
        self.notified.emit(message, error)

    # ---- conversations ---------------------------------------------------------------------------
    def show(self, conversation: Conversation) -> None:
        """Show a conversation's messages (the session already holds it)."""
        if self.busy:  # never pull the chat away from an answer being written
            self.refresh_list()
            return
        view = self.chat.chat_view
        view.clear()
        messages = conversation.messages
        for i, message in enumerate(messages):
            item = view.add_message(message.role, message.text)
            if message.role != "assistant":
                item.finish()
                following = messages[i + 1] if i + 1 < len(messages) else None
                if following is None or following.role != "assistant":  # stopped before a word
                    view.add_message(ROLE_NOTICE, NO_ANSWER_TEXT).finish()
                continue
            if message.error:
                item.show_error(message.error)
                continue
            item.finish(stopped=message.stopped)
            sources = ChatSession.saved_sources(message)
            if sources and not message.no_memory:
                item.set_evidence(sources)  # as when it was asked: the best sentence of each
            item.set_sources(sources, no_memory=message.no_memory)
            checks = message.checks or {}
            item.set_checks(checks.get("unsupported", ()), checks.get("removed_citations", ()))
        self.conversation_changed.emit(conversation.id)
        self.refresh_list()

    def refresh_list(self) -> None:
        store = self.session.conversations
        text = self.chats.search_text()
        current = self.session.conversation_id

        def listing(_cancel: threading.Event) -> list[Any]:
            return store.search(text) if text.strip() else store.list()

        self._run_worker(
            "list-chats",
            listing,
            returned=lambda summaries: self.chats.set_conversations(summaries, current),
        )

    @Slot()
    def new_chat(self) -> None:
        """Start a new conversation; the current one stays in the list."""
        self.stop()
        self.session.new_conversation()
        self.chat.chat_view.clear()
        self.chat.input.setFocus()
        self.conversation_changed.emit(self.session.conversation_id)
        self.refresh_list()

    @Slot(str)
    def _on_conversation_selected(self, conv_id: str) -> None:
        if conv_id == self.session.conversation_id:
            return
        if self.busy:
            self.notify("Stop the answer first (Esc), then switch chats.")
            self.chats.set_current(self.session.conversation_id)
            return

        def opening(_cancel: threading.Event) -> Conversation:
            return self.session.open(conv_id)

        self._run_worker("open-chat", opening, returned=self.show)

    @Slot(str, str)
    def _on_rename_requested(self, conv_id: str, title: str) -> None:
        def renaming(_cancel: threading.Event) -> None:
            self.session.rename(conv_id, title)

        self._run_worker("rename-chat", renaming, finished=self.refresh_list)

    @Slot(str)
    def _on_delete_requested(self, conv_id: str) -> None:
        if self.busy and conv_id == self.session.conversation_id:
            self.notify("Stop the answer first (Esc), then delete this chat.")
            return
        was_open = conv_id == self.session.conversation_id

        def deleting(_cancel: threading.Event) -> None:
            self.session.delete(conv_id)

        def deleted() -> None:
            if was_open:
                self.chat.chat_view.clear()
                self.conversation_changed.emit(self.session.conversation_id)
            self.refresh_list()
            self.notify("Chat deleted.")

        self._run_worker("delete-chat", deleting, finished=deleted)

    @Slot(str)
    def _on_export_requested(self, conv_id: str) -> None:
        store = self.session.conversations
        try:
            conv = store.load(conv_id)
        except TeraError as exc:
            self.notify(error_text(exc), True)
            return
        name = "".join(c if c.isalnum() or c in " -_" else "_" for c in conv.title)[:60].strip()
        start = str(Path(QDir.homePath()) / f"{name or 'Tera chat'}.md")
        parent = self.chat.window() if isinstance(self.chat.window(), QWidget) else None
        path, _ = QFileDialog.getSaveFileName(
            parent, "Export chat as Markdown", start, "Markdown (*.md)"
        )
        if path:
            self.export_to(conv, Path(path))

    def export_to(self, conv: Conversation, path: Path) -> None:
        def exporting(_cancel: threading.Event) -> Path:
            tmp = path.with_name(f".{path.name}.tmp")  # whole or not at all
            tmp.write_text(export_markdown(conv), encoding="utf-8")
            os.replace(tmp, path)
            return path

        self._run_worker(
            "export-chat", exporting, returned=lambda p: self.notify(f"Exported to {p}.")
        )

    @Slot(str)
    def _on_search_changed(self, _text: str) -> None:
        self.refresh_list()

    # ---- asking ----------------------------------------------------------------------------------
    @Slot(str)
    def _on_question_asked(self, question: str) -> None:
        self.ask(question)

    def ask(self, question: str) -> None:
        if self._ask_worker is not None:
            return
        self._prepare_timer.stop()
        if self._prepare_worker is not None:
            self._prepare_worker.cancel()  # stops between two batches; the cache keeps them
        self.chat.chat_view.add_message("user", question)
        self._view = self.chat.chat_view.add_message("assistant")
        self._sources = []
        self.chat.set_busy(True)
        search_only = self.search_only

        def asking(cancel: threading.Event) -> Any:
            return self.session.ask(question, cancel=cancel, search_only=search_only)

        self._ask_worker = self._run_worker(
            "ask",
            asking,
            yielded=self._on_answer_event,
            errored=self._on_answer_error,
            aborted=self._on_answer_aborted,
            finished=self._on_answer_finished,
        )

    def _on_answer_event(self, event: object) -> None:
        view = self._view
        if view is None:
            return
        if isinstance(event, SourcesFound):
            self._sources = event.sources
            view.set_evidence(event.sources)
            view.set_sources(event.sources)
        elif isinstance(event, Reading):
            view.set_progress(reading_text(event))
        elif isinstance(event, Token):
            view.set_progress("")
            view.append_text(event.text)
        elif isinstance(event, AnswerDone):
            view.set_progress("")
            view.set_text(event.text)
            if event.no_memory:
                view.set_sources([], no_memory=True)
            else:
                view.set_sources(event.sources)
            view.set_checks(event.checks.unsupported, event.checks.removed_citations)
            view.finish(stopped=event.stopped)

    def _on_answer_error(self, exc: object) -> None:
        if isinstance(exc, TeraError):
            message = error_text(exc)
        else:
            message = f"Something went wrong: {exc!r}"
        if self._view is not None:
            self._view.set_progress("")
            self._view.show_error(message)
        if isinstance(exc, ModelMissingError):
            self.search_only = True
        self.notify(message, True)
        if isinstance(exc, TeraError) and exc.action:
            self.action_offered.emit(exc.action)

    def _on_answer_aborted(self) -> None:
        view = self._view
        if view is not None:
            view.set_progress("")
            view.finish(stopped=True)
            view.set_sources(self._sources)

    def _on_answer_finished(self) -> None:
        self._ask_worker = None
        self._view = None
        self.chat.set_busy(False)
        if self.session.take_rewritten():  # what it used was forgotten meanwhile: redacted
            self.show(self.session.conversation)
        self.refresh_list()
        self.answer_finished.emit()

    @Slot()
    def _on_stop_requested(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._ask_worker is not None:
            self._ask_worker.cancel()
        if self._prepare_worker is not None:
            self._prepare_worker.cancel()

    # ---- reading ahead ---------------------------------------------------------------------------
    @Slot()
    def _on_input_changed(self) -> None:
        """Read ahead at each finished word, and after a pause in typing."""
        if not self.prepare_enabled or self.search_only:
            return
        if self.chat.input.toPlainText().endswith((" ", ",", "?")):
            self._on_prepare_due()
        else:
            self._prepare_timer.start()

    @Slot()
    def _on_prepare_due(self) -> None:
        if self._ask_worker is not None or not self.session.engine.generator_loaded:
            return
        text = self.chat.input.toPlainText()
        if len(text.strip()) < 3:
            return
        if self._prepare_worker is not None:
            # typing does not interrupt reading ahead (that would waste the batch under way):
            # when it is done, it reads ahead again for the newest text
            self._prepare_again = True
            return
        self._prepare_again = False

        def preparing(cancel: threading.Event) -> Any:
            return self.session.prepare(text, cancel=cancel)

        self._prepare_worker = self._run_worker(
            "prepare", preparing, errored=self._on_prepare_error, finished=self._on_prepare_finished
        )

    def _on_prepare_error(self, exc: object) -> None:
        log.info("reading ahead failed: %s", exc)  # the question itself will say what is wrong

    def _on_prepare_finished(self) -> None:
        self._prepare_worker = None
        if self._prepare_again and self._ask_worker is None:
            self._on_prepare_due()
