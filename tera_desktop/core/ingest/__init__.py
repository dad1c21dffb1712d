"""Ingestion: extractors (a registry other formats plug into) → chunker → embed → store."""

from tera_desktop.core.ingest import formats as formats  # registers .pdf, .docx, .html
from tera_desktop.core.ingest import whatsapp as whatsapp  # registers .zip chat exports
from tera_desktop.core.ingest.extractors import (
    Extracted,
    Section,
    decode_text,
    extractor_for,
    register,
    supported_suffixes,
)
from tera_desktop.core.ingest.pipeline import (
    ADDED,
    FAILED,
    REMOVED,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    FileResult,
    IngestProgress,
    RememberResult,
    ingest,
    iter_files,
    remember,
)

__all__ = [
    "ADDED",
    "FAILED",
    "REMOVED",
    "SKIPPED",
    "UNCHANGED",
    "UPDATED",
    "Extracted",
    "FileResult",
    "IngestProgress",
    "RememberResult",
    "Section",
    "decode_text",
    "extractor_for",
    "ingest",
    "iter_files",
    "register",
    "remember",
    "supported_suffixes",
]
