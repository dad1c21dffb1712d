"""Text in images and scanned pages, read with RapidOCR (PP-OCR det + rec models, ONNX Runtime).

Images (png, jpg, tiff, webp, bmp) become one section per frame; ``formats/pdf.py`` calls
:func:`ocr_image` for pages that have no text layer. Every OCR section carries ``ocr: True``.

Three things the raw PP-OCR output gets wrong on clean English text, fixed here (measured by
bench/bench_media.py on rendered pages):

- **Missing spaces.** The recognition model (trained mostly on Chinese) often drops the spaces
  between English words: ``InvoiceINV-2024-0193:total1,482.50EUR``. RapidOCR reports where each
  character sits along the line (from the CTC decoding steps); the line's pixels say where the
  blank columns are. A blank run at least a third of the text height wide (and twice the
  line's median gap between letters, which keeps monospaced text from splitting) is a word
  space, put at the character boundary nearest to it; never before closing punctuation, after
  an opening bracket, or inside a number such as ``1,482.50``.
- **Small text.** Under ~22 px line height (text of ~15 px) the detector's boxes and the
  character positions get coarse; the page is read again at twice the size. (Above that, the
  second reading gains under 0.5% of characters at 2-5x the time: bench/bench_media.py.)
- **Upside-down lines.** RapidOCR's 180° classifier flips upright English lines it is unsure of
  and turns them into garbage, so it is off; a page whose lines read badly is tried upside down
  instead, and the better reading is kept.

Also ``0``/``o`` and ``l``/``1`` confusions inside words and numbers are put right. RapidOCR,
OpenCV and numpy are imported on first use; without the ``ocr`` extra, images are skipped with a
reason saying how to add it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import itertools
import logging
import math
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tera_desktop.core.errors import Cancelled, IngestError, UnsupportedFileError
from tera_desktop.core.ingest.extractors import Extracted, Section, register

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

log = logging.getLogger("tera.ocr")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
OCR_HINT = "Add Tera's OCR component: pip install 'tera-desktop[ocr]' (about 220 MB)."
MAX_SIDE = 3200  # larger images are scaled down first (a 300 dpi A4 scan is 2480 x 3508)
SMALL_LINE_PX = 22  # median line height below which the page is read again, enlarged
MAX_FRAMES = 200  # pages of a multi-page TIFF
# An image is checked by its header before it is decoded: a 1 MB PNG can declare 400 million
# pixels (a "decompression bomb": 1.2 GB to decode, more to convert). 50 MP is a 600 dpi A4
# scan (4960 x 7016 = 35 MP) with room to spare; a JPEG above it is decoded at 1/2..1/8 size
# instead (its decoder can), anything else is refused with a one-line reason.
MAX_PIXELS = 50_000_000
SPACE_GAP = 0.33  # a word space is a blank run at least this many text heights wide...
SPACE_VS_MEDIAN = 2.0  # ...and this many times the line's median blank run
MIN_SCORE = 0.5  # lines read with less confidence are dropped (RapidOCR's own default)
LOW_SCORE = 0.2  # ...but kept until then, to notice a page that reads badly (upside down)
_NO_SPACE_BEFORE = set(".,:;!?%)]}")
_NO_SPACE_AFTER = set("([{")
_NUMBER_PUNCT = set(".,-/:")
_WORDISH = re.compile(r"[A-Za-z0-9]+")

_ENGINE: Any = None
_ENGINE_LOCK = threading.Lock()
NO_TEXT = "No text was found in this image."
_NO_TEXT: OrderedDict[bytes, None] = OrderedDict()  # images found to hold no text, by sha256
_NO_TEXT_LOCK = threading.Lock()


_CANCEL: ContextVar[threading.Event | None] = ContextVar("tera_ocr_cancel", default=None)


@contextmanager
def cancel_scope(cancel: threading.Event | None) -> Iterator[None]:
    """Within this block, reading images (pages of a scan, frames of a TIFF) stops with
    Cancelled between two pages once ``cancel`` is set: the pipeline wraps extraction in it, so
    Stop does not wait for the rest of a long scanned document."""
    token = _CANCEL.set(cancel)
    try:
        yield
    finally:
        _CANCEL.reset(token)


def _check_cancel() -> None:
    cancel = _CANCEL.get()
    if cancel is not None and cancel.is_set():
        raise Cancelled("Stopped while reading a scan; it was not stored.")


@dataclass(frozen=True)
class OcrPage:
    text: str
    lines: int
    score: float  # mean recognition confidence of the lines (0 when there are none)


def ocr_available() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def require_ocr() -> None:
    if not ocr_available():
        raise UnsupportedFileError("Reading text in images needs Tera's OCR component.", OCR_HINT)


def _engine() -> Any:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            require_ocr()
            from rapidocr_onnxruntime import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            _ENGINE = RapidOCR(max_side_len=MAX_SIDE * 2, print_verbose=False)
        return _ENGINE


# --------------------------------------------------------------------------------------------
# one image


def ocr_image(image: Image.Image) -> OcrPage:
    """Read the text in ``image`` (a PIL image): lines in reading order, paragraphs separated
    by a blank line."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGBA") if "A" in image.getbands() else image.convert("RGB")
        if image.mode == "RGBA":  # text on a transparent background: put it on white
            white = Image.new("RGB", image.size, "white")
            white.paste(image, mask=image.getchannel("A"))
            image = white
    image = image.convert("RGB")
    scale = min(1.0, MAX_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
            Image.Resampling.LANCZOS,
        )
    lines = _read(image)
    if lines:
        height = sorted(line[4] for line in lines)[len(lines) // 2]
        factor = min(2.0, (MAX_SIDE * 1.25) / max(image.size))
        if height < SMALL_LINE_PX and factor >= 1.4:
            bigger = image.resize(
                (round(image.width * factor), round(image.height * factor)),
                Image.Resampling.LANCZOS,
            )
            lines = _read(bigger) or lines
    if lines and _mean_score(lines) < 0.75:  # upside down? (garbage reads score low)
        flipped = _read(image.rotate(180))
        if _quality(flipped) > _quality(lines):
            lines = flipped
    lines = [line for line in lines if line[2] >= MIN_SCORE]
    text = _layout(lines)
    return OcrPage(text=text, lines=len(lines), score=_mean_score(lines))


def _mean_score(lines: list[tuple[Any, ...]]) -> float:
    return sum(line[2] for line in lines) / len(lines) if lines else 0.0


def _quality(lines: list[tuple[Any, ...]]) -> float:
    return sum(line[2] * len(line[1]) for line in lines)


def _read(image: Image.Image) -> list[tuple[Any, ...]]:
    """[(box 4x2, text with spaces restored, score, (x0, y0, x1, y1), line height)]."""
    import numpy as np

    rgb = np.asarray(image)
    result, _ = _engine()(
        rgb[:, :, ::-1].copy(), use_cls=False, return_word_box=True, text_score=LOW_SCORE
    )
    if not result:
        return []
    gray = np.asarray(image.convert("L"))
    lines = []
    for item in result:
        box = np.asarray(item[0], dtype=np.float32)
        text, score = str(item[1]), float(item[2])
        units = item[4] if len(item) > 4 else None
        char_boxes = item[3] if len(item) > 3 else None
        if units and char_boxes and len(units) == len(char_boxes):
            try:
                text = restore_spaces(gray, box, text, char_boxes, units)
            except (ValueError, IndexError) as exc:  # geometry we cannot use: keep the text
                log.debug("space restoration skipped: %s", exc)
        text = fix_confusions(" ".join(text.split()))
        if not text:
            continue
        xs, ys = box[:, 0], box[:, 1]
        height = float(np.linalg.norm(box[3] - box[0]))
        lines.append((box, text, score, (xs.min(), ys.min(), xs.max(), ys.max()), height))
    return lines


def _blank_runs(ink_columns: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the runs of columns without ink, not touching either end."""
    import numpy as np

    padded = np.concatenate([[True], ink_columns, [True]]).astype(np.int8)
    edges = np.diff(padded)
    starts = np.where(edges == -1)[0]
    ends = np.where(edges == 1)[0]
    width = ink_columns.size
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if s > 0 and e < width]


def restore_spaces(
    gray: np.ndarray, box: np.ndarray, text: str, char_boxes: list[Any], units: list[str]
) -> str:
    """``text`` with the word spaces the recognizer dropped put back, from the blank columns of
    the line's pixels and where each character sits (see the module notes)."""
    import cv2
    import numpy as np

    p0, p1, p3 = box[0], box[1], box[3]
    width = round(float(np.linalg.norm(p1 - p0)))
    height = round(float(np.linalg.norm(p3 - p0)))
    chars = [(c, b) for c, b in zip(units, char_boxes, strict=True) if c.strip()]
    if width < 4 or height < 4 or len(chars) < 2:
        return text
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(gray, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    threshold, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = crop < threshold if np.median(crop) >= threshold else crop > threshold
    rows = np.where(ink.any(axis=1))[0]
    if rows.size == 0:
        return text
    text_height = float(rows[-1] - rows[0] + 1)
    band = ink[int(height * 0.1) : int(height * 0.9) + 1]  # a neighbour line may reach the edges
    runs = _blank_runs(np.asarray(band.any(axis=0)))
    if not runs:
        return text
    median_gap = float(np.median([e - s for s, e in runs]))
    needed = max(SPACE_GAP * text_height, SPACE_VS_MEDIAN * median_gap)
    direction = (p1 - p0) / max(float(np.linalg.norm(p1 - p0)), 1e-6)
    centers = [
        float(np.dot(np.asarray(b, dtype=np.float32).mean(axis=0) - p0, direction))
        for _, b in chars
    ]
    bounds = np.array([(a + b) / 2 for a, b in itertools.pairwise(centers)])
    split: set[int] = set()
    for start, end in runs:
        if end - start >= needed:
            split.add(int(np.argmin(np.abs(bounds - (start + end) / 2))))
    had_space: set[int] = set()  # spaces the recognizer did emit, by the character before them
    seen = -1
    for c in units:
        if c.strip():
            seen += 1
        elif seen >= 0:
            had_space.add(seen)
    letters = [c for c, _ in chars]
    out = [letters[0]]
    for i in range(len(letters) - 1):
        a, b = letters[i], letters[i + 1]
        space = i in had_space
        if not space and i in split:
            space = not (
                b[0] in _NO_SPACE_BEFORE
                or a[-1] in _NO_SPACE_AFTER
                or (
                    a in _NUMBER_PUNCT and i > 0 and letters[i - 1][-1].isdigit() and b[0].isdigit()
                )
                or (
                    b in _NUMBER_PUNCT
                    and a[-1].isdigit()
                    and i + 2 < len(letters)
                    and letters[i + 2][0].isdigit()
                )
            )
        out.append((" " if space else "") + b)
    return "".join(out)


def fix_confusions(text: str) -> str:
    """``0`` read for ``o`` inside a word (``Inv0ice`` → ``Invoice``), and ``l``/``I``/``O``
    read for ``1``/``0`` inside a number (``l7`` → ``17``)."""

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        letters = sum(c.isalpha() for c in token)
        digits = sum(c.isdigit() for c in token)
        zeros_only = all(c == "0" for c in token if c.isdigit())
        if digits and letters >= digits and zeros_only and any(c.islower() for c in token):
            return token.replace("0", "o")
        if letters and digits >= letters and all(c in "lIO" for c in token if c.isalpha()):
            return token.replace("l", "1").replace("I", "1").replace("O", "0")
        return token

    return _WORDISH.sub(fix, text)


def _layout(lines: list[tuple[Any, ...]]) -> str:
    """Lines → text: boxes side by side on one row are joined with a space, rows with a newline,
    and a blank line where the gap between rows is larger than a line (a new paragraph)."""
    if not lines:
        return ""
    ordered = sorted(lines, key=lambda line: (line[3][1] + line[3][3]) / 2)
    rows: list[list[tuple[Any, ...]]] = []
    for line in ordered:
        y0, y1 = line[3][1], line[3][3]
        if rows:
            last = rows[-1]
            ly0 = min(item[3][1] for item in last)
            ly1 = max(item[3][3] for item in last)
            overlap = min(y1, ly1) - max(y0, ly0)
            if overlap > 0.5 * min(y1 - y0, ly1 - ly0):
                last.append(line)
                continue
        rows.append([line])
    heights = sorted(line[4] for line in lines)
    typical = heights[len(heights) // 2]
    parts: list[str] = []
    previous_bottom = None
    for row in rows:
        row.sort(key=lambda item: item[3][0])
        top = min(item[3][1] for item in row)
        if previous_bottom is not None:
            parts.append("\n\n" if top - previous_bottom > 0.9 * typical else "\n")
        parts.append(" ".join(item[1] for item in row))
        previous_bottom = max(item[3][3] for item in row)
    text = "".join(parts)
    return re.sub(r"(?<=[a-z])-\n(?=[a-z])", "", text)  # a word hyphenated across lines


# --------------------------------------------------------------------------------------------
# image files


_PILLOW_LIMIT_LOCK = threading.Lock()


def too_large(width: int, height: int) -> IngestError:
    pixels = width * height
    return IngestError(
        f"Image too large: {width}×{height} pixels ({pixels / 1e6:.0f} MP); Tera reads images "
        f"up to {MAX_PIXELS / 1e6:.0f} MP.",
        "Scale it down or split it in an image editor, then add that.",
    )


def check_size(image: Image.Image) -> None:
    """Refuse an image (or the current frame) whose header declares more than ``MAX_PIXELS``;
    a JPEG is asked to decode at a reduced size first (``draft``), which costs nothing."""
    width, height = image.size
    if width * height <= MAX_PIXELS:
        return
    if image.format == "JPEG":
        scale = math.ceil(math.sqrt(width * height / MAX_PIXELS))
        with contextlib.suppress(Exception):
            image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
        if image.size[0] * image.size[1] <= MAX_PIXELS:
            return
    raise too_large(width, height)


def _draft_for_ocr(image: Image.Image) -> None:
    """A JPEG far larger than OCR reads (``MAX_SIDE``) is decoded at 1/2..1/8 of its size,
    never below ``MAX_SIDE``: less to decode and to hold."""
    side = max(image.size)
    if image.format == "JPEG" and side >= 2 * MAX_SIDE:
        scale = side // MAX_SIDE
        with contextlib.suppress(Exception):
            image.draft(image.mode, (image.width // scale, image.height // scale))


def _reason(exc: BaseException) -> str:
    """Pillow's words without the reprs it puts in them (``<_io.BytesIO object at 0x…>``)."""
    text = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)).strip()
    return text[:120] or type(exc).__name__


def open_image(path: Path, data: bytes) -> Image.Image:
    """The image in ``data``, decoded, after its header was checked (``check_size``)."""
    from PIL import Image, UnidentifiedImageError

    damaged = "Open it in an image viewer and save it again, then add that."
    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning: never on stderr
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _PILLOW_LIMIT_LOCK:  # opening reads the header only: Tera's check, not Pillow's
                Image.MAX_IMAGE_PIXELS = None  # (which raises without naming the size)
                try:
                    image = Image.open(io.BytesIO(data))
                finally:
                    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's guard for pypdf's images
            check_size(image)
            _draft_for_ocr(image)
            image.load()
    except IngestError:
        raise
    except UnidentifiedImageError:
        raise IngestError(
            f"{path.name} is damaged or not an image Tera can read.", damaged
        ) from None
    except Image.DecompressionBombError as exc:  # a frame larger than its header said
        raise IngestError(f"Image too large ({_reason(exc)}).", damaged) from None
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:
        raise IngestError(
            f"{path.name} is damaged or not an image ({_reason(exc)}).", damaged
        ) from None
    return image


@register(*IMAGE_SUFFIXES)
def extract_image(path: Path, data: bytes) -> Extracted:
    """Every frame of the image (one for png/jpg, the pages of a multi-page TIFF), read with
    OCR; frames with text become sections (``page`` for multi-page files). An image with no
    text (a photo) is skipped, not failed."""
    require_ocr()
    if not data:
        raise IngestError("The file is empty.")
    key = hashlib.sha256(data).digest()
    with _NO_TEXT_LOCK:
        if key in _NO_TEXT:  # a photo read before (a watched folder is synced again and again)
            raise UnsupportedFileError(NO_TEXT)
    image = open_image(path, data)
    frames = min(int(getattr(image, "n_frames", 1) or 1), MAX_FRAMES)
    sections: list[Section] = []
    for index in range(frames):
        _check_cancel()
        if frames > 1:
            image.seek(index)
            check_size(image)  # each frame of a TIFF has its own size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning
            frame = image.copy()
        page = ocr_image(frame)
        if page.text.strip():
            meta: dict[str, Any] = {"ocr": True}
            if frames > 1:
                meta["page"] = index + 1
            sections.append(Section(text=page.text, meta=meta))
    if not sections:
        with _NO_TEXT_LOCK:
            _NO_TEXT[key] = None
            while len(_NO_TEXT) > 10_000:
                _NO_TEXT.popitem(last=False)
        raise UnsupportedFileError(NO_TEXT)
    return Extracted(title=path.name, sections=sections, meta={"ocr": True, "frames": frames})


# --------------------------------------------------------------------------------------------
# scanned PDF pages


def _largest_image(page: Any) -> tuple[int, int]:
    """Width and height of the largest image a PDF page draws, as its dictionaries declare them
    (forms within forms too, at most 200 objects), before anything is decoded."""
    best = (0, 0)
    seen = 0
    todo = [page.get("/Resources")]
    while todo and seen < 200:
        resources = todo.pop()
        try:
            resources = resources.get_object() if resources is not None else None
            xobjects = resources.get("/XObject") if resources else None
            xobjects = xobjects.get_object() if xobjects is not None else {}
            for ref in xobjects.values():
                seen += 1
                obj = ref.get_object()
                if obj.get("/Subtype") == "/Image":
                    w, h = int(obj.get("/Width", 0)), int(obj.get("/Height", 0))
                    if w * h > best[0] * best[1]:
                        best = (w, h)
                elif obj.get("/Subtype") == "/Form" and "/Resources" in obj:
                    todo.append(obj["/Resources"])
        except Exception:  # a damaged dictionary: pypdf's own decoding will say so
            continue
    return best


def ocr_pdf_pages(reader: Any, indices: list[int]) -> list[Section]:
    """Sections (``page``, ``ocr: True``) for the given 0-based pages of a pypdf reader, read
    from the images drawn on them (a scanned page is one image; tiny ones, logos and rules, are
    left out). Pages whose images hold no text, or cannot be decoded, give no section."""
    sections: list[Section] = []
    for index in indices:
        _check_cancel()
        texts = []
        declared = _largest_image(reader.pages[index])
        if declared[0] * declared[1] > MAX_PIXELS:  # checked before pypdf decodes anything
            log.info("page %d: %s", index + 1, too_large(*declared).message)
            continue
        try:
            images = list(reader.pages[index].images)
        except Exception as exc:  # pypdf raises many types for a broken image list
            log.info("page %d: images cannot be listed: %r", index + 1, exc)
            continue
        for item in images:
            try:
                from PIL import Image as PILImage

                PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS  # JPEGs pypdf opens: Pillow's guard
                with warnings.catch_warnings():  # Pillow's DecompressionBombWarning: not on stderr
                    warnings.simplefilter("ignore")
                    image = item.image
            except Exception as exc:  # an unsupported filter (JBIG2 without jbig2dec), damage
                log.info("page %d: an image cannot be decoded: %r", index + 1, exc)
                continue
            if image is None or image.width * image.height < 20_000 or min(image.size) < 24:
                continue
            if image.width * image.height > MAX_PIXELS:  # decoded by pypdf: at least not OCR'd
                log.info("page %d: %s", index + 1, too_large(image.width, image.height).message)
                continue
            page = ocr_image(image)
            if page.text.strip():
                texts.append(page.text)
        if texts:
            sections.append(Section(text="\n\n".join(texts), meta={"page": index + 1, "ocr": True}))
    return sections
