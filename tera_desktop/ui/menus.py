"""The main window's menus (File, View, Help) and what the View and Help menus open.

Every shortcut is a menu action, so Help → Keyboard Shortcuts lists them from the menus
(``shortcut_list``) and the list cannot go stale.
"""

from __future__ import annotations

import html
import threading
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from tera_desktop import APP_NAME, __version__
from tera_desktop.core.units import MB, plural
from tera_desktop.ui.open_file import open_folder
from tera_desktop.ui.theme import THEME_LABELS, THEMES


class Menus(QObject):
    """Builds the window's menu bar and owns the Help menu's dialogs and the theme choice."""

    def __init__(self, window: Any) -> None:  # the main window (not imported: no circle)
        super().__init__(window)
        self.window = window
        self.theme_actions: dict[str, QAction] = {}
        self._build()

    def _build(self) -> None:
        """File, View and Help menus; every shortcut is listed in Help → Keyboard Shortcuts."""
        window = self.window
        file_menu = window.menuBar().addMenu("&File")
        for text, shortcut, slot in (
            ("&New Chat", QKeySequence.StandardKey.New, window.chat_controller.new_chat),
            ("Add &Files…", QKeySequence.StandardKey.Open, window.library.choose_files),
            ("Add F&older…", None, window.library.choose_folder),
            ("&Settings…", QKeySequence.StandardKey.Preferences, window._on_settings_requested),
            ("Set Up &Models…", None, window.setup.show_model_setup),
            ("&Back Up…", None, self._on_backup_requested),
            ("&Restore…", None, self._on_restore_requested),
            ("Open &Data Folder", None, self._on_open_data_folder_requested),
            ("&Quit", QKeySequence.StandardKey.Quit, window.close),
        ):
            action = QAction(text, window)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        view_menu = window.menuBar().addMenu("&View")
        for text, keys, slot in (
            ("&Search Memory", "Ctrl+K", window.focus_memory_search),
            ("&Focus Question Box", "Ctrl+L", window.focus_question),
            ("S&top Answer", "Esc", window.stop_answer),
        ):
            action = QAction(text, window)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            view_menu.addAction(action)
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        group = QActionGroup(window)
        for choice in THEMES:
            action = QAction(THEME_LABELS[choice], window, checkable=True)
            action.setChecked(choice == window.settings.theme)
            action.setData(choice)
            action.triggered.connect(self._on_theme_chosen)
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[choice] = action
        help_menu = window.menuBar().addMenu("&Help")
        shortcuts = QAction("&Keyboard Shortcuts", window)
        shortcuts.triggered.connect(self._on_shortcuts_requested)
        help_menu.addAction(shortcuts)
        check = QAction("&Check Installation…", window)
        check.triggered.connect(self._on_check_installation_requested)
        help_menu.addAction(check)
        help_menu.addSeparator()
        about = QAction(f"&About {APP_NAME}", window)
        about.triggered.connect(self._on_about_requested)
        help_menu.addAction(about)

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu action with a shortcut, as the user's system
        shows the keys (Help → Keyboard Shortcuts reads this, so the list cannot go stale)."""
        rows = []
        for menu_action in self.window.menuBar().actions():
            menu = menu_action.menu()
            if not isinstance(menu, QMenu):
                continue
            for action in menu.actions():
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys:
                    rows.append((keys, action.text().replace("&", "").rstrip("…")))
        return rows

    @Slot()
    def _on_theme_chosen(self) -> None:
        action = self.sender()
        choice = action.data() if isinstance(action, QAction) else None
        window = self.window
        if choice not in THEMES or choice == window.settings.theme:
            return
        window.theme.apply(choice)
        window.app.update_settings(theme=choice)

    @Slot()
    def _on_shortcuts_requested(self) -> None:
        from tera_desktop.ui.shortcuts_dialog import ShortcutsDialog

        ShortcutsDialog(self.shortcut_list(), self.window).exec()

    @Slot()
    def _on_backup_requested(self) -> None:
        """File → Back Up…: one archive of the memory, chats and settings (core/backup.py),
        written on a worker from the open memory (consistent: ingestion waits for it)."""
        from datetime import date
        from pathlib import Path

        from tera_desktop.core import backup

        window = self.window
        suggested = Path.home() / f"tera-{date.today().isoformat()}{backup.SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(
            window, "Back Up Tera", str(suggested), "Tera backups (*.zip)"
        )
        if not path:
            return
        window.notify("Backing up your memory…")
        app = window.app

        def backing_up(cancel: threading.Event) -> backup.BackupResult:
            return backup.backup(app.engine, Path(path), cancel=cancel)

        def done(result: backup.BackupResult) -> None:
            window.notify(
                f"Backed up {plural(result.chunks, 'memory', 'memories')} and "
                f"{plural(result.conversations, 'conversation')} to {result.path.name} "
                f"({result.size / MB:.1f} MB)."
            )

        window.run_worker("backup", backing_up, returned=done)

    @Slot()
    def _on_restore_requested(self) -> None:
        """File → Restore…: the archive is checked, then replaces this memory, its chats and
        settings (the memory is closed for it; nothing changes if the archive is damaged)."""
        from pathlib import Path

        from tera_desktop.core import backup
        from tera_desktop.core.settings import load_settings

        window = self.window
        app = window.app
        path, _ = QFileDialog.getOpenFileName(
            window, "Restore Tera", str(Path.home()), "Tera backups (*.zip);;All files (*)"
        )
        if not path:
            return
        if app.ingesting or window.chat_controller.busy:
            window.notify("Wait until the files are added and the answer is done.", error=True)
            return
        if not window.confirm(
            "Restore",
            "Replace everything Tera remembers, its conversations and settings with this "
            "backup? What Tera holds now is removed (the backup is checked first).",
        ):
            return
        window.notify("Restoring your memory…")

        def restoring(_cancel: threading.Event) -> backup.RestoreResult:
            backup.verify(path)  # a damaged archive changes nothing: checked before closing
            app.engine.close()  # the memory and the models are reopened on their next use
            return backup.restore(path, app.paths, replace=True, app_lock_held=True)

        def done(result: backup.RestoreResult) -> None:
            window.chat_controller.new_chat()
            if result.settings_restored:
                window.apply_settings(load_settings(app.paths))
            window.refresh_memories()
            window.notify(
                f"Restored {plural(result.chunks, 'memory', 'memories')} and "
                f"{plural(result.conversations, 'conversation')}."
            )

        window.run_worker("restore", restoring, returned=done)

    @Slot()
    def _on_open_data_folder_requested(self) -> None:
        open_folder(self.window, self.window.paths.data, what="Your data")

    @Slot()
    def _on_check_installation_requested(self) -> None:
        from tera_desktop.ui.doctor_dialog import DoctorDialog

        window = self.window
        DoctorDialog(window.paths, window.workers, window.engine, window).exec()

    @Slot()
    def _on_about_requested(self) -> None:
        window = self.window
        QMessageBox.about(
            window,
            f"About {APP_NAME}",
            f"<b>{APP_NAME} {__version__}</b><p>A private, offline second memory.</p>"
            f"<p>Your data: {html.escape(str(window.paths.data))}</p>",
        )
