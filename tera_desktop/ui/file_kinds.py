"""What kind of file a document is, for its badge in the sidebar: (badge text, kind in words,
colour), by its suffix; the suffixes of recordings and images are the ones Tera reads
(``core/ingest/formats``)."""

from __future__ import annotations

import os

from tera_desktop.core.ingest.formats.audio import AUDIO_SUFFIXES
from tera_desktop.core.ingest.formats.ocr import IMAGE_SUFFIXES

# suffix → (what it is, badge colour)
_KINDS: dict[str, tuple[str, str]] = {
    ".pdf": ("PDF", "#c0392b"),
    ".docx": ("Word", "#2b579a"),
    ".md": ("Markdown", "#4a5568"),
    ".markdown": ("Markdown", "#4a5568"),
    ".mdown": ("Markdown", "#4a5568"),
    ".mkd": ("Markdown", "#4a5568"),
    ".html": ("Web page", "#c05621"),
    ".htm": ("Web page", "#c05621"),
    ".xhtml": ("Web page", "#c05621"),
    ".shtml": ("Web page", "#c05621"),
    ".csv": ("Table", "#2f855a"),
    ".tsv": ("Table", "#2f855a"),
    ".json": ("Data", "#4a5568"),
    ".yaml": ("Data", "#4a5568"),
    ".yml": ("Data", "#4a5568"),
    ".zip": ("Chat export", "#1f9d55"),
}
_TEXT_KIND = ("Text", "#718096")


def document_kind(source: str) -> tuple[str, str, str]:
    """(badge text, kind in words, badge colour) for a document by its file name."""
    suffix = os.path.splitext(source)[1].lower()
    if suffix in AUDIO_SUFFIXES:
        kind, color = "Recording", "#6b46c1"
    elif suffix in IMAGE_SUFFIXES:
        kind, color = "Image", "#2c7a7b"
    else:
        kind, color = _KINDS.get(suffix, _TEXT_KIND)
    badge = suffix[1:5].upper() if 1 < len(suffix) <= 6 and suffix[1:].isalnum() else "TXT"
    return badge, kind, color
