"""Markdown that is safe to show: model output and memories are text, never HTML or resources.

Model answers and remembered text can contain anything, including HTML and image links. Qt's
Markdown reader is run with ``MarkdownNoHTML`` (raw HTML is shown as literal text), and every image
the Markdown asks for is replaced by a text placeholder *before* the document is laid out, because
Qt's image handler reads local files directly (``QImage.load(path)``) even when ``loadResource`` is
overridden to refuse. Nothing is ever fetched or read: no remote URL, no local file, no data: URL.

``markdown_document()`` builds such a document; ``render_markdown()`` returns it as HTML (written by
Qt, everything escaped) for widgets that only take rich text; ``SafeTextBrowser`` shows it.
"""

from __future__ import annotations

import math
from typing import Any

import shiboken6
from PySide6.QtCore import QByteArray, QObject, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextOption,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget

MARKDOWN_FEATURES = (
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub
    | QTextDocument.MarkdownFeature.MarkdownNoHTML
)
"""GitHub-flavoured Markdown (tables, strikethrough, task lists, autolinks) with raw HTML off."""

_IMAGE_ALT = QTextFormat.Property.ImageAltText.value
_CODE_LANGUAGE = QTextFormat.Property.BlockCodeLanguage.value


class SafeTextDocument(QTextDocument):
    """A text document that never loads a resource (image, style sheet, anything).

    The returned empty ``QByteArray`` is a non-null value on purpose: a null result would make Qt
    fall back to reading the named file itself."""

    def loadResource(self, resource_type: int, name: QUrl | str) -> Any:
        return QByteArray()


def _image_placeholder(fmt: QTextCharFormat) -> str:
    image = fmt.toImageFormat()
    alt = str(image.property(_IMAGE_ALT) or "").strip()
    return f"[image: {alt}]" if alt else "[image]"


def _strip_images(document: QTextDocument) -> None:
    """Replace every image in ``document`` by "[image: alt]" text linking to the image's URL."""
    block = document.begin()
    while block.isValid():
        found: list[tuple[int, int, QTextCharFormat]] = []
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                found.append((fragment.position(), fragment.length(), fmt))
            it += 1
        for position, length, fmt in reversed(found):  # from the end: positions stay valid
            cursor = QTextCursor(document)
            cursor.setPosition(position)
            cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
            plain = QTextCharFormat()
            name = fmt.toImageFormat().name()
            if name:
                plain.setAnchor(True)
                plain.setAnchorHref(name)
                plain.setFontUnderline(True)
            cursor.insertText(_image_placeholder(fmt), plain)
        block = block.next()


def _style_code(document: QTextDocument, code_background: QColor | None) -> None:
    """Code blocks wrap (no horizontal scrolling in a chat bubble), are monospace everywhere, and
    get a soft background; inline code gets the same background."""
    mono = QTextCharFormat()
    mono.setFontFixedPitch(True)
    mono.setFontStyleHint(QFont.StyleHint.Monospace)
    block = document.begin()
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.hasProperty(_CODE_LANGUAGE):
            cursor = QTextCursor(block)
            change = QTextBlockFormat()
            change.setNonBreakableLines(False)
            if code_background is not None:
                change.setBackground(code_background)
            cursor.mergeBlockFormat(change)
            cursor.movePosition(
                QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor
            )
            cursor.mergeCharFormat(mono)
        elif code_background is not None:
            it = block.begin()
            spans: list[tuple[int, int]] = []
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.charFormat().fontFixedPitch():
                    spans.append((fragment.position(), fragment.length()))
                it += 1
            for position, length in spans:
                cursor = QTextCursor(document)
                cursor.setPosition(position)
                cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
                shade = QTextCharFormat()
                shade.setBackground(code_background)
                cursor.mergeCharFormat(shade)
        block = block.next()


def markdown_document(
    text: str, parent: QObject | None = None, *, code_background: QColor | None = None
) -> SafeTextDocument:
    """A new document holding ``text`` rendered as Markdown, safely (see the module docstring).

    The document has no layout yet, so nothing was resolved while it was built."""
    document = SafeTextDocument(parent)
    document.setMarkdown(text, MARKDOWN_FEATURES)
    _strip_images(document)
    _style_code(document, code_background)
    return document


def render_markdown(text: str) -> str:
    """``text`` rendered as Markdown, returned as Qt-written HTML: raw HTML in ``text`` comes back
    escaped, and there are no images. Safe to pass to ``setHtml()`` of a rich-text widget."""
    document = markdown_document(text)
    try:
        return document.toHtml()
    finally:
        document.deleteLater()


class SafeTextBrowser(QTextBrowser):
    """A read-only, selectable text view that never loads anything and never follows a link.

    Links are shown and reported through ``link_activated``; what to do with them is the owner's
    decision. The widget is as tall as its content (no inner scroll bar), so many of them stack in
    one scroll area."""

    link_activated = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._code_background: QColor | None = None
        self.setReadOnly(True)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setUndoRedoEnabled(False)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.highlighted.connect(self._on_link_hovered)
        self._install(SafeTextDocument(self))

    # -- content -------------------------------------------------------------------------------

    def set_markdown(self, text: str) -> None:
        """Show ``text`` as Markdown (raw HTML shown literally, images as "[image: …]")."""
        self._install(markdown_document(text, self, code_background=self._code_background))

    def set_plain_text(self, text: str) -> None:
        """Show ``text`` exactly as written."""
        document = SafeTextDocument(self)
        document.setPlainText(text)
        self._install(document)

    def setMarkdown(self, markdown: str) -> None:
        """Qt's own entry point, routed through the safe path."""
        self.set_markdown(markdown)

    def setPlainText(self, text: str) -> None:
        self.set_plain_text(text)

    def set_code_background(self, color: QColor | None) -> None:
        """Background for code blocks and inline code in later ``set_markdown`` calls."""
        self._code_background = color

    # -- never load, never navigate ------------------------------------------------------------

    def loadResource(self, resource_type: int, name: QUrl | str) -> Any:
        return QByteArray()

    def doSetSource(
        self,
        name: QUrl | str,
        resource_type: QTextDocument.ResourceType = QTextDocument.ResourceType.UnknownResource,
    ) -> None:
        """Never navigate: a click is reported by ``link_activated`` and nothing else happens."""

    # -- size to content -----------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self._content_height())

    def minimumSizeHint(self) -> QSize:
        return QSize(40, self._content_height())

    def _content_height(self) -> int:
        margins = self.contentsMargins()
        height = math.ceil(self.document().size().height())
        return height + margins.top() + margins.bottom() + 2 * self.frameWidth()

    def _install(self, document: QTextDocument) -> None:
        old = self.document()
        document.setDefaultFont(self.font())
        document.setDocumentMargin(2)
        document.setUndoRedoEnabled(False)
        self.setDocument(document)
        if old is not document and shiboken6.isValid(old) and old.parent() == self:
            old.deleteLater()  # Qt may already have deleted it; if not, it goes now
        document.documentLayout().documentSizeChanged.connect(self._on_document_size_changed)
        self._update_height()

    def _update_height(self) -> None:
        height = self._content_height()
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)

    @Slot()
    def _on_document_size_changed(self) -> None:
        self._update_height()

    @Slot(QUrl)
    def _on_anchor_clicked(self, url: QUrl) -> None:
        self.link_activated.emit(url)

    @Slot(QUrl)
    def _on_link_hovered(self, url: QUrl) -> None:
        self.setToolTip(url.toDisplayString() if url.isValid() and not url.isEmpty() else "")
