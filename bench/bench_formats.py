"""Ingestion of real document formats: a folder of generated PDF, DOCX, HTML and TXT files through
`tera upload`'s path (Engine.upload), reporting words/s and where the time goes.

    python -m bench.bench_formats [--files 300] [--per-file 4] [--model DIR]
                                  [--out bench/results/formats.json]

The text is MS MARCO passages from shared/benchmarks (public), a few per file, laid out per format:
PDF (fpdf2, DejaVu Sans: one page per two passages), DOCX (python-docx: headings, paragraphs, a
table), HTML (headings, paragraphs, plus nav/script/style/footer noise the extractor must drop) and
plain text. Words are counted in the passages and headings put in each file, the same for every
format. The embedding model is all-MiniLM-L6-v2 from scripts/fetch_test_models.py.

The time split comes from wrapping, in this process only: the extractor registry lookup
(extraction), the tokenizer's count_tokens (chunking), the embedder's embed_documents (embedding)
and the store's replace_document (storing); "other" is the rest (walking, reading, hashing).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, Table, machine_info, rss_mb, write_json

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "benchmarks" / "msmarco-5k" / "corpus.jsonl"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FORMATS = ("pdf", "docx", "html", "txt")
GPT4ALL_WORDS_PER_S = 3500  # GPT4All LocalDocs' best reported figure, 8-core laptop


def default_model() -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_test_models import ensure_test_models

    return Path(ensure_test_models(log=lambda *_: None)["embedding"])


def load_passages() -> list[str]:
    """The corpus passages, whitespace-normalized, without the C1 control characters some of them
    carry (mojibake in the source data, e.g. "â\x80\x94": no font has glyphs for them)."""
    c1 = {c: None for c in range(0x80, 0xA0)}
    return [
        " ".join(json.loads(line)["text"].translate(c1).split())
        for line in CORPUS.read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]


def heading_of(passage: str) -> str:
    return " ".join(passage.split()[:5]).rstrip(".,;:")


# ---- one writer per format; each returns the file's bytes ----------------------------------------


def write_pdf(title: str, passages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    if FONT.exists():
        pdf.add_font("DejaVu", fname=str(FONT))
        font = "DejaVu"
    else:  # core fonts are Latin-1 only
        font = "Helvetica"
        passages = [p.encode("latin-1", "replace").decode("latin-1") for p in passages]
    for i in range(0, len(passages), 2):
        pdf.add_page()
        pdf.set_font(font, size=11)
        for passage in passages[i : i + 2]:
            pdf.multi_cell(0, 5.5, passage)
            pdf.ln(3)
    return bytes(pdf.output())


def write_docx(title: str, passages: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for i, passage in enumerate(passages):
        document.add_heading(heading_of(passage), level=1 if i % 2 == 0 else 2)
        document.add_paragraph(passage)
    table = document.add_table(rows=2, cols=3)
    for c, value in enumerate(("Section", "Words", "Topic")):
        table.cell(0, c).text = value
    for c, value in enumerate(("1", str(len(passages[0].split())), heading_of(passages[0]))):
        table.cell(1, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_html(title: str, passages: list[str]) -> bytes:
    from html import escape

    body = "\n".join(
        f"<h{2 if i % 2 == 0 else 3}>{escape(heading_of(p))}</h{2 if i % 2 == 0 else 3}>"
        f"\n<p>{escape(p)}</p>"
        for i, p in enumerate(passages)
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body {{ font-family: sans-serif }} nav a {{ margin: 1em }}</style>
<script>window.analytics = {{ track: function () {{}} }}; analytics.track("view");</script>
</head><body>
<header><a href="/">Home</a> <a href="/blog">Blog</a> <a href="/about">About</a></header>
<nav><ul><li><a href="/a">Archive</a></li><li><a href="/t">Tags</a></li></ul></nav>
<main><h1>{escape(title)}</h1>
{body}
</main>
<aside>Related posts: none</aside>
<footer>© 2024 Example. All rights reserved.</footer>
</body></html>"""
    return page.encode("utf-8")


def write_txt(title: str, passages: list[str]) -> bytes:
    return (title + "\n\n" + "\n\n".join(passages) + "\n").encode("utf-8")


WRITERS: dict[str, Callable[[str, list[str]], bytes]] = {
    "pdf": write_pdf,
    "docx": write_docx,
    "html": write_html,
    "txt": write_txt,
}


def words_in(fmt: str, title: str, passages: list[str]) -> int:
    """Words of content put in the file (title + passages, + headings where the format has them)."""
    words = len(title.split()) + sum(len(p.split()) for p in passages)
    if fmt in ("docx", "html"):
        words += sum(len(heading_of(p).split()) for p in passages)
    return words


def make_folder(folder: Path, n_files: int, per_file: int, seed: int = 7) -> dict[str, Any]:
    passages = load_passages()
    rng = random.Random(seed)
    stats: dict[str, dict[str, float]] = {f: defaultdict(float) for f in FORMATS}  # type: ignore[misc]
    for i in range(n_files):
        fmt = FORMATS[i % len(FORMATS)]
        k = max(1, per_file + rng.randint(-1, 2))
        start = rng.randrange(len(passages) - k)
        chosen = passages[start : start + k]
        title = f"Notes {i}: {heading_of(chosen[0])}"
        data = WRITERS[fmt](title, chosen)
        sub = folder / f"part{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc{i:04}.{fmt}").write_bytes(data)
        stats[fmt]["files"] += 1
        stats[fmt]["words"] += words_in(fmt, title, chosen)
        stats[fmt]["bytes"] += len(data)
    return {f: dict(v) for f, v in stats.items()}


class Timers:
    """Wall time spent inside wrapped calls, by name (and extraction by file suffix)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
                self.calls[name] += 1

        return timed


def run(n_files: int, per_file: int, model: Path, threads: int) -> dict[str, Any]:
    import tera_desktop.core.ingest.formats  # noqa: F401  (registers .pdf/.docx/.html)
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.ingest import FileResult, pipeline
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings

    timers = Timers()
    original_extractor_for = pipeline.extractor_for

    def timed_extractor_for(path: Path) -> Callable[[Path, bytes], Any]:
        suffix = path.suffix.lower().lstrip(".")
        return timers.wrap(f"extract.{suffix}", original_extractor_for(path))

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        t0 = time.perf_counter()
        per_format = make_folder(docs, n_files, per_file)
        generate_s = time.perf_counter() - t0
        engine = Engine(
            get_paths(Path(tmp) / "home").ensure(),
            Settings(embedding_model=str(model), embed_threads=threads),
        )
        embedder = engine.embedder
        embedder.embed_documents(["warm up"])  # model load is not ingestion
        embedder.count_tokens("warm up")  # nor is loading the tokenizer
        store = engine.store  # nor is creating the store
        store.count()
        embedder.embed_documents = timers.wrap("embed", embedder.embed_documents)  # type: ignore[method-assign]
        embedder.count_tokens = timers.wrap("chunk", embedder.count_tokens)  # type: ignore[method-assign]
        store.replace_document = timers.wrap("store", store.replace_document)  # type: ignore[method-assign]
        pipeline.extractor_for = timed_extractor_for  # type: ignore[assignment]
        try:
            t0 = time.perf_counter()
            results = [e for e in engine.upload([docs]) if isinstance(e, FileResult)]
            total_s = time.perf_counter() - t0
        finally:
            pipeline.extractor_for = original_extractor_for
        failed = [r for r in results if not r.ok]
        assert not failed, failed[:3]
        chunks = sum(r.chunks for r in results)
        chunks_by_format: dict[str, int] = defaultdict(int)
        for r in results:
            chunks_by_format[Path(r.path).suffix.lstrip(".")] += r.chunks
        engine.close()

    words = int(sum(s["words"] for s in per_format.values()))
    extract_s = sum(v for k, v in timers.seconds.items() if k.startswith("extract."))
    parts = {
        "extract": extract_s,
        "chunk": timers.seconds["chunk"],
        "embed": timers.seconds["embed"],
        "store": timers.seconds["store"],
    }
    parts["other"] = max(0.0, total_s - sum(parts.values()))
    formats = {
        fmt: {
            "files": int(s["files"]),
            "words": int(s["words"]),
            "mb": round(s["bytes"] / 1e6, 2),
            "chunks": chunks_by_format[fmt],
            "extract_s": round(timers.seconds[f"extract.{fmt}"], 3),
            "extract_ms_per_file": round(1000 * timers.seconds[f"extract.{fmt}"] / s["files"], 2),
            "extract_words_per_s": round(s["words"] / max(timers.seconds[f"extract.{fmt}"], 1e-9)),
        }
        for fmt, s in per_format.items()
    }
    return {
        "files": len(results),
        "words": words,
        "chunks": chunks,
        "generate_s": round(generate_s, 2),
        "total_s": round(total_s, 3),
        "words_per_s": round(words / total_s, 1),
        "chunks_per_s": round(chunks / total_s, 2),
        "seconds": {k: round(v, 3) for k, v in parts.items()},
        "share": {k: round(v / total_s, 4) for k, v in parts.items()},
        "words_per_s_without_embedding": round(words / max(total_s - parts["embed"], 1e-9), 1),
        "formats": formats,
        "threads": threads or "onnxruntime default",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--files", type=int, default=300)
    p.add_argument("--per-file", type=int, default=4, help="passages per file (about, ±)")
    p.add_argument("--model", type=Path, default=None, help="embedding model folder")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "formats.json")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = args.model or default_model()
    r = run(args.files, args.per_file, model, args.threads)

    overall = Table(
        "files", "words", "chunks", "total s", "words/s", "extract", "chunk", "embed", "store",
        "other",
    )  # fmt: skip
    share = r["share"]
    overall.add(
        r["files"],
        r["words"],
        r["chunks"],
        r["total_s"],
        r["words_per_s"],
        *(f"{100 * share[k]:.1f}%" for k in ("extract", "chunk", "embed", "store", "other")),
    )
    by_format = Table(
        "format", "files", "words", "MB", "chunks", "extract ms/file", "extract words/s"
    )  # fmt: skip
    for fmt, f in r["formats"].items():
        by_format.add(
            fmt,
            f["files"],
            f["words"],
            f["mb"],
            f["chunks"],
            f["extract_ms_per_file"],
            f["extract_words_per_s"],
        )
    print(f"Ingesting mixed formats ({model.name}, threads: {r['threads']}, "
          f"{os.cpu_count()} cores)\n")  # fmt: skip
    print(overall)
    print()
    print(by_format)
    print(
        f"\nWithout embedding: {r['words_per_s_without_embedding']:,.0f} words/s. "
        f"GPT4All LocalDocs' best reported figure: ~{GPT4ALL_WORDS_PER_S:,} words/s (8 cores)."
    )
    write_json(
        args.out,
        {
            "benchmark": "formats",
            "machine": machine_info(
                "fastembed",
                "onnxruntime",
                "qdrant-edge-py",
                "pypdf",
                "python-docx",
                "beautifulsoup4",
                "lxml",
                "charset-normalizer",
                "fpdf2",
            ),
            "model": str(model),
            "result": r,
            "rss": rss_mb(),
        },
    )
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
