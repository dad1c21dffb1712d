"""The face of model readiness: the one setup dialog for missing models, and remembering a fact.

Whether a model is ready, and the facts and files that wait for the embedding model, belong to the
application core (``core/app.py``); this controller shows the setup dialog (ui/first_run.py) for
every missing model and puts a model it makes ready to use (loaded at once, or saved in the
settings when the dialog closes), and says what became of a typed fact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Slot

from tera_desktop.core.app import MISSING, Remembered, TeraApp
from tera_desktop.core.errors import ModelMissingError
from tera_desktop.core.settings import Settings
from tera_desktop.core.units import plural
from tera_desktop.ui.first_run import FirstRunDialog
from tera_desktop.ui.memory_panel import MemoryPanel
from tera_desktop.ui.shell import Shell

log = logging.getLogger("tera.ui")


class SetupController(QObject):
    def __init__(
        self,
        shell: Shell,
        memory: MemoryPanel,
        *,
        memory_count: Callable[[], int],
        apply_settings: Callable[[Settings], None],
        load_llm: Callable[[], None],
        load_embedding: Callable[[], None],
    ) -> None:
        super().__init__(shell.parent)
        self.shell = shell
        self.memory = memory
        self._memory_count = memory_count
        self._apply_settings = apply_settings
        self._load_llm = load_llm
        self._load_embedding = load_embedding
        self.dialog: FirstRunDialog | None = None
        self._models: dict[str, Any] = {}  # kind → the catalog model the setup offers
        self._ready: dict[str, str] = {}  # kind → a model made ready, not put to use yet
        self.memory.remember_requested.connect(self._on_remember_requested)

    @property
    def app(self) -> TeraApp:
        return self.shell.app

    def waiting_text(self) -> str:
        """What waits for the embedding model, in a sentence for the status bar."""
        waiting = self.app.waiting
        n, files = len(waiting), len(waiting.files())
        if not n and not files:
            return "Tera needs its embedding model to add and search memories."
        parts = []
        if n:
            parts.append("the fact you typed" if n == 1 else f"the {plural(n, 'fact')} you typed")
        if files:
            what = plural(files, "file or folder", "files or folders")
            parts.append("the file or folder you added" if files == 1 else f"the {what} you added")
        one = n + files == 1
        text = " and ".join(parts)
        return (
            f"{text[0].upper()}{text[1:]} {'waits' if one else 'wait'} for the embedding model; "
            f"{'it is' if one else 'they are'} added once it is ready."
        )

    # ---- the setup dialog ------------------------------------------------------------------------
    def offer(self, kind: str, reason: str) -> None:
        """Show the one setup dialog for every missing model: a model found missing while it is
        open joins it. ``reason`` (which may name terminal commands) goes to the log only."""
        from tera_desktop.core.model_setup import model_for

        if self.shell.closing():
            return
        log.info("model setup: the %s model is missing: %s", kind, reason)
        settings = self.app.settings
        configured = settings.llm_model if kind == "llm" else settings.embedding_model
        model = model_for(kind, configured)
        self._models[kind] = model
        dialog = self.dialog
        if dialog is not None:
            dialog.need(kind, model)
            return
        paths = self.app.paths
        welcome = self._memory_count() == 0 and not paths.store.exists()  # until counted
        dialog = FirstRunDialog(paths, self.shell.workers, self.shell.parent, welcome=welcome)
        dialog.model_ready.connect(self._on_setup_model_ready)
        dialog.busy_changed.connect(self._on_setup_busy_changed)
        dialog.finished.connect(self._on_setup_finished)
        self.dialog = dialog
        dialog.need(kind, model)
        dialog.show()  # modeless: the memory stays listed, and forget works, behind it

    def welcome(self, new_user: bool) -> None:
        if self.dialog is not None:  # a new user is welcomed; one with memories is not
            self.dialog.set_welcome(new_user)

    @Slot()
    def show_model_setup(self) -> None:
        """Open the model setup again (e.g. from a menu) for the models still missing."""
        app = self.app
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        embedding_missing = app.embedding_state == MISSING
        if not embedding_missing and app.llm_state != MISSING:
            self.shell.notify("Both models are set up. File → Settings chooses other ones.")
            return
        if embedding_missing:
            self.offer("embedding", "asked for by the user")
        if app.llm_state == MISSING:
            self.offer("llm", app.llm_detail)

    @Slot(str, str)
    def _on_setup_model_ready(self, kind: str, path: str) -> None:
        self._ready[kind] = path
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

        if self.shell.closing() or not self._ready:
            return
        settings = self.app.settings
        changes: dict[str, Any] = {}
        same: list[str] = []
        for kind, path in self._ready.items():
            model = self._models.get(kind)
            paths = self.app.paths
            installed = models.installed_path(paths, model) if model is not None else None
            value = model.name if model and installed and Path(installed) == Path(path) else path
            field = "llm_model" if kind == "llm" else "embedding_model"
            if getattr(settings, field) == value:
                same.append(kind)
            else:
                changes[field] = value
        if changes and self.dialog is not None:
            for kind in same:  # the rest waits for the setup to close
                del self._ready[kind]
        else:
            self._ready.clear()
            if changes:
                self._apply_settings(replace(settings, **changes))  # reopens: loads both
                return
        if "embedding" in same:
            self._load_embedding()
        if "llm" in same:
            self._load_llm()

    @Slot(int)
    def _on_setup_finished(self, result: int) -> None:
        dialog = self.dialog
        self.dialog = None
        if dialog is None or self.shell.closing():
            return
        waiting = [kind for kind in dialog.kinds() if not dialog.row(kind).ready]
        dialog.deleteLater()
        self._apply_setup_models()
        if "embedding" in waiting:
            self.shell.notify(
                "No embedding model yet: your memories are listed, and facts you type wait "
                "until it is ready."
            )
        elif "llm" in waiting:
            self.shell.notify("No language model yet: Tera will show matching memories instead.")

    # ---- remembering -----------------------------------------------------------------------------
    @Slot(str)
    def _on_remember_requested(self, text: str) -> None:
        app = self.app
        if app.must_wait():  # only a small file is written: said at once
            self._on_remembered(app.keep_waiting(text))
            return
        self.shell.run_worker(
            "remember",
            lambda _c: app.remember(text),
            returned=self._on_remembered,
        )

    def _on_remembered(self, outcome: Remembered) -> None:
        app = self.app
        if outcome.waiting:
            if not outcome.saved:
                self.shell.notify(
                    "Kept until the model is ready, but it could not be saved on disk: keep "
                    "Tera open until then.",
                    error=True,
                )
            elif not app.embedding_ready:
                self.shell.notify("Saved — it will be added to memory when the model is ready.")
                if app.embedding_state == MISSING and self.dialog is None:
                    self.offer("embedding", "a fact waits for it")
            return
        result = outcome.result
        assert result is not None
        if result.replaces is not None:  # it updates an older fact: say which, offer Undo
            self.shell.notify("Remembered. It replaces an older fact, kept as superseded.")
            self.memory.show_replaced(result.id, result.replaces.text)
        elif result.is_new:
            self.memory.hide_replaced()
            self.shell.notify("Remembered.")
        else:
            self.shell.notify(f"Already remembered on {result.created_at[:10]}.")

    # ---- facts typed before the embedding model is ready -----------------------------------
    def store_waiting(self) -> None:
        """Store the waiting facts, oldest first (the embedding model is ready)."""
        app = self.app
        if not app.waiting or not app.embedding_ready or self.shell.closing():
            return
        stored: list[Any] = []

        def on_stored(item: Any) -> None:
            stored.append(item)
            result = item[1]
            if result.replaces is not None:
                self.memory.show_replaced(result.id, result.replaces.text)

        def done() -> None:
            if stored:
                n = len(stored)
                what = "the fact" if n == 1 else f"the {plural(n, 'fact')}"
                self.shell.notify(f"Remembered {what} you typed while the model was getting ready.")
            if errors or not app.waiting or not app.embedding_ready or self.shell.closing():
                return
            self.store_waiting()  # typed while these were stored

        errors: list[object] = []

        def failed(exc: object) -> None:
            errors.append(exc)
            if isinstance(exc, ModelMissingError):
                app.embedding_missing(str(exc))
                self.offer("embedding", str(exc))
                return
            self.shell.report_error(exc)

        self.shell.run_worker(
            "remember-waiting",
            app.store_waiting,
            yielded=on_stored,
            errored=failed,
            finished=done,
        )
