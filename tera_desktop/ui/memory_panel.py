"""The memory sidebar: what Tera remembers (facts and documents), a field to teach it a fact,
forgetting, and the progress of files being added. Widgets only: the main window does the work in
background workers and calls back with the results."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tera_desktop.core.ingest import FAILED, SKIPPED, UNCHANGED, FileResult
from tera_desktop.core.store import DocumentInfo, FactInfo
from tera_desktop.ui.safe_text import one_line, tooltip

ROLE_KIND = Qt.ItemDataRole.UserRole
ROLE_KEY = Qt.ItemDataRole.UserRole + 1  # fact id or document source path
ROLE_LABEL = Qt.ItemDataRole.UserRole + 2

_STATUS_COLORS = {FAILED: "#c0392b", UNCHANGED: "#7f8c8d", SKIPPED: "#7f8c8d"}


def _date(iso: str) -> str:
    return iso[:10]


class MemoryPanel(QWidget):
    remember_requested = Signal(str)
    forget_requested = Signal(str, str, str)  # kind, fact id | document source, label
    forget_all_requested = Signal()
    add_files_requested = Signal()
    add_folder_requested = Signal()
    stop_ingest_requested = Signal()
    undo_replace_requested = Signal(str)  # the id of the newer fact: keep both facts current

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc_status: dict[str, str] = {}
        self._facts: list[FactInfo] = []
        self._documents: list[DocumentInfo] = []

        self.remember_edit = QLineEdit(placeholderText="Remember… (type a fact, press Enter)")
        self.remember_edit.setObjectName("rememberEdit")
        self.remember_edit.returnPressed.connect(self._on_remember_entered)
        self.remember_button = QPushButton("Remember")
        self.remember_button.clicked.connect(self._on_remember_entered)
        remember_row = QHBoxLayout()
        remember_row.addWidget(self.remember_edit, 1)
        remember_row.addWidget(self.remember_button)

        self.filter_edit = QLineEdit(placeholderText="Filter memories")
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)

        self.tree = QTreeWidget()
        self.tree.setObjectName("memoryTree")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Memory", "Details", "Added"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self.facts_root = QTreeWidgetItem(self.tree, ["Facts"])
        self.docs_root = QTreeWidgetItem(self.tree, ["Documents"])
        self.folders_root = QTreeWidgetItem(self.tree, ["Watched folders"])
        self._watched: list[str] = []
        for root in (self.facts_root, self.docs_root, self.folders_root):
            root.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = root.font(0)
            font.setBold(True)
            root.setFont(0, font)
            root.setExpanded(True)
        QShortcut(QKeySequence.StandardKey.Delete, self.tree, self._on_forget_clicked)

        self.add_files_button = QPushButton("Add files…")
        self.add_files_button.clicked.connect(self.add_files_requested)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.clicked.connect(self.add_folder_requested)
        self.forget_button = QPushButton("Forget")
        self.forget_button.setObjectName("forgetButton")
        self.forget_button.setEnabled(False)
        self.forget_button.clicked.connect(self._on_forget_clicked)
        self.forget_all_button = QPushButton("Forget all…")
        self.forget_all_button.setObjectName("forgetAllButton")
        self.forget_all_button.clicked.connect(self.forget_all_requested)
        buttons = QHBoxLayout()
        for b in (self.add_files_button, self.add_folder_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.forget_button)
        buttons.addWidget(self.forget_all_button)

        self.progress = QProgressBar()
        self.progress.setObjectName("ingestProgress")
        self.progress.setFormat("%v of %m files")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopIngestButton")
        self.stop_button.clicked.connect(self._on_stop_clicked)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.stop_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_box.hide()

        self.activity_label = QLabel("Recent files")
        self.activity = QListWidget()
        self.activity.setObjectName("fileStatusList")
        self.activity.setMaximumHeight(140)
        self.activity.setWordWrap(True)
        self.activity_label.hide()
        self.activity.hide()

        self.replaced_label = QLabel()
        self.replaced_label.setObjectName("replacedNote")
        self.replaced_label.setTextFormat(Qt.TextFormat.PlainText)  # holds memory text
        self.replaced_label.setWordWrap(True)
        self.undo_replace_button = QPushButton("Undo")
        self.undo_replace_button.setObjectName("undoReplaceButton")
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

        self.hint = QLabel("Drop files or folders anywhere on the window to add them.")
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addLayout(remember_row)
        layout.addWidget(self.replaced_box)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.activity_label)
        layout.addWidget(self.activity)
        layout.addWidget(self.hint)

    # ---- content ---------------------------------------------------------------------------------
    def set_memories(self, facts: list[FactInfo], documents: list[DocumentInfo]) -> None:
        self._facts, self._documents = facts, documents
        self._rebuild()

    def _rebuild(self) -> None:
        needle = self.filter_edit.text().strip().casefold()
        selected = self.selected()
        for root in (self.facts_root, self.docs_root, self.folders_root):
            root.takeChildren()
        for fact in self._facts:
            if needle and needle not in fact.text.casefold():
                continue
            superseded = bool(getattr(fact, "superseded_by", ""))
            details = "fact · superseded" if superseded else "fact"
            item = QTreeWidgetItem(
                self.facts_root, [one_line(fact.text), details, _date(fact.created_at)]
            )
            note = "\n\n(Superseded: a newer fact replaces it.)" if superseded else ""
            item.setToolTip(0, tooltip(fact.text + note))
            if superseded:  # still visible, greyed out
                for column in range(3):
                    item.setForeground(column, QBrush(QColor(_STATUS_COLORS[UNCHANGED])))
            item.setData(0, ROLE_KIND, "fact")
            item.setData(0, ROLE_KEY, fact.id)
            item.setData(0, ROLE_LABEL, fact.text)
        for doc in self._documents:
            name = Path(doc.source).name
            if (
                needle
                and needle not in doc.source.casefold()
                and needle not in doc.title.casefold()
            ):
                continue
            status = self._doc_status.get(doc.source, "stored")
            details = f"{doc.chunks} chunk{'s' if doc.chunks != 1 else ''} · {status}"
            item = QTreeWidgetItem(self.docs_root, [one_line(name), details, _date(doc.created_at)])
            item.setToolTip(0, tooltip(doc.source))
            item.setData(0, ROLE_KIND, "document")
            item.setData(0, ROLE_KEY, doc.source)
            item.setData(0, ROLE_LABEL, name)
        for folder in self._watched:
            if needle and needle not in folder.casefold():
                continue
            item = QTreeWidgetItem(
                self.folders_root, [one_line(Path(folder).name), "kept in sync", ""]
            )
            item.setToolTip(0, tooltip(folder))
            item.setData(0, ROLE_KIND, "folder")
            item.setData(0, ROLE_KEY, folder)
            item.setData(0, ROLE_LABEL, folder)
        self.folders_root.setText(0, f"Watched folders ({len(self._watched)})")
        self.folders_root.setHidden(not self._watched)
        self.facts_root.setText(0, f"Facts ({len(self._facts)})")
        self.docs_root.setText(0, f"Documents ({len(self._documents)})")
        if selected:
            for item in self._items():
                if item.data(0, ROLE_KEY) == selected[1]:
                    item.setSelected(True)
        self._on_selection_changed()

    def set_watched(self, folders: list[str]) -> None:
        self._watched = list(folders)
        self._rebuild()

    def _items(self) -> list[QTreeWidgetItem]:
        return [
            root.child(i)
            for root in (self.facts_root, self.docs_root, self.folders_root)
            for i in range(root.childCount())
        ]

    def visible_texts(self) -> list[str]:
        return [item.text(0) for item in self._items()]

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
            if item.data(0, ROLE_KEY) == key:
                self.tree.setCurrentItem(item)
                item.setSelected(True)
                return True
        return False

    @Slot()
    def _on_stop_clicked(self) -> None:
        """Say at once that the stop was heard: the file being embedded finishes first."""
        self.stop_button.setText("Stopping…")
        self.stop_button.setEnabled(False)
        self.stop_ingest_requested.emit()

    def show_replaced(self, new_id: str, old_text: str) -> None:
        """Say that the fact just remembered replaces ``old_text``, with an Undo button."""
        self._replacing_id = new_id
        self.replaced_label.setText(f"Replaces: {one_line(old_text)}")
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
        self.progress_box.setVisible(active)
        self.stop_button.setText("Stop")
        self.stop_button.setEnabled(True)
        if active:
            self.progress.setRange(0, 0)  # busy until the file count is known
            self.activity_label.show()
            self.activity.show()

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def add_file_result(self, result: FileResult) -> None:
        name = Path(result.path).name
        if result.status == FAILED:
            text = f"✗ {name}: {result.reason}"
        elif result.reason:
            text = f"– {name}: {result.status}: {result.reason}"
        else:
            plural = "s" if result.chunks != 1 else ""
            text = f"✓ {name}: {result.status} ({result.chunks} chunk{plural})"
            self._doc_status[result.path] = result.status
        item = QListWidgetItem(one_line(text))
        item.setToolTip(tooltip(f"{result.path}\n{result.reason or result.status}"))
        item.setData(ROLE_KIND, result.status)
        color = _STATUS_COLORS.get(result.status)
        if color:
            item.setForeground(QBrush(QColor(color)))
        self.activity.insertItem(0, item)
        while self.activity.count() > 500:
            self.activity.takeItem(self.activity.count() - 1)

    def file_statuses(self) -> list[str]:
        return [self.activity.item(i).text() for i in range(self.activity.count())]

    # ---- slots -----------------------------------------------------------------------------------
    @Slot()
    def _on_remember_entered(self) -> None:
        text = self.remember_edit.text().strip()
        if text:
            self.remember_requested.emit(text)
            self.remember_edit.clear()

    @Slot(str)
    def _on_filter_changed(self, _text: str) -> None:
        self._rebuild()

    @Slot()
    def _on_selection_changed(self) -> None:
        chosen = self.selected()
        self.forget_button.setEnabled(chosen is not None)
        self.forget_button.setText(
            "Stop watching" if chosen and chosen[0] == "folder" else "Forget"
        )

    @Slot()
    def _on_forget_clicked(self) -> None:
        chosen = self.selected()
        if chosen:
            self.forget_requested.emit(*chosen)
