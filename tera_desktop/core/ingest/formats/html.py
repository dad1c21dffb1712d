"""HTML pages → their main text, split under their h1–h6 heading path.

Built on BeautifulSoup 4 with the lxml parser (lxml is already needed by python-docx). Chosen over
a main-content extractor such as trafilatura because the pages people keep in a personal memory
(saved articles, exported notes, documentation, intranet pages) must lose no content: rules on the
page's own structure (drop script/style/nav/header/footer/aside/forms/hidden elements; prefer
``<main>`` or a lone ``<article>``) keep every paragraph of the body, while article-extraction
heuristics tuned for news sites can drop lists, tables and short pages. It also keeps the heading
structure for section paths, and adds two small, well-kept packages instead of a dozen.

Bytes are decoded as browsers do: a BOM, else the page's declared charset (``<meta charset>``,
``http-equiv`` or an XML declaration, found by BeautifulSoup's EncodingDetector; ISO-8859-1 and
ASCII read as Windows-1252, per the WHATWG Encoding standard), else UTF-8, else detection
(``formats.encoding``: charset-normalizer, preferring Windows-1252 where it has no evidence).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import IngestError
from tera_desktop.core.ingest.extractors import Extracted, Section, register
from tera_desktop.core.ingest.formats.encoding import detect_encoding

# Never text a reader sees. (Not <form>: ASP.NET pages wrap their whole body in one.)
_DROP_ALWAYS = (
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "canvas",
    "audio",
    "video",
    "map",
    "button",
    "select",
    "input",
    "textarea",
    "dialog",
    "nav",
    "aside",
)
# Page chrome: dropped unless inside <main> or <article> (an article's own header holds its title).
_CHROME_TAGS = ("header", "footer")
_CHROME_ROLES = {
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "menu",
    "menubar",
}
# id/class names of page chrome in pages without semantic tags (used on the <body> fallback only).
_CHROME_NAMES = re.compile(
    r"^(?:nav|navbar|navigation|menu|main-?menu|site-?nav|sidebar|side-?bar|breadcrumbs?|"
    r"site-?header|site-?footer|page-?header|page-?footer|header|footer|masthead|"
    r"cookie[\w-]*|skip-?link|share|social|related|advert\w*|ads?)$",
    re.I,
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p", "div", "section", "article", "main", "blockquote", "li", "ul", "ol", "dl", "dt", "dd",
    "figure", "figcaption", "address", "details", "summary", "hr", "caption", "center",
    "fieldset", "legend", "body", "html", "header", "footer",
}  # fmt: skip
_PARAGRAPHS = {"p", "blockquote", "ul", "ol", "dl", "figure", "pre", "table", "hr", "details"}
_SPACE = re.compile(r"[ \t\f\v\r\n\u00a0\u200b]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_DEPTH = 400  # deeper nesting is flattened into its text


@register(".html", ".htm", ".xhtml", ".shtml")
def extract_html(path: Path, data: bytes) -> Extracted:
    if not data.strip():
        raise IngestError("The file is empty.")
    try:
        title, sections = _extract(data)
    except IngestError:
        raise
    except RecursionError:
        raise IngestError("This web page nests too deeply for Tera to read it.") from None
    except MemoryError:
        raise IngestError("This web page needs more memory than is available to read it.") from None
    except Exception as exc:  # one broken page must not stop a folder's ingestion
        raise IngestError(f"This web page cannot be read ({type(exc).__name__}).") from None
    if not sections:
        raise IngestError("This web page holds no text (only scripts, styles or navigation).")
    return Extracted(title=title or path.name, sections=sections)


def _extract(data: bytes) -> tuple[str, list[Section]]:
    from bs4 import BeautifulSoup  # lazy: keeps `import tera_desktop.core` light

    _quiet_bs4()
    soup = BeautifulSoup(decode_html(data), "lxml")
    title = _title(soup)
    _prune(soup, lambda tag, _inside: tag.name in _DROP_ALWAYS or _is_hidden(tag), False)
    root = _main_element(soup)
    by_name = root.name in ("body", "html", "[document]")  # no <main>/<article> to go by
    _prune(root, lambda tag, inside: _is_chrome(tag, inside, by_name), not by_name)
    walker = _Walker()
    walker.walk(root)
    sections = walker.finish()
    if not title:
        title = next((s.heading.split(" > ")[0] for s in sections if s.heading), "")
    return title, sections


@functools.cache
def _quiet_bs4() -> None:
    """BeautifulSoup warns (to stderr) about a page that is just a URL or file name, or that is
    XHTML; both are fine here. Filtered by category, once."""
    from bs4 import MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

    warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
    warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)


def _prune(root: Any, drop: Callable[[Any, bool], bool], in_content: bool) -> None:
    """Decompose the elements under ``root`` that ``drop(tag, inside_main_or_article)`` selects;
    iterative and never descending into what it drops (linear, however deep the page nests)."""
    from bs4 import Tag

    todo: list[tuple[Any, bool]] = [(root, in_content)]
    while todo:
        node, inside = todo.pop()
        for child in list(node.contents):
            if not isinstance(child, Tag):
                continue
            if drop(child, inside):
                child.decompose()
            else:
                todo.append((child, inside or _is_content(child)))


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# Declared labels → the superset codec browsers really use (WHATWG Encoding standard).
_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "cp819"}
_SUPERSETS = {
    "gb2312": "gbk",
    "gb_2312-80": "gbk",
    "x-gbk": "gbk",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
}


def decode_html(data: bytes) -> str:
    from bs4.dammit import EncodingDetector

    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    if declared:
        declared = declared.strip().lower()
        if declared in _AS_CP1252:
            declared = "cp1252"
        elif declared in _SUPERSETS:
            declared = _SUPERSETS[declared]
        elif declared.startswith("utf-16") or declared.startswith("utf-32"):
            declared = "utf-8"
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown declaration: fall through to detection
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return data.decode(detect_encoding(data) or "cp1252", errors="replace")


def _text(node: Any) -> str:
    return _CONTROL.sub("", _SPACE.sub(" ", node.get_text(" "))).strip()


def _title(soup: Any) -> str:
    tag = soup.find("title")
    title = _text(tag) if tag is not None else ""
    if not title:
        og = soup.find("meta", attrs={"property": "og:title"})
        title = _SPACE.sub(" ", str(og.get("content") or "")).strip() if og is not None else ""
    return title[:300]


def _is_hidden(tag: Any) -> bool:
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    style = str(tag.get("style", "")).replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _is_content(tag: Any) -> bool:
    return tag.name in ("main", "article") or str(tag.get("role", "")).lower() == "main"


def _main_element(soup: Any) -> Any:
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    if main is not None and _text(main):
        return main
    articles = soup.find_all("article")
    if len(articles) == 1 and _text(articles[0]):
        return articles[0]
    return soup.body or soup


def _is_chrome(tag: Any, inside_content: bool, by_name: bool) -> bool:
    if str(tag.get("role", "")).lower() in _CHROME_ROLES:
        return True
    if tag.name in _CHROME_TAGS and not inside_content:
        return True
    return by_name and tag.name in ("div", "ul", "section", "span", "p") and _chrome_name(tag)


def _chrome_name(tag: Any) -> bool:
    names = [str(tag.get("id", ""))]
    classes = tag.get("class") or []
    names.extend(classes if isinstance(classes, list) else str(classes).split())
    return any(_CHROME_NAMES.match(n) for n in names if n)


class _Walker:
    """Document-order text with paragraph breaks; a heading closes the section before it."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.lines: list[str] = []  # finished lines of the current section
        self.line: list[str] = []  # inline text of the line being built

    def walk(self, root: Any) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        # Iterative (no recursion limit on deep pages): (node, depth, closing?) on a stack.
        todo: list[tuple[Any, int, bool]] = [(root, 0, False)]
        while todo:
            node, depth, closing = todo.pop()
            if closing:
                self.break_line(paragraph=node.name in _PARAGRAPHS)
                continue
            if isinstance(node, NavigableString):
                if not isinstance(node, PreformattedString):  # comments, CDATA, doctype
                    self.line.append(str(node))
                continue
            if not isinstance(node, Tag):
                continue
            name = node.name
            if name in _HEADINGS:
                self.heading(_HEADINGS[name], _text(node))
            elif name == "br":
                self.break_line()
            elif name == "table":
                self.table(node)
            elif name == "pre":
                self.break_line(paragraph=True)
                self.lines.append(_CONTROL.sub("", node.get_text()).strip("\n"))
                self.break_line(paragraph=True)
            elif depth >= MAX_DEPTH:
                self.line.append(" " + node.get_text(" ") + " ")
            else:
                block = name in _BLOCKS or name in _PARAGRAPHS
                if block:
                    self.break_line(paragraph=name in _PARAGRAPHS)
                    todo.append((node, depth, True))
                if name == "li":
                    self.line.append("- ")
                todo.extend((child, depth + 1, False) for child in reversed(node.contents))

    def break_line(self, *, paragraph: bool = False) -> None:
        text = _CONTROL.sub("", _SPACE.sub(" ", "".join(self.line))).strip()
        self.line.clear()
        if text and text != "-":
            self.lines.append(text)
        if paragraph and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def table(self, node: Any) -> None:
        self.break_line(paragraph=True)
        caption = node.find("caption")
        if caption is not None and caption.find_parent("table") is node and _text(caption):
            self.lines.append(_text(caption))
        for row in node.find_all("tr"):
            if row.find_parent("table") is not node:
                continue  # a nested table's rows are part of its cell's text
            cells = [_text(c) for c in row.find_all(("td", "th")) if c.find_parent("tr") is row]
            if any(cells):
                self.lines.append(" | ".join(cells))
        self.break_line(paragraph=True)

    def heading(self, level: int, text: str) -> None:
        self.flush()
        if not text:
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text[:200]))

    def flush(self) -> None:
        self.break_line()
        body = re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip()
        if body:
            self.sections.append(Section(text=body, heading=" > ".join(h for _, h in self.stack)))
        self.lines.clear()

    def finish(self) -> list[Section]:
        self.flush()
        if not self.sections and self.stack:
            self.sections.append(Section(text=" > ".join(h for _, h in self.stack)))
        return self.sections
