"""Extractors for real document formats, registered with ``extractors.register`` on import:
PDF (pypdf), Word .docx (python-docx), HTML (BeautifulSoup + lxml). Each imports its library
inside the extractor function, so importing this package stays cheap. ``encoding`` holds the
charset-detecting text decoder. ``audio`` (voice notes, faster-whisper) and ``ocr`` (images
and scanned PDF pages, RapidOCR) load their models on first use."""

from tera_desktop.core.ingest.formats import audio, docx, html, ocr, pdf

__all__ = ["audio", "docx", "html", "ocr", "pdf"]
