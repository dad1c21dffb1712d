"""Extractors for real document formats, registered with ``extractors.register`` on import:
PDF (pypdf), Word .docx (python-docx), HTML (BeautifulSoup + lxml). Each imports its library
inside the extractor function, so importing this package stays cheap. ``encoding`` holds the
charset-detecting text decoder."""

from tera_desktop.core.ingest.formats import docx, html, pdf

__all__ = ["docx", "html", "pdf"]
