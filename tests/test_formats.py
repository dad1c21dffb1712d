"""Real document formats: PDF, DOCX, HTML and charset detection, each file built by the test.

Text goes through the real pipeline (``Engine.upload`` with the tiny embedding model) so what is
checked is what gets stored: chunk texts, heading paths, page numbers in ``Hit.extra``.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import docx  # python-docx
import fpdf  # fpdf2, a test-only dependency
import pytest

import tera_desktop.core.ingest.formats  # noqa: F401  (registers .pdf/.docx/.html)
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import IngestError
from tera_desktop.core.ingest import FAILED, FileResult, extractor_for
from tera_desktop.core.ingest import extractors as extractors_module
from tera_desktop.core.ingest.formats.docx import extract_docx
from tera_desktop.core.ingest.formats.encoding import decode_bytes, detect_encoding
from tera_desktop.core.ingest.formats.html import extract_html
from tera_desktop.core.ingest.formats.pdf import extract_pdf
from tera_desktop.core.prompts import to_source
from tera_desktop.core.store import Hit

# ---- builders ------------------------------------------------------------------------------------


def page_text(n: int) -> str:
    """Distinct, searchable text for page ``n`` (words the tiny embedding model knows)."""
    topics = ["the gate code", "my cat", "the paris hotel", "the doctor appointment"]
    topic = topics[(n - 1) % len(topics)]
    return f"Page {n}. This page is about {topic}. " + f"We talk about {topic} here. " * 8


def make_pdf(pages: list[str], title: str | None = "Quarterly Report") -> bytes:
    pdf = fpdf.FPDF()
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        if text:
            pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def make_scanned_pdf() -> bytes:
    """Pages that hold only a drawing (like a scan: an image, no text layer)."""
    pdf = fpdf.FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.rect(20, 20, 100, 150, style="F")
    return bytes(pdf.output())


def encrypt_pdf(data: bytes, user_password: str, algorithm: str = "RC4-128") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(*, title: str | None = "Travel Notes") -> bytes:
    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_paragraph("An opening line before any heading.")
    document.add_heading("Trips", level=1)
    document.add_paragraph("We plan two trips this summer.")
    document.add_heading("Paris", level=2)
    document.add_paragraph("The hotel in Paris is near the river.")
    document.add_paragraph("Breakfast is at eight.", style="List Bullet")
    document.add_heading("Museums", level=3)
    document.add_paragraph("The Louvre opens at nine.")
    document.add_heading("Rome", level=2)
    document.add_paragraph("Rome has the Colosseum.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [("City", "Hotel", "Nights"), ("Paris", "Le Petit", "3"), ("Rome", "Roma Inn", "2")]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Budget", level=1)
    document.add_paragraph("The budget is two thousand euros.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


PAGE = """<!doctype html>
<html><head><meta charset="{charset}"><title>Garden Diary</title>
<style>.nav {{ color: red }} body {{ font: 12px serif }}</style>
<script>var tracking = "script noise"; console.log("more script noise");</script>
</head><body>
<header class="site"><a href="/">Home</a> <a href="/about">About us noise</a></header>
<nav><ul><li>Menu noise one</li><li>Menu noise two</li></ul></nav>
<aside>Sidebar noise: popular posts</aside>
<main>
  <h1>Spring planting</h1>
  <p>The tomatoes go in after the last frost. Crème fraîche for the café.</p>
  <h2>Roses</h2>
  <p>Prune the roses in <b>March</b>,
     before new growth.</p>
  <ul><li>Feed them monthly</li><li>Water at dawn</li></ul>
  <table><tr><th>Plant</th><th>Month</th></tr><tr><td>Roses</td><td>March</td></tr></table>
  <h3>Pests</h3><p>Aphids love new shoots.</p>
  <h2>Lawn</h2><p>Mow the lawn weekly in summer.</p>
  <div hidden>Hidden noise</div><!-- comment noise -->
</main>
<footer>Copyright 2024 footer noise</footer>
</body></html>"""

NOISE = ("noise", "tracking", "font:", "Menu", "Copyright")


def upload(engine: Engine, *paths: Path) -> dict[str, FileResult]:
    events = list(engine.upload(list(paths)))
    return {Path(e.path).name: e for e in events if isinstance(e, FileResult)}


def stored(engine: Engine, result: FileResult) -> list[Hit]:
    assert result.ok, result.reason
    return engine.store.chunks_of(result.doc_id, 0, 999)


# ---- PDF -----------------------------------------------------------------------------------------


def test_pdf_one_section_per_page_with_page_numbers(tmp_path: Path) -> None:
    pages = [page_text(n) for n in (1, 2, 3)]
    path = tmp_path / "report.pdf"
    extracted = extract_pdf(path, make_pdf(pages))
    assert extracted.title == "Quarterly Report"
    assert [s.meta for s in extracted.sections] == [{"page": 1}, {"page": 2}, {"page": 3}]
    for section, text in zip(extracted.sections, pages, strict=True):
        assert " ".join(section.text.split()) == " ".join(text.split())


def test_pdf_title_falls_back_to_the_file_name_and_blank_pages_are_skipped(tmp_path: Path) -> None:
    extracted = extract_pdf(
        tmp_path / "notes.pdf", make_pdf([page_text(1), "", page_text(3)], title=None)
    )
    assert extracted.title == "notes.pdf"
    assert [s.meta["page"] for s in extracted.sections] == [1, 3]


def test_pdf_pages_reach_the_store_search_and_source_labels(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf([page_text(n) for n in (1, 2, 3, 4)]))
    result = upload(engine, path)["report.pdf"]
    hits = stored(engine, result)
    assert result.chunks == len(hits) >= 4
    assert {h.extra["page"] for h in hits} == {1, 2, 3, 4}
    for hit in hits:  # each chunk holds only its own page's text
        assert f"Page {hit.extra['page']}." in hit.text
        assert hit.extra["title"] == "Quarterly Report"
    top = engine.search("gate code", k=1, kind="document")[0]
    assert top.extra["page"] == 1 and "gate code" in top.text
    assert to_source(1, top).label == "report.pdf (p. 1)"
    cat = engine.search("cat", k=1, kind="document")[0]
    assert cat.extra["page"] == 2


def test_pdf_long_page_is_chunked_and_every_chunk_keeps_its_page(
    engine: Engine, tmp_path: Path
) -> None:
    long_page = " ".join(f"Sentence {i} is about the garden and the river." for i in range(400))
    path = tmp_path / "book.pdf"
    path.write_bytes(make_pdf([page_text(1), long_page]))
    hits = stored(engine, upload(engine, path)["book.pdf"])
    on_page_2 = [h for h in hits if h.extra["page"] == 2]
    assert len(on_page_2) > 3
    assert [h.chunk_index for h in hits] == list(range(len(hits)))


def test_pdf_with_an_empty_user_password_is_read(tmp_path: Path) -> None:
    data = encrypt_pdf(make_pdf([page_text(1)]), user_password="")
    assert "gate code" in extract_pdf(tmp_path / "locked.pdf", data).sections[0].text


def test_aes_pdf_with_an_empty_user_password_is_read(tmp_path: Path) -> None:
    data = encrypt_pdf(make_pdf([page_text(1)]), user_password="", algorithm="AES-256")
    assert "gate code" in extract_pdf(tmp_path / "locked.pdf", data).sections[0].text


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_password_protected_pdf_is_refused(tmp_path: Path, algorithm: str) -> None:
    data = encrypt_pdf(make_pdf([page_text(1)]), user_password="secret", algorithm=algorithm)
    with pytest.raises(IngestError, match="password-protected"):
        extract_pdf(tmp_path / "secret.pdf", data)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: d[:400] + os.urandom(2000), id="garbage-body"),
        pytest.param(lambda d: b"%PDF-1.7\n" + b"\x00" * 3000, id="header-only"),
        pytest.param(lambda d: b"This is a text file with a .pdf name.\n" * 20, id="not-a-pdf"),
        pytest.param(lambda d: os.urandom(4096), id="random-bytes"),
    ],
)
def test_malformed_pdf_is_refused_with_a_reason(tmp_path: Path, mangle: object) -> None:
    data = mangle(make_pdf([page_text(1), page_text(2)]))  # type: ignore[operator]
    with pytest.raises(IngestError, match="damaged or not a PDF"):
        extract_pdf(tmp_path / "broken.pdf", data)


def test_scanned_pdf_without_text_says_so(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"no text layer"):
        extract_pdf(tmp_path / "scan.pdf", make_scanned_pdf())


def test_pdf_recursion_error_in_pypdf_becomes_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypdf

    def explode(*_: object, **__: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pypdf, "PdfReader", explode)
    with pytest.raises(IngestError, match="nests too deeply"):
        extract_pdf(tmp_path / "deep.pdf", make_pdf([page_text(1)]))


def test_one_unreadable_page_does_not_lose_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PageObject

    original = PageObject.extract_text

    def flaky(self: PageObject, *args: object, **kwargs: object) -> str:
        if "Page 2." in original(self):
            raise KeyError("/Font")
        return original(self)

    monkeypatch.setattr(PageObject, "extract_text", flaky)
    extracted = extract_pdf(tmp_path / "r.pdf", make_pdf([page_text(n) for n in (1, 2, 3)]))
    assert [s.meta["page"] for s in extracted.sections] == [1, 3]
    assert extracted.meta["pages_unreadable"] == 1


# ---- DOCX ----------------------------------------------------------------------------------------


def test_docx_paragraphs_headings_and_tables(tmp_path: Path) -> None:
    extracted = extract_docx(tmp_path / "travel.docx", make_docx())
    assert extracted.title == "Travel Notes"
    by_heading = {s.heading: s.text for s in extracted.sections}
    assert list(by_heading) == [
        "",
        "Trips",
        "Trips > Paris",
        "Trips > Paris > Museums",
        "Trips > Rome",
        "Budget",
    ]
    assert by_heading[""] == "An opening line before any heading."
    assert by_heading["Trips > Paris"] == (
        "The hotel in Paris is near the river.\n\n- Breakfast is at eight."
    )
    assert by_heading["Trips > Rome"] == (
        "Rome has the Colosseum.\n\n"
        "City | Hotel | Nights\nParis | Le Petit | 3\nRome | Roma Inn | 2"
    )


def test_docx_title_falls_back_to_the_first_heading_then_the_file_name(tmp_path: Path) -> None:
    assert extract_docx(tmp_path / "t.docx", make_docx(title=None)).title == "Trips"
    document = docx.Document()
    document.add_paragraph("Just a line about the cat.")
    out = io.BytesIO()
    document.save(out)
    assert extract_docx(tmp_path / "plain.docx", out.getvalue()).title == "plain.docx"


def test_docx_merged_cells_are_listed_once(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Header across"
    for c, value in enumerate(("a", "b", "c")):
        table.cell(1, c).text = value
    out = io.BytesIO()
    document.save(out)
    extracted = extract_docx(tmp_path / "merged.docx", out.getvalue())
    assert extracted.sections[0].text == "Header across\na | b | c"


def test_docx_heading_paths_reach_the_store(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "travel.docx"
    path.write_bytes(make_docx())
    hits = stored(engine, upload(engine, path)["travel.docx"])
    headings = [h.extra.get("heading", "") for h in hits]
    assert "Trips > Paris > Museums" in headings
    museum = hits[headings.index("Trips > Paris > Museums")]
    assert museum.text.startswith("Trips > Paris > Museums") and "Louvre" in museum.text
    assert all(h.extra["title"] == "Travel Notes" for h in hits)


def bomb_docx(member_mb: int) -> bytes:
    """A .docx-shaped zip (a real document.xml) plus one huge, highly compressible member."""
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_docx())) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in src.infolist():
            out.writestr(info, src.read(info))
        with out.open("word/media/padding.xml", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(member_mb):
                member.write(zeros)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("member_mb", "reason"), [(210, "inflate to 2\\d\\d MB"), (20, "compressed .* to 1")]
)
def test_docx_zip_bomb_is_refused_before_python_docx_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, member_mb: int, reason: str
) -> None:
    data = bomb_docx(member_mb)
    assert len(data) < 1_000_000

    def must_not_open(*_: object) -> None:
        raise AssertionError("python-docx opened a zip bomb")

    monkeypatch.setattr(docx, "Document", must_not_open)
    with pytest.raises(IngestError, match=f"{reason}.*zip bomb"):
        extract_docx(tmp_path / "bomb.docx", data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"not a zip at all, just text" * 10, "damaged or not a .docx", id="not-zip"),
        pytest.param(os.urandom(5000), "damaged or not a .docx", id="random"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old-style Word", id="doc"),
        pytest.param(None, "damaged or not a .docx", id="truncated"),
        pytest.param("no-document", "no word/document.xml", id="other-zip"),
        pytest.param("bad-xml", "damaged or not a .docx", id="bad-xml"),
    ],
)
def test_corrupt_docx_is_refused_with_a_reason(tmp_path: Path, data: object, reason: str) -> None:
    good = make_docx()
    if data is None:
        data = good[: len(good) // 2]
    elif data in ("no-document", "bad-xml"):
        buf = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(buf, "w") as out:
            for info in src.infolist():
                if info.filename != "word/document.xml":
                    out.writestr(info, src.read(info))
                elif data == "bad-xml":
                    out.writestr(info, b"<w:document><unclosed>")
        data = buf.getvalue()
    assert isinstance(data, bytes)
    with pytest.raises(IngestError, match=reason):
        extract_docx(tmp_path / "broken.docx", data)


# ---- HTML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["utf-8", "windows-1252", "iso-8859-1"])
def test_html_main_text_without_noise_and_with_heading_paths(tmp_path: Path, charset: str) -> None:
    encoding = "utf-8" if charset == "utf-8" else "cp1252"
    data = PAGE.format(charset=charset).encode(encoding)
    extracted = extract_html(tmp_path / "garden.html", data)
    assert extracted.title == "Garden Diary"
    by_heading = {s.heading: s.text for s in extracted.sections}
    assert list(by_heading) == [
        "Spring planting",
        "Spring planting > Roses",
        "Spring planting > Roses > Pests",
        "Spring planting > Lawn",
    ]
    assert by_heading["Spring planting"] == (
        "The tomatoes go in after the last frost. Crème fraîche for the café."
    )
    assert by_heading["Spring planting > Roses"] == (
        "Prune the roses in March, before new growth.\n\n- Feed them monthly\n- Water at dawn"
        "\n\nPlant | Month\nRoses | March"
    )
    everything = " ".join(s.text for s in extracted.sections)
    assert not [n for n in NOISE if n in everything]


def test_html_charset_from_detection_when_undeclared(tmp_path: Path) -> None:
    page = "<html><body><p>Ceci est un café crème, très naïf — “vraiment”.</p></body></html>"
    extracted = extract_html(tmp_path / "p.html", page.encode("cp1252"))
    assert extracted.sections[0].text == "Ceci est un café crème, très naïf — “vraiment”."
    assert extracted.title == "p.html"
    russian = (
        "<html><body><p>" + "Привет, это страница на русском языке. " * 4 + "</p></body></html>"
    )
    extracted = extract_html(tmp_path / "ru.html", russian.encode("cp1251"))
    assert extracted.sections[0].text.startswith("Привет, это страница")


def test_html_wrong_declared_charset_falls_back_to_detection(tmp_path: Path) -> None:
    page = '<html><head><meta charset="utf-8"></head><body><p>naïve café crème</p></body></html>'
    assert extract_html(tmp_path / "p.html", page.encode("cp1252")).sections[0].text == (
        "naïve café crème"
    )


def test_html_without_semantic_tags_drops_chrome_by_class(tmp_path: Path) -> None:
    page = """<html><head><title>Old page</title></head><body>
    <div id="navbar"><a href="/">Home noise</a></div>
    <div class="sidebar left">Sidebar noise</div>
    <div id="content"><h1>The gate</h1><p>The gate code is 4512.</p></div>
    <div class="cookie-banner">We use cookies noise</div>
    <div id="footer">Footer noise</div></body></html>"""
    extracted = extract_html(tmp_path / "old.html", page.encode())
    assert [(s.heading, s.text) for s in extracted.sections] == [
        ("The gate", "The gate code is 4512.")
    ]


def test_html_whole_page_inside_a_form_is_kept(tmp_path: Path) -> None:
    page = (
        "<html><body><form id='aspnetForm'><p>The gate code is 4512.</p>"
        "<input value='x'></form></body></html>"
    )
    assert extract_html(tmp_path / "asp.html", page.encode()).sections[0].text == (
        "The gate code is 4512."
    )


def test_html_deep_nesting_and_script_only_pages(tmp_path: Path) -> None:
    deep = "<html><body>" + "<div>" * 5000 + "<p>deep text</p>" + "</div>" * 5000 + "</body></html>"
    assert "deep text" in extract_html(tmp_path / "deep.html", deep.encode()).sections[0].text
    with pytest.raises(IngestError, match="holds no text"):
        extract_html(
            tmp_path / "app.html",
            b"<html><head><script>app()</script></head><body><nav>x</nav></body></html>",
        )


def test_html_sections_reach_the_store(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "garden.html"
    path.write_bytes(PAGE.format(charset="utf-8").encode())
    hits = stored(engine, upload(engine, path)["garden.html"])
    assert {h.extra.get("heading") for h in hits} == {
        "Spring planting",
        "Spring planting > Roses",
        "Spring planting > Roses > Pests",
        "Spring planting > Lawn",
    }
    assert all(h.extra["title"] == "Garden Diary" for h in hits)
    assert not [h for h in hits for n in NOISE if n in h.text]


# ---- text encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("héllo wörld, plain UTF-8", "utf-8"),
        ("with a BOM: ünïcode", "utf-8-sig"),
        ("UTF-16 with a BOM: ünïcode and 日本語", "utf-16"),
        ("UTF-16 big-endian: ünïcode", "utf-16"),
        ("café crème, naïve", "cp1252"),
        ("He said “hello” – it’s 5 €. Straße, Grüße", "cp1252"),
        ("Le garçon a mangé à la fête. " * 20, "latin-1"),
        ("Привет, как дела? Это текст на русском языке.", "cp1251"),
        ("Zażółć gęślą jaźń. Łódź jest pięknym miastem w Polsce.", "cp1250"),
        ("これは日本語のテキストです。東京は日本の首都です。" * 2, "shift_jis"),
        ("这是一个中文文本的例子，北京是中国的首都。" * 2, "gbk"),
        ("BOM-less UTF-16: hello world, this is text. " * 4, "utf-16-le"),
    ],
)
def test_decode_bytes_detects_the_encoding(text: str, codec: str) -> None:
    data = text.encode(codec)
    if text.startswith("UTF-16 big"):
        data = b"\xfe\xff" + text.encode("utf-16-be")
    assert decode_bytes(data) == text


@pytest.mark.parametrize(
    ("data", "expected"),  # the cases extractors.decode_text is tested with (drop-in contract)
    [
        ("héllo wörld".encode(), "héllo wörld"),
        ("\ufeffbom text".encode(), "bom text"),
        ("utf16 ünïcode".encode("utf-16"), "utf16 ünïcode"),
        ("café crème, naïve".encode("cp1252"), "café crème, naïve"),
        (b"line1\r\nline2\rline3", "line1\nline2\nline3"),
    ],
)
def test_decode_bytes_matches_decode_text(data: bytes, expected: str) -> None:
    assert decode_bytes(data) == expected == extractors_module.decode_text(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (bytes([1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15]) * 100, "binary"),
        (b"PK\x03\x04" + bytes(range(256)) * 20, "binary"),
        (bytes(range(256)) * 40, "binary"),
    ],
)
def test_decode_bytes_rejects_binary(data: bytes, reason: str) -> None:
    with pytest.raises(IngestError, match=reason):
        decode_bytes(data)


def test_detect_encoding_names_a_python_codec() -> None:
    assert detect_encoding("Привет, как дела? Это текст.".encode("cp1251")) == "cp1251"
    assert detect_encoding(os.urandom(4096)) is None


def test_text_files_in_legacy_encodings_through_the_pipeline(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With decode_bytes hooked in as extractors.decode_text (the one-line change proposed)."""
    monkeypatch.setattr(extractors_module, "decode_text", decode_bytes)
    files = {
        "utf16.txt": ("The gate code is 4512. Ünïcode!", "utf-16"),
        "legacy.txt": ("My cat is blue, café crème.", "cp1252"),
        "russian.md": ("# Заметки\n\nПривет, это текст на русском языке о встрече.", "cp1251"),
    }
    for name, (text, codec) in files.items():
        (tmp_path / name).write_bytes(text.encode(codec))
    results = upload(engine, *(tmp_path / n for n in files))
    texts = {name: stored(engine, r)[0].text for name, r in results.items()}
    assert texts["utf16.txt"] == "The gate code is 4512. Ünïcode!"
    assert texts["legacy.txt"] == "My cat is blue, café crème."
    assert texts["russian.md"] == "Заметки\n\nПривет, это текст на русском языке о встрече."


# ---- a mixed batch -------------------------------------------------------------------------------


def test_batch_with_bad_files_stores_the_good_ones(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(make_pdf([page_text(1), page_text(2)]))
    (folder / "travel.docx").write_bytes(make_docx())
    (folder / "garden.html").write_bytes(PAGE.format(charset="utf-8").encode())
    (folder / "note.txt").write_text("The wifi password is on the fridge.", encoding="utf-8")
    (folder / "secret.pdf").write_bytes(encrypt_pdf(make_pdf([page_text(1)]), "secret"))
    (folder / "broken.pdf").write_bytes(make_pdf([page_text(1)])[:300])
    (folder / "scan.pdf").write_bytes(make_scanned_pdf())
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "bomb.docx").write_bytes(bomb_docx(20))
    results = upload(engine, folder)
    failed = {name: r.reason for name, r in results.items() if r.status == FAILED}
    assert set(failed) == {"secret.pdf", "broken.pdf", "scan.pdf", "broken.docx", "bomb.docx"}
    assert "password-protected" in failed["secret.pdf"]
    assert "damaged or not a PDF" in failed["broken.pdf"]
    assert "no text layer" in failed["scan.pdf"]
    assert "damaged or not a .docx" in failed["broken.docx"]
    assert "zip bomb" in failed["bomb.docx"]
    for name in ("report.pdf", "travel.docx", "garden.html", "note.txt"):
        assert results[name].status == "added" and stored(engine, results[name])
    assert {d.title for d in engine.documents()} == {
        "Quarterly Report",
        "Travel Notes",
        "Garden Diary",
        "note.txt",
    }


def test_registry_routes_the_new_suffixes(tmp_path: Path) -> None:
    for name, fn in [
        ("a.PDF", extract_pdf),
        ("b.docx", extract_docx),
        ("c.htm", extract_html),
        ("d.html", extract_html),
    ]:
        assert extractor_for(tmp_path / name) is fn


def test_importing_core_does_not_import_the_format_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tera_desktop.core.ingest.formats, tera_desktop.core.engine; "
        "print(sorted(m for m in ('pypdf', 'docx', 'bs4', 'lxml', 'charset_normalizer') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
