"""The memory sidebar: what Tera remembers (facts, documents, watched folders), a field to teach it
a fact, a filter, forgetting, and the compact panel of files being added. Widgets only: the main
window does the work in background workers and calls back with the results.

Rows are painted by ``RowDelegate`` (``ui/memory_rows.py``) as plain text, to read well at any
width; a document's badge comes from ``ui/file_kinds.py``. The filter matches fact text, document
names, titles and paths, and the group headings count what it shows ("Facts 3 of 12")."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

from PySide6.QtCore import (
    QPoint,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.ingest import FAILED, REMOVED, UPDATED, FileResult
from tera_desktop.core.store import DocumentInfo, FactInfo
from tera_desktop.core.units import plural
from tera_desktop.ui.file_kinds import document_kind
from tera_desktop.ui.ingest_panel import IngestPanel
from tera_desktop.ui.memory_rows import (
    DOCUMENT,
    FACT,
    FACT_LINES,
    FOLDER,
    FOLDER_STATES,
    MISSING,
    ROLE_COUNT,
    ROLE_KEY,
    ROLE_KIND,
    ROLE_LABEL,
    ROLE_META,
    ROLE_STATUS,
    ROLE_TITLE,
    SUPERSEDED,
    SYNCING,
    TEXT_SEARCH_DELAY_MS,
    WATCHING,
    MemoryTree,
    Row,
    RowDelegate,
    _children,
    _full_date,
    _Spec,
    friendly_date,
)
from tera_desktop.ui.more_button import more_button
from tera_desktop.ui.safe_text import one_line, set_plain, tooltip

__all__ = [  # the sidebar's names, importable from here as before the rows moved out
    "DOCUMENT",
    "FACT",
    "FACT_LINES",
    "FOLDER",
    "FOLDER_STATES",
    "MISSING",
    "OPENING_TEXT",
    "ROLE_COUNT",
    "ROLE_KEY",
    "ROLE_KIND",
    "ROLE_LABEL",
    "ROLE_META",
    "ROLE_STATUS",
    "ROLE_TITLE",
    "SUPERSEDED",
    "SYNCING",
    "TEXT_SEARCH_DELAY_MS",
    "WATCHING",
    "MemoryPanel",
    "MemoryTree",
    "Row",
    "RowDelegate",
    "document_kind",
    "friendly_date",
]

OPENING_TEXT = "Opening your memory…"


# before a waiting line: a clock face that DejaVu Sans (the fonts Tera needs) has; "⏳" is not in
# it and showed as a missing-glyph box
WAITING_MARK = "◷"


class MemoryPanel(QWidget):
    remember_requested = Signal(str)
    forget_requested = Signal(str, str, str)  # kind, fact id | document source | folder, label
    forget_all_requested = Signal()
    add_files_requested = Signal()
    add_folder_requested = Signal()
    stop_ingest_requested = Signal()
    undo_replace_requested = Signal(str)  # the id of the newer fact: keep both facts current
    # the filter's words, to look for inside documents' text (the window searches the store and
    # answers with ``set_text_matches``); sent a moment after typing stops
    text_search_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._facts: list[FactInfo] = []
        self._documents: list[DocumentInfo] = []
        self._watched: list[str] = []
        self._folder_state: dict[str, tuple[str, str]] = {}  # folder → (state, reason)
        self._doc_status: dict[str, tuple[str, str]] = {}  # source → (status, reason)
        self._specs: dict[tuple[str, str], _Spec] = {}
        self._spec_cache: dict[object, tuple[object, _Spec]] = {}  # data → (context, row)
        self._keys: dict[int, list[tuple[str, str]]] = {}  # id(group) → its rows' keys
        self._items_by_key: dict[tuple[str, str], QTreeWidgetItem] = {}
        self._haystacks: dict[tuple[str, str], str] = {}
        self._text_matches: set[str] = set()  # documents whose text holds the filter's words
        self._text_search_timer = QTimer(self)
        self._text_search_timer.setSingleShot(True)
        self._text_search_timer.setInterval(TEXT_SEARCH_DELAY_MS)
        self._text_search_timer.timeout.connect(self._on_text_search_due)

        self.remember_edit = QLineEdit(placeholderText="Remember a fact…")
        self.remember_edit.setObjectName("rememberEdit")
        self.remember_edit.setAccessibleName("Fact to remember")
        self.remember_edit.setToolTip("Type something for Tera to remember and press Enter")
        self.remember_edit.returnPressed.connect(self._on_remember_entered)
        self.remember_button = QPushButton("Remember")
        self.remember_button.setAccessibleName("Remember the fact")
        self.remember_button.clicked.connect(self._on_remember_entered)
        remember_row = QHBoxLayout()
        remember_row.setSpacing(6)
        remember_row.addWidget(self.remember_edit, 1)
        remember_row.addWidget(self.remember_button)

        self.pending_label = QLabel(self)  # facts typed before the embedding model was ready
        self.pending_label.setObjectName("pendingFacts")
        self.pending_label.setTextFormat(Qt.TextFormat.PlainText)
        self.pending_label.setWordWrap(True)
        self.pending_label.setAccessibleName("Facts and files waiting for the embedding model")
        self.pending_label.hide()
        self.filter_edit = QLineEdit(placeholderText="Search memories")
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setAccessibleName("Filter memories")
        self.filter_edit.setToolTip("Shows the facts, documents and folders that contain all words")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)

        self.tree = MemoryTree()
        self.tree.setObjectName("memoryTree")
        self.tree.setAccessibleName("Memories")
        self.tree.setColumnCount(1)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(0)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(True)
        self.tree.setExpandsOnDoubleClick(False)
        self.tree.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.delegate = RowDelegate(self.tree)
        self.tree.setItemDelegate(self.delegate)
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self.tree.itemClicked.connect(self._on_item_clicked)
        self.tree.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.facts_root = self._group("Facts")
        self.folders_root = self._group("Watched folders")  # few, and their state matters
        self.docs_root = self._group("Documents")
        QShortcut(QKeySequence.StandardKey.Delete, self.tree, self._on_forget_clicked)
        QShortcut(QKeySequence.StandardKey.Copy, self.tree, self._on_copy_requested)

        self.empty_label = QLabel()
        self.empty_label.setObjectName("memoryEmpty")
        self.empty_label.setAccessibleName("No memories shown")
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)  # may quote the filter
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(16)
        self.empty_label.setEnabled(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty_label)

        self.ingest = IngestPanel()
        self.ingest.stop_requested.connect(self.stop_ingest_requested)
        self.stop_button = self.ingest.stop_button
        self.progress = self.ingest.progress

        drop = "You can also drop files and folders anywhere on the window."
        self.add_files_button = QPushButton("Add files…")
        self.add_files_button.setAccessibleName("Add files")
        self.add_files_button.setToolTip(f"Add documents to memory. {drop}")
        self.add_files_button.clicked.connect(self.add_files_requested)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setAccessibleName("Add a folder")
        self.add_folder_button.setToolTip(f"Add a folder and keep it in sync. {drop}")
        self.add_folder_button.clicked.connect(self.add_folder_requested)
        self.forget_button = QPushButton("Forget")
        self.forget_button.setObjectName("forgetButton")
        self.forget_button.setAccessibleName("Forget the selected memory")
        self.forget_button.setEnabled(False)
        self.forget_button.clicked.connect(self._on_forget_clicked)
        self.more_menu = QMenu(self)
        self.more_menu.setAccessibleName("More memory actions")
        self.forget_all_action = self.more_menu.addAction("Forget everything…")
        self.forget_all_action.setObjectName("forgetAllAction")
        self.forget_all_action.triggered.connect(self.forget_all_requested)
        self.more_button = more_button(
            "memoryMoreButton",
            "More memory actions",
            "More: forget everything",
            lambda: self.more_menu,
        )
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.add_files_button)
        buttons.addWidget(self.add_folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.forget_button)
        buttons.addWidget(self.more_button)

        self.replaced_label = QLabel()
        self.replaced_label.setObjectName("replacedNote")
        self.replaced_label.setTextFormat(Qt.TextFormat.PlainText)  # holds memory text
        self.replaced_label.setWordWrap(True)
        self.undo_replace_button = QPushButton("Undo")
        self.undo_replace_button.setObjectName("undoReplaceButton")
        self.undo_replace_button.setAccessibleName("Undo: keep both facts current")
        self.undo_replace_button.setToolTip("Keep both facts current")
        self.undo_replace_button.clicked.connect(self._on_undo_replace_clicked)
        replaced_row = QHBoxLayout()
        replaced_row.setContentsMargins(0, 0, 0, 0)
        replaced_row.addWidget(self.replaced_label, 1)
        replaced_row.addWidget(self.undo_replace_button)
        self.replaced_box = QWidget()
        self.replaced_box.setLayout(replaced_row)
        self.replaced_box.hide()
        self._replacing_id = ""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(remember_row)
        layout.addWidget(self.replaced_box)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.pending_label)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.ingest)
        layout.addLayout(buttons)
        self._opening = True  # until the first listing: "Opening your memory…", not "Nothing…"
        self._rebuild()

    def _roots(self) -> tuple[QTreeWidgetItem, ...]:
        return (self.facts_root, self.folders_root, self.docs_root)

    def _group(self, title: str) -> QTreeWidgetItem:
        root = QTreeWidgetItem(self.tree, [title])
        root.setFlags(Qt.ItemFlag.ItemIsEnabled)
        root.setData(0, ROLE_TITLE, title)
        root.setExpanded(True)
        return root

    # ---- content ---------------------------------------------------------------------------------
    @property
    def opening(self) -> bool:
        return self._opening

    def set_opening(self, opening: bool) -> None:
        """While the memory opens, an empty list says "Opening your memory…" (never "Nothing
        remembered yet."). True from construction; the first ``set_memories`` ends it."""
        if opening != self._opening:
            self._opening = opening
            self._apply_filter()

    def set_memories(self, facts: list[FactInfo], documents: list[DocumentInfo]) -> None:
        self._facts, self._documents = list(facts), list(documents)
        self._opening = False
        self._rebuild()

    def set_watched(self, folders: list[str]) -> None:
        self._watched = list(folders)
        self._folder_state = {f: s for f, s in self._folder_state.items() if f in self._watched}
        self._rebuild()

    def set_folder_state(self, folder: str, state: str, reason: str = "") -> None:
        """Say what a watched folder is doing: ``"watching"``, ``"syncing"`` or ``"missing"``
        (ignored for a folder that is not watched)."""
        if folder not in self._watched:
            return
        self._folder_state[folder] = (state, reason)
        self._refresh_row(FOLDER, folder)

    def folder_state(self, folder: str) -> str:
        return self._folder_state.get(folder, (WATCHING, ""))[0]

    def _fact_spec(self, fact: FactInfo, now: datetime | None = None) -> _Spec:
        superseded = bool(fact.superseded_by)
        when = friendly_date(fact.created_at, now)
        meta = f"{when} · replaced by a newer fact" if superseded else when
        note = "\n\n(Superseded: a newer fact replaces it.)" if superseded else ""
        text = one_line(fact.text)
        return _Spec(
            FACT,
            fact.id,
            text,
            fact.text,
            meta,
            SUPERSEDED if superseded else "",
            tooltip(fact.text + note),
            f"{text}. {meta}",
        )

    def _document_spec(self, doc: DocumentInfo, now: datetime | None = None) -> _Spec:
        name = os.path.basename(doc.source) or doc.source
        _badge, kind, _color = document_kind(doc.source)
        status, reason = self._doc_status.get(doc.source, ("", ""))
        verb = "updated" if status == UPDATED else "added"
        parts = [plural(doc.chunks, "chunk"), kind, f"{verb} {friendly_date(doc.created_at, now)}"]
        if status == FAILED:
            parts.insert(0, "Update failed")
        meta = " · ".join(parts)
        title = f"{doc.title}\n" if doc.title and doc.title != name else ""
        problem = f"\n\nThe last update failed: {reason}" if status == FAILED and reason else ""
        tip = f"{title}{doc.source}\n{meta}\nStored {_full_date(doc.created_at)}{problem}"
        text = one_line(name)
        return _Spec(
            DOCUMENT, doc.source, text, name, meta, status, tooltip(tip), f"{text}. {meta}"
        )

    def _folder_spec(self, folder: str, documents: int) -> _Spec:
        state, reason = self._folder_state.get(folder, (WATCHING, ""))
        if state == MISSING:
            meta = "Missing: not found on disk"
        else:
            meta = f"{FOLDER_STATES.get(state, state)} · {plural(documents, 'document')}"
        why = f"\n{reason}" if state == MISSING and reason else ""
        tip = f"{folder}\n{meta}{why}"
        tip += "\nTera keeps this folder in sync: new and changed files are read."
        text = one_line(Path(folder).name or folder)
        return _Spec(FOLDER, folder, text, folder, meta, state, tooltip(tip), f"{text}. {meta}")

    def _folder_documents(self) -> dict[str, int]:
        counts = dict.fromkeys(self._watched, 0)
        prefixes = [(f, f.rstrip(os.sep) + os.sep) for f in self._watched]
        for doc in self._documents:
            for folder, prefix in prefixes:
                if doc.source.startswith(prefix):
                    counts[folder] += 1
        return counts

    def _rebuild(self) -> None:
        chosen = self.selected()
        top = self.tree.itemAt(QPoint(4, 4))
        top_key = (top.data(0, ROLE_KIND), top.data(0, ROLE_KEY)) if top is not None else None
        counts = self._folder_documents()
        now = datetime.now().astimezone()
        today = now.date()
        old, self._spec_cache = self._spec_cache, {}

        def cached(data: object, context: object, make: Callable[[], _Spec]) -> _Spec:
            hit = old.get(data)
            spec = hit[1] if hit is not None and hit[0] == context else make()
            self._spec_cache[data] = (context, spec)
            return spec

        fact_specs = [cached(f, today, partial(self._fact_spec, f, now)) for f in self._facts]
        doc_specs = [
            cached(d, (today, self._doc_status.get(d.source)), partial(self._document_spec, d, now))
            for d in self._documents
        ]
        groups = (
            (self.facts_root, fact_specs),
            (self.folders_root, [self._folder_spec(f, counts[f]) for f in self._watched]),
            (self.docs_root, doc_specs),
        )
        self._haystacks = {}
        for fact in self._facts:
            self._haystacks[(FACT, fact.id)] = fact.text.casefold()
        for doc in self._documents:
            self._haystacks[(DOCUMENT, doc.source)] = f"{doc.source}\n{doc.title}".casefold()
        for folder in self._watched:
            self._haystacks[(FOLDER, folder)] = folder.casefold()
        self.tree.blockSignals(True)  # selection signals while items are replaced
        try:
            moved = [self._sync_group(root, specs) for root, specs in groups]
        finally:
            self.tree.blockSignals(False)
        self._apply_filter()
        if chosen is not None:
            item = self._items_by_key.get((chosen[0], chosen[1]))
            if item is not None and not item.isHidden():
                self.tree.setCurrentItem(item)
                item.setSelected(True)
        if any(moved) and top_key is not None and top_key[0] is not None:
            item = self._items_by_key.get((str(top_key[0]), str(top_key[1])))
            if item is not None:
                self.tree.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtTop)
        self._on_selection_changed()

    def _sync_group(self, root: QTreeWidgetItem, specs: list[_Spec]) -> bool:
        """Show ``specs`` under ``root``, keeping the rows that stay; True if rows came, went
        or moved."""
        keys = [(s.kind, s.key) for s in specs]
        current = self._keys.get(id(root), [])
        if keys == current:
            for key, spec in zip(keys, specs, strict=True):
                if self._specs.get(key) is not spec and self._specs.get(key) != spec:
                    self._fill(self._items_by_key[key], spec)
            return False
        kept = {key: self._items_by_key.pop(key) for key in current if key in self._items_by_key}
        root.takeChildren()
        items = []
        for key, spec in zip(keys, specs, strict=True):
            item = kept.pop(key, None)
            if item is None or self._specs.get(key) != spec:
                item = item or QTreeWidgetItem()
                self._fill(item, spec)
            self._items_by_key[key] = item
            items.append(item)
        for key in kept:  # gone
            self._specs.pop(key, None)
        root.addChildren(items)
        self._keys[id(root)] = keys
        return True

    def _fill(self, item: QTreeWidgetItem, spec: _Spec) -> None:
        item.setText(0, spec.text)
        item.setToolTip(0, spec.tip)
        item.setData(0, ROLE_KIND, spec.kind)
        item.setData(0, ROLE_KEY, spec.key)
        item.setData(0, ROLE_LABEL, spec.label)
        item.setData(0, ROLE_META, spec.meta)
        item.setData(0, ROLE_STATUS, spec.status)
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole, spec.accessible)
        self._specs[(spec.kind, spec.key)] = spec
        self._items_by_key[(spec.kind, spec.key)] = item

    def _refresh_row(self, kind: str, key: str) -> None:
        """Show a new state of one document or folder without rebuilding the list."""
        item = self._items_by_key.get((kind, key))
        if item is None:
            return
        if kind == FOLDER:
            spec = self._folder_spec(key, self._folder_documents().get(key, 0))
        else:
            doc = next((d for d in self._documents if d.source == key), None)
            if doc is None:
                return
            spec = self._document_spec(doc)
        self._fill(item, spec)

    def _apply_filter(self) -> None:
        words = self.filter_edit.text().casefold().split()
        shown_total = 0
        for root in self._roots():
            keys = self._keys.get(id(root), [])
            total = len(keys)
            shown = 0
            for key in keys:
                item = self._items_by_key[key]
                hay = self._haystacks.get(key, "")
                match = all(w in hay for w in words) or (
                    bool(words) and key[0] == DOCUMENT and key[1] in self._text_matches
                )
                if item.isHidden() == match:
                    item.setHidden(not match)
                shown += match
            count = f"{shown:,} of {total:,}" if words else f"{total:,}"
            title = str(root.data(0, ROLE_TITLE))
            root.setText(0, f"{title} ({count})")
            root.setData(0, ROLE_COUNT, count)
            root.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"{title}, {count}")
            hide = total == 0 or (bool(words) and shown == 0)
            if root.isHidden() != hide:  # (setting it again lays the whole list out again)
                root.setHidden(hide)
            shown_total += shown
        if not words and shown_total == 0 and self._opening:
            self.empty_label.setText(OPENING_TEXT)
            self.stack.setCurrentWidget(self.empty_label)
        elif not words and shown_total == 0:
            self.empty_label.setText(
                "Nothing remembered yet.\n\nType a fact above and press Enter, or add files and "
                "folders: drop them anywhere on the window."
            )
            self.stack.setCurrentWidget(self.empty_label)
        elif shown_total == 0:
            set_plain(
                self.empty_label,
                f"No memory matches “{one_line(self.filter_edit.text(), 80)}”.",
            )
            self.stack.setCurrentWidget(self.empty_label)
        else:
            self.stack.setCurrentWidget(self.tree)
        current = self.tree.currentItem()
        if current is not None and current.isHidden():
            self.tree.clearSelection()

    def _items(self) -> list[QTreeWidgetItem]:
        return [child for root in self._roots() for child in _children(root)]

    def rows(self) -> list[Row]:
        """The rows the filter shows, in order, as shown."""
        return [
            Row(
                str(item.data(0, ROLE_KIND)),
                str(item.data(0, ROLE_KEY)),
                item.text(0),
                str(item.data(0, ROLE_META)),
                str(item.data(0, ROLE_STATUS)),
            )
            for item in self._items()
            if not item.isHidden()
        ]

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows() if r.key == key), None)

    def group_titles(self) -> list[str]:
        """The group headings shown, with their counts: "Facts (3 of 12)"."""
        return [root.text(0) for root in self._roots() if not root.isHidden()]

    def visible_texts(self) -> list[str]:
        return [r.text for r in self.rows()]

    def selected(self) -> tuple[str, str, str] | None:
        items = [i for i in self.tree.selectedItems() if i.data(0, ROLE_KIND)]
        if not items:
            return None
        item = items[0]
        return (
            str(item.data(0, ROLE_KIND)),
            str(item.data(0, ROLE_KEY)),
            str(item.data(0, ROLE_LABEL)),
        )

    def select_key(self, key: str) -> bool:
        for item in self._items():
            if item.data(0, ROLE_KEY) == key and not item.isHidden():
                self.tree.setCurrentItem(item)
                item.setSelected(True)
                self.tree.scrollToItem(item)
                return True
        return False

    def show_replaced(self, new_id: str, old_text: str) -> None:
        """Say that the fact just remembered replaces ``old_text``, with an Undo button."""
        self._replacing_id = new_id
        self.replaced_label.setText(f"Replaces: {one_line(old_text, 160)}")
        self.replaced_label.setToolTip(tooltip(old_text))
        self.replaced_box.show()

    def hide_replaced(self) -> None:
        self._replacing_id = ""
        self.replaced_box.hide()

    @Slot()
    def _on_undo_replace_clicked(self) -> None:
        if self._replacing_id:
            self.undo_replace_requested.emit(self._replacing_id)
        self.hide_replaced()

    # ---- ingestion -------------------------------------------------------------------------------
    def set_ingesting(self, active: bool) -> None:
        """Work on files starts (again, for the next queued work) or ends. Folders that were
        syncing are watched again either way."""
        for folder, (state, _reason) in list(self._folder_state.items()):
            if state == SYNCING:
                self.set_folder_state(folder, WATCHING)
        if active:
            self.ingest.start()
        else:
            self.ingest.finish()

    def set_progress(self, done: int, total: int) -> None:
        self.ingest.set_progress(done, total)

    def add_file_result(self, result: FileResult) -> None:
        self.ingest.add_result(result)
        if result.path in self._watched and result.status == FAILED:  # the folder itself
            self.set_folder_state(result.path, MISSING, result.reason)
            return
        if result.status == REMOVED:
            self._doc_status.pop(result.path, None)
            return
        self._doc_status[result.path] = (result.status, result.reason)
        self._refresh_row(DOCUMENT, result.path)

    def file_statuses(self) -> list[str]:
        """The per-file log, newest first: "✓ a.md: added (3 chunks)", "✗ b.pdf: <reason>"."""
        return self.ingest.log_texts()

    # ---- slots -----------------------------------------------------------------------------------
    @Slot()
    def _on_remember_entered(self) -> None:
        text = self.remember_edit.text().strip()
        if text:
            self.remember_requested.emit(text)
            self.remember_edit.clear()

    @Slot(str)
    def _on_filter_changed(self, _text: str) -> None:
        self._text_matches = set()  # they were for other words
        self._apply_filter()
        self._on_selection_changed()
        if self.filter_edit.text().split():
            self._text_search_timer.start()
        else:
            self._text_search_timer.stop()

    @Slot()
    def _on_text_search_due(self) -> None:
        words = self.filter_edit.text().split()
        if words:
            self.text_search_requested.emit(" ".join(words))

    def set_pending_facts(self, texts: list[str], files: list[str] | None = None) -> None:
        """Facts typed, and files added, before the embedding model was ready: saved, waiting."""
        files = files or []
        if not texts and not files:
            self.pending_label.hide()
            return
        lines = []
        if texts:
            verb = "waits" if len(texts) == 1 else "wait"
            lines.append(
                f"{WAITING_MARK} {plural(len(texts), 'fact')} {verb} for the embedding model "
                "and will be stored when it is ready: "
                + "; ".join(one_line(t, 60) for t in texts[:3])
                + ("; …" if len(texts) > 3 else "")
            )
        if files:
            verb = "waits" if len(files) == 1 else "wait"
            names = [one_line(Path(f).name or f, 40) for f in files[:3]]
            lines.append(
                f"{WAITING_MARK} {plural(len(files), 'file or folder', 'files or folders')} {verb} "
                "for the embedding model and will be read when it is ready: "
                + ", ".join(names)
                + (", …" if len(files) > 3 else "")
            )
        set_plain(self.pending_label, "\n".join(lines))
        self.pending_label.setToolTip(tooltip("\n".join([*texts, *files])))
        self.pending_label.show()

    def pending_text(self) -> str:
        return self.pending_label.text() if self.pending_label.isVisibleTo(self) else ""

    def set_text_matches(self, query: str, sources: set[str]) -> None:
        """Documents whose text holds every word of ``query`` are shown by the filter too (an
        answer for older words than the filter's is ignored)."""
        if " ".join(self.filter_edit.text().split()) != query:
            return
        self._text_matches = set(sources)
        self._apply_filter()

    @Slot(QTreeWidgetItem, int)
    def _on_item_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.parent() is None:  # a group heading opens and closes its group
            item.setExpanded(not item.isExpanded())

    @Slot()
    def _on_selection_changed(self) -> None:
        chosen = self.selected()
        self.forget_button.setEnabled(chosen is not None)
        folder = bool(chosen and chosen[0] == FOLDER)
        self.forget_button.setText("Stop watching" if folder else "Forget")
        self.forget_button.setAccessibleName(
            "Stop watching the selected folder" if folder else "Forget the selected memory"
        )

    @Slot()
    def _on_forget_clicked(self) -> None:
        chosen = self.selected()
        if chosen:
            self.forget_requested.emit(*chosen)

    @Slot()
    def _on_copy_requested(self) -> None:
        chosen = self.selected()
        if chosen:
            QGuiApplication.clipboard().setText(chosen[2])

    @Slot(QPoint)
    def _on_context_menu_requested(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        if item is None or not item.data(0, ROLE_KIND):
            return
        self.tree.setCurrentItem(item)
        kind = str(item.data(0, ROLE_KIND))
        menu = QMenu(self)
        menu.setAccessibleName("Memory actions")
        copy = menu.addAction("Copy text" if kind == FACT else "Copy path")
        copy.triggered.connect(self._on_copy_requested)
        forget = menu.addAction("Stop watching" if kind == FOLDER else "Forget…")
        forget.triggered.connect(self._on_forget_clicked)
        menu.exec(self.tree.viewport().mapToGlobal(pos))
