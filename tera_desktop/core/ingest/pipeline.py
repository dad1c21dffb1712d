"""Files and facts → chunks → vectors → the store, by content hash.

``ingest()`` is a generator: it yields an ``IngestProgress`` as it goes and one ``FileResult`` per
file (added / updated / unchanged / failed + reason), so the CLI prints and the GUI shows the same
events. Chunks of several small files are embedded together in one batch (the embedding model is
the slow part), then each file is written to the store as one crash-safe replacement.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tera_desktop.core.embedder import Embedder
from tera_desktop.core.errors import Cancelled, IngestError, TeraError, UnsupportedFileError
from tera_desktop.core.ingest.chunker import TokenCounter, chunk_text
from tera_desktop.core.ingest.extractors import (
    ExtractContext,
    Extracted,
    ExtractProgress,
    Section,
    StreamExtractor,
    extractor_for,
    stream_extractor_for,
)
from tera_desktop.core.store import KIND_DOCUMENT, KIND_FACT, Chunk, MemoryStore

log = logging.getLogger("tera.ingest")
_NAMESPACE = uuid.UUID("6f1b7c2e-7d55-4f0e-9a43-2d1c3e5a7b90")

ADDED = "added"
UPDATED = "updated"
UNCHANGED = "unchanged"
FAILED = "failed"
SKIPPED = "skipped"  # not a document Tera reads, or over the size limit: reported, not an error
REMOVED = "removed"  # gone from disk: its chunks were forgotten (sync)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_id(source: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, source))


@dataclass(frozen=True)
class FileResult:
    path: str
    status: str  # added | updated | unchanged | failed | skipped | removed
    chunks: int = 0
    reason: str = ""
    doc_id: str = ""

    @property
    def ok(self) -> bool:
        return self.status != FAILED


@dataclass(frozen=True)
class IngestProgress:
    files_done: int
    files_total: int
    chunks_done: int
    current: str = ""
    # inside one long file (a recording being transcribed): how far, of how much, in what unit
    # ("s": seconds of audio; total 0 when unknown); 0/0/"" between files
    file_done: float = 0.0
    file_total: float = 0.0
    file_unit: str = ""


@dataclass(frozen=True)
class RememberResult:
    id: str
    text: str
    created_at: str
    is_new: bool


@dataclass
class _Pending:
    path: Path
    source: str
    doc_hash: str
    title: str
    texts: list[str]
    metas: list[dict[str, object]]
    updated: bool
    vectors: list[list[float]] = field(default_factory=list)


def iter_files(
    roots: Iterable[str | os.PathLike[str]], exclude: Sequence[Path] = ()
) -> Iterator[Path]:
    """Files under ``roots`` (recursive), hidden files and folders skipped, symlinked folders not
    followed (no loops), folders in ``exclude`` (Tera's own) skipped, each file once, in a stable
    order."""
    seen: set[Path] = set()
    skip = {Path(e).resolve() for e in exclude}
    for root in roots:
        path = Path(root).expanduser()
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = sorted(
                    d
                    for d in dirnames
                    if not d.startswith(".") and Path(dirpath, d).resolve() not in skip
                )
                for name in sorted(filenames):
                    if not name.startswith("."):
                        full = Path(dirpath, name).resolve()
                        if full not in seen:
                            seen.add(full)
                            yield full
        else:
            full = path.resolve()
            if full not in seen:
                seen.add(full)
                yield full


def normalize_fact(text: str) -> str:
    return " ".join(text.split())


def remember(text: str, embedder: Embedder, store: MemoryStore) -> RememberResult:
    """Store one fact as one chunk. The same fact twice is stored once."""
    fact = normalize_fact(text)
    if not fact:
        raise IngestError("There is nothing to remember: the text is empty.")
    content_hash = sha256_bytes(fact.casefold().encode("utf-8"))
    existing = store.find_fact(content_hash)
    if existing:
        hit = store.get([existing])[0]
        return RememberResult(hit.id, hit.text, hit.created_at, is_new=False)
    vector = embedder.embed_documents([fact])[0]
    fact_id = str(uuid.uuid4())
    created = now_iso()
    store.add(
        [
            Chunk(
                id=fact_id,
                text=fact,
                vector=vector,
                kind=KIND_FACT,
                doc_id=fact_id,
                created_at=created,
                content_hash=content_hash,
            )
        ]
    )
    return RememberResult(fact_id, fact, created, is_new=True)


def _friendly_os_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "Permission denied: Tera cannot read this file."
    if isinstance(exc, FileNotFoundError):
        return "The file disappeared before it could be read."
    if isinstance(exc, IsADirectoryError):
        return "This is a folder, not a file."
    return f"The file cannot be read: {exc.strerror or exc}."


def ingest(
    roots: Sequence[str | os.PathLike[str]],
    embedder: Embedder,
    store: MemoryStore,
    *,
    max_tokens: int = 256,
    overlap: int = 32,
    max_file_bytes: int = 50 * 1024 * 1024,
    batch_chunks: int = 64,
    cancel: threading.Event | None = None,
    exclude: Sequence[Path] = (),
    sync: bool = False,
    speech: Any = None,
) -> Iterator[FileResult | IngestProgress]:
    """Ingest files and folders. Yields progress and one result per file; stops between batches
    when ``cancel`` is set (raising ``Cancelled``): every file is then either fully stored or not
    touched. With ``sync``, documents stored from inside a given folder whose file is gone (or
    now hidden) are forgotten too, each reported as ``removed``. ``speech`` (a
    ``core.speech.SpeechSource``) transcribes audio files; without it they are skipped. A long
    file (a recording) reports its own progress and stops within itself when ``cancel`` is set."""
    for root in roots:
        if not Path(root).expanduser().exists():
            yield FileResult(str(root), FAILED, reason="No such file or folder.")
    files = list(iter_files((r for r in roots if Path(r).expanduser().exists()), exclude))
    total = len(files)
    done = 0
    chunks_done = 0
    pending: list[_Pending] = []
    pending_chunks = 0

    def flush() -> Iterator[FileResult | IngestProgress]:
        nonlocal done, chunks_done, pending_chunks
        texts = [t for p in pending for t in p.texts]
        try:
            vectors = embedder.embed_documents(texts) if texts else None
        except TeraError as exc:
            for p in pending:
                done += 1
                yield FileResult(str(p.path), FAILED, reason=str(exc))
            pending.clear()
            pending_chunks = 0
            return
        offset = 0
        for p in pending:
            if cancel is not None and cancel.is_set():
                raise Cancelled("Stopped: the files before this one are stored.")
            n = len(p.texts)
            vecs: Any = vectors[offset : offset + n] if vectors is not None else []
            offset += n
            doc_id = document_id(p.source)
            created = now_iso()
            chunks = [
                Chunk(
                    id=str(uuid.uuid4()),
                    text=text,
                    vector=vec,
                    kind=KIND_DOCUMENT,
                    doc_id=doc_id,
                    created_at=created,
                    content_hash=p.doc_hash,
                    source=p.source,
                    chunk_index=i,
                    extra={**meta, "title": p.title, "n_chunks": n, "doc_hash": p.doc_hash},
                )
                for i, (text, vec, meta) in enumerate(zip(p.texts, vecs, p.metas, strict=True))
            ]
            try:
                store.replace_document(doc_id, chunks)
            except TeraError as exc:
                done += 1
                yield FileResult(str(p.path), FAILED, reason=str(exc))
                continue
            done += 1
            chunks_done += n
            yield FileResult(str(p.path), UPDATED if p.updated else ADDED, n, doc_id=doc_id)
            yield IngestProgress(done, total, chunks_done, str(p.path))
        pending.clear()
        pending_chunks = 0

    yield IngestProgress(0, total, 0)
    for path in files:
        if cancel is not None and cancel.is_set():
            raise Cancelled("Stopped: the files before this one are stored.")
        result = None
        streamer = stream_extractor_for(path)
        try:
            if streamer is None:
                prepared = _prepare(path, store, max_tokens, overlap, max_file_bytes, embedder)
            else:
                if pending:  # store what is ready before a long file, in case of Stop
                    yield from flush()
                context = ExtractContext(max_tokens, overlap, embedder.count_tokens, cancel, speech)
                prepared = yield from _prepare_stream(
                    path,
                    streamer,
                    context,
                    store,
                    IngestProgress(done, total, chunks_done, str(path)),
                )
        except Cancelled:
            raise
        except UnsupportedFileError as exc:
            result = FileResult(str(path), SKIPPED, reason=str(exc))
        except IngestError as exc:
            result = FileResult(str(path), FAILED, reason=str(exc))
        except OSError as exc:
            result = FileResult(str(path), FAILED, reason=_friendly_os_error(exc))
        except Exception as exc:  # an extractor's bug must not stop the other files
            log.exception("extracting %s failed", path)
            result = FileResult(
                str(path), FAILED, reason=f"Tera could not read this file ({exc!r})."
            )
        else:
            if isinstance(prepared, FileResult):
                result = prepared
            else:
                pending.append(prepared)
                pending_chunks += len(prepared.texts)
        if result is not None:
            done += 1
            yield result
            yield IngestProgress(done, total, chunks_done, str(path))
        if pending_chunks >= batch_chunks:
            yield from flush()
    if pending:
        yield from flush()
    if sync:
        yield from _remove_missing(roots, set(files), store, exclude)


def _remove_missing(
    roots: Sequence[str | os.PathLike[str]],
    present: set[Path],
    store: MemoryStore,
    exclude: Sequence[Path],
) -> Iterator[FileResult]:
    folders = [Path(r).expanduser().resolve() for r in roots if Path(r).expanduser().is_dir()]
    if not folders:
        return
    for doc in store.list_documents():
        source = Path(doc.source)
        if any(source.is_relative_to(f) for f in folders) and source not in present:
            if any(source.is_relative_to(Path(e).resolve()) for e in exclude):
                continue
            removed = store.delete_source(doc.source)
            yield FileResult(doc.source, REMOVED, removed, "No longer in the folder.", doc.doc_id)


def _prepare(
    path: Path,
    store: MemoryStore,
    max_tokens: int,
    overlap: int,
    max_file_bytes: int,
    embedder: Embedder,
) -> _Pending | FileResult:
    source = str(path)
    if not path.is_file():
        raise IngestError("Not a regular file.")
    size = path.stat().st_size
    if size > max_file_bytes:
        raise UnsupportedFileError(
            f"The file is too large ({size / 1e6:.0f} MB; the limit is "
            f"{max_file_bytes / 1e6:.0f} MB).",
            "Raise max_file_mb in Settings to add it.",
        )
    with open(path, "rb") as fh:
        data = fh.read(max_file_bytes + 1)
    if len(data) > max_file_bytes:
        raise IngestError("The file grew past the size limit while it was being read.")
    doc_hash = sha256_bytes(data)
    existing = store.document(source)
    if existing is not None and existing.content_hash == doc_hash:
        return FileResult(source, UNCHANGED, existing.chunks, doc_id=existing.doc_id)
    extracted = extractor_for(path)(path, data)
    texts: list[str] = []
    metas: list[dict[str, object]] = []
    if extracted.meta.get("pack_sections"):
        texts, metas = pack_sections(extracted.sections, max_tokens, embedder.count_tokens)
        extra = (
            {"source_type": extracted.meta["source_type"]}
            if "source_type" in extracted.meta
            else {}
        )
        metas = [{**m, **extra} for m in metas]
    for section in [] if texts else extracted.sections:
        for text in chunk_text(
            section.text,
            max_tokens=max_tokens,
            overlap=overlap,
            count=embedder.count_tokens,
            prefix=section.heading,
        ):
            texts.append(text)
            metas.append(
                {**section.meta, "heading": section.heading}
                if section.heading
                else dict(section.meta)
            )
    if not texts:
        raise IngestError("The file holds no text.")
    return _Pending(path, source, doc_hash, extracted.title, texts, metas, existing is not None)


def sha256_file(path: Path, cancel: threading.Event | None = None) -> str:
    """The sha256 of a file read in 1 MB blocks (a recording is never read whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1024 * 1024):
            if cancel is not None and cancel.is_set():
                raise Cancelled("Stopped: the files before this one are stored.")
            digest.update(block)
    return digest.hexdigest()


def _prepare_stream(
    path: Path,
    extractor: StreamExtractor,
    context: ExtractContext,
    store: MemoryStore,
    at: IngestProgress,
) -> Generator[IngestProgress, None, _Pending | FileResult]:
    """A file read by a streaming extractor (audio): hashed in blocks, unchanged files skipped,
    progress within the file yielded as it comes, the extractor's sections taken as the chunks.
    No size limit: memory stays bounded whatever the length, and Stop works inside the file."""
    source = str(path)
    if not path.is_file():
        raise IngestError("Not a regular file.")
    doc_hash = sha256_file(path, context.cancel)
    existing = store.document(source)
    if existing is not None and existing.content_hash == doc_hash:
        return FileResult(source, UNCHANGED, existing.chunks, doc_id=existing.doc_id)
    extracted: Extracted | None = None
    for event in extractor(path, context):
        if isinstance(event, ExtractProgress):
            yield replace(at, file_done=event.done, file_total=event.total, file_unit=event.unit)
        else:
            extracted = event
    if extracted is None or not extracted.sections:
        raise IngestError("The file holds no text.")
    texts = [s.text for s in extracted.sections]
    metas: list[dict[str, object]] = [dict(s.meta) for s in extracted.sections]
    title = extracted.title
    return _Pending(path, source, doc_hash, title, texts, metas, existing is not None)


def pack_sections(
    sections: Sequence[Section], max_tokens: int, count: TokenCounter
) -> tuple[list[str], list[dict[str, object]]]:
    """Pack consecutive small sections (chat messages) into chunks of at most ``max_tokens``,
    never splitting one unless it alone is too long. Each chunk's metadata lists its messages'
    senders and times (``senders``, ``date_from``, ``date_to``: filterable; ``messages``)."""
    texts: list[str] = []
    metas: list[dict[str, object]] = []
    group: list[Section] = []
    size = 0

    def close() -> None:
        nonlocal size
        if group:
            texts.append("\n".join(s.text for s in group))
            metas.append(_group_meta(group))
            group.clear()
            size = 0

    for section in sections:
        n = count(section.text) + 1
        if n > max_tokens:  # a message longer than a chunk: split it, keep its sender and time
            close()
            for piece in chunk_text(section.text, max_tokens=max_tokens, overlap=0, count=count):
                texts.append(piece)
                metas.append(_group_meta([section]))
            continue
        if group and size + n > max_tokens:
            close()
        group.append(section)
        size += n
    close()
    return texts, metas


def _group_meta(group: Sequence[Section]) -> dict[str, object]:
    senders = sorted({str(s.meta["sender"]) for s in group if s.meta.get("sender")})
    times = sorted(str(s.meta["timestamp"]) for s in group if s.meta.get("timestamp"))
    meta: dict[str, object] = {
        "messages": [
            {"sender": s.meta.get("sender", ""), "timestamp": s.meta.get("timestamp", "")}
            for s in group
        ]
    }
    if senders:
        meta["senders"] = senders
    if times:
        meta["date_from"], meta["date_to"] = times[0], times[-1]
    return meta
