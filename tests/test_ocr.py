"""Scans and images with real OCR (RapidOCR's PP-OCR models, from its PyPI wheel): text rendered
into images and image-only PDFs (Pillow, fpdf2) is read with its word spaces and found by
keyword and dense search (real all-MiniLM-L6-v2, real Qdrant engine); a mixed PDF keeps its text
pages and its scanned pages."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import fpdf
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import Cancelled, IngestError, UnsupportedFileError
from tera_desktop.core.ingest import FileResult, supported_suffixes
from tera_desktop.core.ingest.formats import ocr
from tera_desktop.core.ingest.formats.ocr import (
    cancel_scope,
    extract_image,
    fix_confusions,
    ocr_image,
)
from tera_desktop.core.ingest.formats.pdf import extract_pdf
from tera_desktop.core.paths import get_paths
from tera_desktop.core.settings import Settings

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
INVOICE = [
    "Invoice INV-2024-0193: total 1,482.50 EUR",
    "Please call Dr. Martin Keller at 555-0142 before noon.",
    "Our new office is at 17 Harbour Street, second floor.",
]
BOILER = [
    "The boiler service contract renews every March with Nordheat.",
    "Meeting notes: budget approved, hiring paused until autumn.",
]
PASSPORT = ["Passport number X4471902 expires on 2031-08-14."]
GARDEN = "Chapter one. The garden shed holds the lawn mower and the hedge trimmer."


def render(lines: list[str], size: int = 30, width: int = 1240) -> Image.Image:
    """A white page with ``lines`` in DejaVu Sans, single spaced."""
    font = ImageFont.truetype(FONT, size) if Path(FONT).exists() else ImageFont.load_default(size)
    height = max(800, int(size * 1.6 * len(lines)) + 200)
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((80, 100 + int(size * 1.6) * i), line, fill="black", font=font)
    return page


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def pdf_of(pages: list[str | Image.Image]) -> bytes:
    """A PDF whose pages are text (a text layer) or an image (a scan, no text layer)."""
    pdf = fpdf.FPDF()
    pdf.set_font("helvetica", size=12)
    for page in pages:
        pdf.add_page()
        if isinstance(page, str):
            pdf.multi_cell(0, 8, page)
        else:
            pdf.image(page, x=0, y=0, w=pdf.w)
    return bytes(pdf.output())


def char_accuracy(got: str, want: str) -> float:
    a, b = " ".join(got.split()), " ".join(want.split())
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1 - prev[-1] / len(b)


# ---- without the engine ------------------------------------------------------------------------


def test_confusions_inside_words_and_numbers_are_fixed() -> None:
    assert fix_confusions("Inv0ice t0tal 0n 2031") == "Invoice total on 2031"
    assert fix_confusions("at l7 Harbour, I0O2") == "at 17 Harbour, 1002"
    assert fix_confusions("X4471902 INV-2024-0193 B2B 4G") == "X4471902 INV-2024-0193 B2B 4G"


def test_image_suffixes_are_registered() -> None:
    for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
        assert suffix in supported_suffixes()


def test_rendered_lines_read_with_their_word_spaces() -> None:
    page = ocr_image(render(INVOICE))
    assert page.lines == 3 and page.score > 0.9
    assert char_accuracy(page.text, " ".join(INVOICE)) >= 0.97
    words = page.text.split()
    for token in ("Invoice", "INV-2024-0193:", "total", "1,482.50", "EUR", "Keller", "Harbour"):
        assert token in words


def test_small_text_is_read_enlarged() -> None:
    page = ocr_image(render(INVOICE[:2], size=15, width=800))
    assert char_accuracy(page.text, " ".join(INVOICE[:2])) >= 0.95


def test_without_the_ocr_component_images_are_skipped_and_scans_say_how(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ocr, "ocr_available", lambda: False)
    with pytest.raises(UnsupportedFileError) as err:
        extract_image(tmp_path / "a.png", png_bytes(render(INVOICE)))
    assert "tera-desktop[ocr]" in str(err.value)
    with pytest.raises(IngestError) as err2:
        extract_pdf(tmp_path / "scan.pdf", pdf_of([render(BOILER)]))
    assert "tera-desktop[ocr]" in str(err2.value)
    mixed = extract_pdf(tmp_path / "mixed.pdf", pdf_of([GARDEN, render(PASSPORT)]))
    assert [s.meta["page"] for s in mixed.sections] == [1]  # the text page is still read


def test_stop_inside_a_scan(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with cancel_scope(stop), pytest.raises(Cancelled):
        extract_pdf(tmp_path / "scan.pdf", pdf_of([render(BOILER), render(PASSPORT)]))
    with cancel_scope(stop), pytest.raises(Cancelled):
        extract_image(tmp_path / "a.png", png_bytes(render(INVOICE)))


def test_an_image_without_text_is_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(90, 160, (700, 900, 3), dtype=np.uint8))
    with pytest.raises(UnsupportedFileError, match="No text"):
        extract_image(tmp_path / "photo.jpg", png_bytes(photo, "JPEG"))
    with pytest.raises(IngestError, match="damaged or not an image"):
        extract_image(tmp_path / "broken.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))


def test_multi_page_tiff_gives_one_section_per_page(tmp_path: Path) -> None:
    first, second = render(INVOICE[:1], width=1000), render(PASSPORT, width=1000)
    out = io.BytesIO()
    first.save(out, "TIFF", save_all=True, append_images=[second])
    extracted = extract_image(tmp_path / "scans.tiff", out.getvalue())
    assert [s.meta for s in extracted.sections] == [
        {"ocr": True, "page": 1},
        {"ocr": True, "page": 2},
    ]
    assert "X4471902" in extracted.sections[1].text


# ---- through ingestion, found by search ----------------------------------------------------------


@pytest.fixture(scope="module")
def scans(
    real_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, FileResult]]]:
    docs = tmp_path_factory.mktemp("scans")
    (docs / "invoice.png").write_bytes(png_bytes(render(INVOICE)))
    (docs / "contract.pdf").write_bytes(pdf_of([render(BOILER)]))
    (docs / "mixed.pdf").write_bytes(pdf_of([GARDEN, render(PASSPORT)]))
    settings = Settings(
        embedding_model=str(real_models["embedding"]), llm_model=str(real_models["gguf"])
    )
    engine = Engine(get_paths(tmp_path_factory.mktemp("scan-home")).ensure(), settings)
    results = {Path(e.path).name: e for e in engine.upload([docs]) if isinstance(e, FileResult)}
    yield engine, results
    engine.close()


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["keyword", "dense"])
@pytest.mark.parametrize(
    ("question", "source", "page", "needle"),
    [
        ("invoice INV-2024-0193 total", "invoice.png", None, "1,482.50 EUR"),
        ("When does the boiler service contract renew?", "contract.pdf", 1, "Nordheat"),
        ("passport number expires", "mixed.pdf", 2, "X4471902"),
    ],
)
def test_scanned_text_is_found_by_search(
    scans: tuple[Engine, dict[str, FileResult]],
    mode: str,
    question: str,
    source: str,
    page: int | None,
    needle: str,
) -> None:
    engine, results = scans
    assert {n: r.status for n, r in results.items()} == {
        "invoice.png": "added",
        "contract.pdf": "added",
        "mixed.pdf": "added",
    }
    hits = engine.search(question, 3, mode=mode)
    assert hits and Path(hits[0].source).name == source, [(h.source, h.text) for h in hits]
    assert needle in hits[0].text
    assert hits[0].extra["ocr"] is True
    assert hits[0].extra.get("page") == page


@pytest.mark.integration
def test_a_mixed_pdf_keeps_its_text_pages_and_its_scanned_pages(
    scans: tuple[Engine, dict[str, FileResult]],
) -> None:
    engine, _ = scans
    hits = engine.search("garden shed lawn mower", 3, mode="keyword")
    assert Path(hits[0].source).name == "mixed.pdf" and hits[0].extra["page"] == 1
    assert "ocr" not in hits[0].extra  # read from the text layer
    (mixed,) = [d for d in engine.documents() if d.source.endswith("mixed.pdf")]
    assert mixed.chunks == 2
