"""Word documents (.docx) → sections under their heading path, with python-docx.

Paragraphs and tables come in document order; a paragraph styled "Heading n" (or "Title") starts a
new section, and the headings above it form its path ("Title > Chapter > Section"), as in Markdown.
Table rows become lines of ``cell | cell | cell``. The zip container is checked first (declared
sizes and compression ratio), so a zip bomb is refused before python-docx inflates anything.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import IngestError
from tera_desktop.core.ingest.extractors import Extracted, Section, damaged_error, register
from tera_desktop.core.ingest.safezip import ZipLimitError, inflate_all
from tera_desktop.core.units import MB, format_mb

MAX_UNCOMPRESSED = 200 * MB  # what a .docx may inflate to, all members together
MAX_RATIO = 100  # inflated / compressed, for archives that inflate past RATIO_FLOOR
RATIO_FLOOR = 10 * MB  # small archives may compress very well (repetitive XML)
MAX_MEMBERS = 10_000
MAX_TABLE_DEPTH = 8

_HEADING = re.compile(r"^heading\s*([1-9])$", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary .doc (and other Office 97 files)

DAMAGED = "This Word document is damaged or not a .docx file, and Tera cannot read it."
DAMAGED_HINT = "Open it in Word or LibreOffice and save it again as .docx, then add that."


def _damaged(detail: str = "") -> IngestError:
    return damaged_error(DAMAGED, DAMAGED_HINT, detail)


def check_zip(data: bytes) -> None:
    """Refuse archives that are not a Word document or that would inflate to too much."""
    if data.startswith(_OLE_MAGIC):
        raise IngestError(
            "This is an old-style Word file (.doc saved as .docx?); Tera reads .docx only.",
            "Open it in Word or LibreOffice and save it as .docx, then add that.",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _damaged("it is not a zip archive") from None
    if len(infos) > MAX_MEMBERS:
        raise IngestError(
            f"This .docx holds {len(infos):,} parts; Tera refuses more than "
            f"{MAX_MEMBERS:,} (it may be a zip bomb)."
        )
    inflated = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if inflated > MAX_UNCOMPRESSED:
        raise IngestError(
            f"This .docx would inflate to {format_mb(inflated)} (the limit is "
            f"{format_mb(MAX_UNCOMPRESSED)}): it may be a zip bomb, and Tera will not open it."
        )
    if inflated > RATIO_FLOOR and inflated > MAX_RATIO * max(packed, 1):
        raise IngestError(
            f"This .docx is compressed {inflated / max(packed, 1):,.0f} to 1 (normal documents "
            f"are under {MAX_RATIO} to 1): it may be a zip bomb, and Tera will not open it."
        )
    if not any(i.filename == "word/document.xml" for i in infos):
        raise _damaged("it has no word/document.xml; is it another kind of Office file?")


@register(".docx")
def extract_docx(path: Path, data: bytes) -> Extracted:
    if not data.strip():
        raise IngestError("The file is empty.")
    check_zip(data)
    try:
        # The declared sizes passed; now inflate for real under the same caps, in small steps, and
        # give python-docx only what came out (a directory that understates sizes cannot make it
        # inflate more).
        data = inflate_all(data, MAX_UNCOMPRESSED, MAX_RATIO, RATIO_FLOOR)
    except ZipLimitError as exc:
        raise IngestError(
            f"This .docx inflates to more than it declares ({exc}): it may be a zip bomb, and "
            "Tera will not open it."
        ) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise _damaged(str(exc) or type(exc).__name__) from None
    except NotImplementedError:
        raise _damaged("it uses a compression method Tera cannot read") from None
    try:
        return _extract(path, data)
    except IngestError:
        raise
    except RecursionError:
        raise _damaged("its structure nests too deeply") from None
    except MemoryError:
        raise IngestError("This document needs more memory than is available to read it.") from None
    except Exception as exc:  # python-docx/lxml/zipfile raise many types on broken files
        raise _damaged(type(exc).__name__) from None


def _extract(path: Path, data: bytes) -> Extracted:
    import docx  # lazy: keeps `import tera_desktop.core` light
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    blocks: list[str] = []
    first_heading = ""

    def flush() -> None:
        body = "\n\n".join(blocks).strip()
        if body:
            sections.append(Section(text=body, heading=" > ".join(h for _, h in stack)))
        blocks.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = _clean(item.text)
            if not text:
                continue
            level = _heading_level(item)
            if level is None:
                blocks.append(f"- {text}" if _is_list_item(item) else text)
                continue
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text[:200]))
            first_heading = first_heading or text
        elif isinstance(item, Table):
            rows = _table_rows(item, 0)
            if rows:
                blocks.append("\n".join(rows))
    flush()
    if not sections and stack:  # only headings: keep them as the text
        sections = [Section(text=" > ".join(h for _, h in stack))]
    title = _core_title(document) or first_heading[:300] or path.name
    return Extracted(title=title, sections=sections)


def _clean(text: str) -> str:
    return _CONTROL.sub("", text).strip()


def _style_name(paragraph: Any) -> str:
    try:
        style = paragraph.style
        return str(style.name or "") if style is not None else ""
    except Exception:  # a dangling style reference: treat as body text
        return ""


def _heading_level(paragraph: Any) -> int | None:
    """1..9 for "Heading n", 0 for "Title" (the document's title sits above its chapters)."""
    name = _style_name(paragraph)
    if name.lower() == "title":
        return 0
    match = _HEADING.match(name)
    if match:
        return int(match.group(1))
    # Custom heading styles carry an outline level (0-based) in the paragraph properties.
    ppr = paragraph._p.pPr
    outline = ppr.find(_qn("w:outlineLvl")) if ppr is not None else None
    if outline is not None:
        try:
            level = int(outline.get(_qn("w:val")))
        except (TypeError, ValueError):
            return None
        return level + 1 if 0 <= level < 9 else None
    return None


def _is_list_item(paragraph: Any) -> bool:
    if _style_name(paragraph).lower().startswith("list"):
        return True
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return str(qn(tag))


def _table_rows(table: Any, depth: int) -> list[str]:
    rows: list[str] = []
    if depth > MAX_TABLE_DEPTH:
        return rows
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
                continue
            seen.add(id(cell._tc))
            parts = [_clean(p.text) for p in cell.paragraphs]
            for inner in cell.tables:
                parts.extend(_table_rows(inner, depth + 1))
            cells.append(" ".join(p for p in parts if p))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _core_title(document: Any) -> str:
    try:
        title = document.core_properties.title or ""
    except Exception:  # docProps/core.xml is optional and sometimes broken
        return ""
    return " ".join(_clean(str(title)).split())[:300]
