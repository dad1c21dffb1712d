"""PDF → one section per page (``meta={"page": n}``, 1-based), with pypdf.

pypdf is pure Python (no native code to package), actively maintained, and fixes the
denial-of-service bugs that fuzzers find in PDF parsers release after release: keep its floor
recent. Text comes from the text layer only; scanned pages (images) have none, and Tera says so
instead of storing nothing.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import Cancelled, IngestError
from tera_desktop.core.ingest.extractors import Extracted, Section, damaged_error, register

# pypdf logs a warning for every repair it makes to a damaged file; with no handler configured
# Python prints those to stderr (the CLI's output). Tera's own log setup may still route them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# A word broken across lines with a hyphen ("exam-\nple"): joined when both sides are lower case.
_HYPHENATED = re.compile(r"(?<=[a-zà-ÿ])-\n(?=[a-zà-ÿ])")
_JUNK_TITLES = {"untitled", "title", "document", "microsoft word"}

DAMAGED = "This PDF is damaged or not a PDF, and Tera cannot read it."
DAMAGED_HINT = "Open it in a PDF viewer and save or print it to a new PDF, then add that."


def _damaged(detail: str = "") -> IngestError:
    return damaged_error(DAMAGED, DAMAGED_HINT, detail)


def clean_page_text(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _HYPHENATED.sub("", text)
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@register(".pdf")
def extract_pdf(path: Path, data: bytes) -> Extracted:
    if not data.strip():
        raise IngestError("The file is empty.")
    if b"%PDF-" not in data[:1024]:
        raise _damaged("it does not start like a PDF file")
    try:
        return _extract(path, data)
    except (IngestError, Cancelled):  # Cancelled: Stop while its scanned pages were read
        raise
    except RecursionError:
        raise _damaged("its structure nests too deeply") from None
    except MemoryError:
        raise IngestError("This PDF needs more memory than is available to read it.") from None
    except Exception as exc:  # pypdf raises many types on broken files; one bad file must not
        raise _damaged(type(exc).__name__) from None  # stop a whole folder's ingestion


def _extract(path: Path, data: bytes) -> Extracted:
    from pypdf import PdfReader  # lazy: keeps `import tera_desktop.core` light
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise _damaged(str(exc) or type(exc).__name__) from None
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")  # many PDFs are "encrypted" with an empty user password
        except DependencyError:
            raise IngestError(
                "This PDF uses AES encryption and Tera's PDF reader lacks its 'cryptography' "
                "component.",
                "Reinstall Tera, or print the PDF to a new PDF and add that.",
            ) from None
        except (PdfReadError, NotImplementedError, ValueError, KeyError) as exc:
            raise _damaged(f"its encryption cannot be read: {exc}") from None
        if not ok:
            raise IngestError(
                "This PDF is password-protected, so Tera cannot read it.",
                "Open it with its password and save an unprotected copy, then add that.",
            )
    try:
        n_pages = len(reader.pages)
    except FileNotDecryptedError:
        raise IngestError("This PDF is password-protected, so Tera cannot read it.") from None
    if n_pages == 0:
        raise _damaged("it has no pages")
    sections: list[Section] = []
    failed = 0
    scanned: list[int] = []  # pages without a text layer: read with OCR, when Tera has it
    for index in range(n_pages):
        try:
            text = reader.pages[index].extract_text()
        except (RecursionError, MemoryError):
            raise
        except Exception:  # one broken page: keep the others
            failed += 1
            continue
        text = clean_page_text(text or "")
        if text:
            sections.append(Section(text=text, meta={"page": index + 1}))
        else:
            scanned.append(index)
    if scanned:
        from tera_desktop.core.ingest.formats import ocr

        if ocr.ocr_available():
            sections.extend(ocr.ocr_pdf_pages(reader, scanned))
            sections.sort(key=lambda section: int(section.meta["page"]))
    if not sections:
        if failed == n_pages:
            raise _damaged("no page could be read")
        if not ocr.ocr_available():
            raise IngestError(
                "This PDF has no text layer: it is probably scanned pages (images), and Tera's "
                "OCR component, which reads text in images, is not installed.",
                ocr.OCR_HINT,
            )
        raise IngestError(
            "This PDF has no text layer, and no text was found in its images.",
            "If it is a scan, check that its pages are readable; or run it through an OCR tool "
            "(for example OCRmyPDF) and add the result.",
        )
    return Extracted(
        title=_title(reader) or path.name,
        sections=sections,
        meta={"pages": n_pages, "pages_unreadable": failed} if failed else {"pages": n_pages},
    )


def _title(reader: Any) -> str:
    try:
        meta = reader.metadata
        title = str(meta.title or "") if meta is not None else ""
    except Exception:  # metadata is optional; a broken /Info must not lose the text
        return ""
    title = " ".join(_CONTROL.sub("", title).split())
    if title.lower().startswith("microsoft word - "):
        title = title[len("microsoft word - ") :]
    return "" if title.lower() in _JUNK_TITLES else title[:300]
