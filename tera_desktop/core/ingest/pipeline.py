"""Files and facts → chunks → vectors → the store, by content hash.

``ingest()`` is a generator: it yields an ``IngestProgress`` as it goes and one ``FileResult`` per
file (added / updated / unchanged / failed + reason), so the CLI prints and the GUI shows the same
events. Chunks of several small files are embedded together in one batch (the embedding model is
the slow part), then each file is written to the store as one crash-safe replacement.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import logging
import os
import stat
import threading
import uuid
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ParamSpec

from tera_desktop.core import clock
from tera_desktop.core.clock import format_clock
from tera_desktop.core.embedder import Embedder
from tera_desktop.core.errors import (
    ACTION_SETTINGS,
    Cancelled,
    IngestError,
    TeraError,
    UnsupportedFileError,
)
from tera_desktop.core.heap import release_memory
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
from tera_desktop.core.ingest.formats.encoding import counting_replacements
from tera_desktop.core.ingest.formats.ocr import cancel_scope as ocr_cancel_scope
from tera_desktop.core.ingest.ignored import IGNORED_REASON
from tera_desktop.core.store import KIND_DOCUMENT, KIND_FACT, Chunk, MemoryStore
from tera_desktop.core.supersede import Replaced, find_superseded
from tera_desktop.core.supersede import mark as mark_superseded
from tera_desktop.core.units import MB, format_mb

log = logging.getLogger("tera.ingest")
P = ParamSpec("P")
_NAMESPACE = uuid.UUID("6f1b7c2e-7d55-4f0e-9a43-2d1c3e5a7b90")

ADDED = "added"
UPDATED = "updated"
UNCHANGED = "unchanged"
FAILED = "failed"
SKIPPED = "skipped"  # not a document Tera reads, or over the size limit: reported, not an error
REMOVED = "removed"  # gone from disk: its chunks were forgotten (sync)
LOOP_REASON = "A symbolic link that loops back on itself: skipped."


def now_iso() -> str:
    """When a chunk is stored: UTC, ISO 8601 to the millisecond."""
    return clock.now_iso("milliseconds")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_id(source: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, source))


@dataclass(frozen=True)
class FileResult:
    path: str
    status: str  # added | updated | unchanged | failed | skipped | removed
    chunks: int = 0
    reason: str = ""  # what happened, in words any front end shows (no command, no raw id)
    doc_id: str = ""
    hint: str = ""  # the CLI's advice (may name a `tera` command)
    action: str = ""  # what to do, as core/errors.py's ACTION_* key (the window words it)

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    @property
    def cli_reason(self) -> str:
        """The reason with the CLI's advice after it."""
        return f"{self.reason} {self.hint}" if self.hint else self.reason


def _failed(source: str, exc: TeraError) -> FileResult:
    return FileResult(
        source, FAILED, reason=exc.message, hint=exc.hint or "", action=exc.action or ""
    )


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

    @property
    def within_file(self) -> str:
        """How far a long file is, in words: "transcribed 3:10 of 12:00 of standup.m4a"."""
        if self.file_unit != "s" or not self.current:
            return ""
        name = os.path.basename(self.current)
        done = format_clock(self.file_done)
        if self.file_total:
            total = format_clock(self.file_total)
            return f"Transcribing {name}: {done} of {total}"
        return f"Transcribing {name}: {done}"


@dataclass(frozen=True)
class RememberResult:
    id: str
    text: str
    created_at: str
    is_new: bool
    replaces: Replaced | None = None  # the older fact this one supersedes (core/supersede.py)


@dataclass
class _Pending:
    path: Path
    source: str
    doc_hash: str
    title: str
    texts: list[str]
    metas: list[dict[str, object]]
    updated: bool
    note: str = ""  # said with the result: e.g. how many bytes could not be decoded
    vectors: list[list[float]] = field(default_factory=list)


def iter_files(
    roots: Iterable[str | os.PathLike[str]], exclude: Sequence[Path] = ()
) -> Iterator[Path]:
    """Files under ``roots`` (recursive), hidden files and folders skipped, symlinked folders not
    followed (no loops) but given as they are (each gets a "skipped" result with its reason),
    folders in ``exclude`` (Tera's own) skipped, each file once, in a stable order."""
    seen: set[Path] = set()
    skip = {_resolve(Path(e)) for e in exclude}
    for root in roots:
        path = Path(root).expanduser()
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = sorted(
                    d
                    for d in dirnames
                    if not d.startswith(".") and _resolve(Path(dirpath, d)) not in skip
                )
                for d in dirnames:  # a linked folder is not followed, but gets a result line
                    link = Path(os.path.abspath(os.path.join(dirpath, d)))
                    if link.is_symlink() and link not in seen:
                        seen.add(link)
                        yield link
                for name in sorted(filenames):
                    if not name.startswith("."):
                        full = _resolve(Path(dirpath, name))
                        if full not in seen:
                            seen.add(full)
                            yield full
        else:
            full = _resolve(path)
            if full not in seen:
                seen.add(full)
                yield full


def _resolve(path: Path) -> Path:
    """``path`` resolved; a symbolic link loop stays as it is (absolute), to be reported as
    skipped when it is read, instead of stopping the whole walk."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # "Symlink loop from …" (RuntimeError before Python 3.13)
        return Path(os.path.abspath(path))


def source_key(path: str | os.PathLike[str]) -> str:
    """How a file is named in the store, in results and in logs: its path, with bytes that are
    not UTF-8 (a name written on another system: ``caf\\xe9.txt``) spelled ``\\xe9``, so any
    terminal, log file, JSON file or the store can hold it."""
    return utf8_safe(os.fspath(path))


def utf8_safe(text: str) -> str:
    """``text`` as valid UTF-8: undecodable bytes carried as lone surrogates (``os.fsdecode``)
    spelled ``\\xNN``, any other lone surrogate replaced. The store, JSON and terminals cannot
    hold lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "replace")
        return raw.decode("utf-8", "backslashreplace")
    return text


def resolve_source(path: str | os.PathLike[str]) -> str:
    """The store's name for the file at ``path`` as a user types it (``~`` expanded, links
    resolved, never an error for a link loop or a name that is not UTF-8)."""
    return source_key(_resolve(Path(path).expanduser()))


def _missing_reason(path: Path) -> str:
    if path.is_symlink():
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return LOOP_REASON
        return "A link to a file or folder that does not exist."
    return "No such file or folder."


def normalize_fact(text: str) -> str:
    return " ".join(text.split())


def remember(
    text: str, embedder: Embedder, store: MemoryStore, *, supersede: bool = True
) -> RememberResult:
    """Store one fact as one chunk. The same fact twice is stored once. With ``supersede``, a
    fact that updates a stored one ("… on Thursdays" after "… on Tuesdays") marks it superseded
    and says so in ``replaces`` (``core/supersede.py``; ``supersede.undo`` takes it back)."""
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
    older = find_superseded(store, list(vector), fact) if supersede else None
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
    if older is None:
        return RememberResult(fact_id, fact, created, is_new=True)
    mark_superseded(store, older.id, fact_id, created)
    replaced = Replaced(older.id, older.text, older.created_at)
    return RememberResult(fact_id, fact, created, is_new=True, replaces=replaced)


def _friendly_os_error(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return LOOP_REASON
    if isinstance(exc, PermissionError):
        return "Permission denied: Tera cannot read this file."
    if isinstance(exc, FileNotFoundError):
        return "The file disappeared before it could be read."
    if isinstance(exc, IsADirectoryError):
        return "This is a folder, not a file."
    return f"The file cannot be read: {exc.strerror or exc}."


def _then_release_memory(
    fn: Callable[P, Iterator[FileResult | IngestProgress]],
) -> Callable[P, Iterator[FileResult | IngestProgress]]:
    """After the generator ends (or is closed), give the memory it used back to the system: a
    long-running app would otherwise stay at its peak after a big import."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> Iterator[FileResult | IngestProgress]:
        try:
            yield from fn(*args, **kwargs)
        finally:
            release_memory()

    return run


@_then_release_memory
def ingest(
    roots: Sequence[str | os.PathLike[str]],
    embedder: Embedder,
    store: MemoryStore,
    *,
    max_tokens: int = 256,
    overlap: int = 32,
    max_file_bytes: int = 50 * MB,
    batch_chunks: int = 64,
    cancel: threading.Event | None = None,
    exclude: Sequence[Path] = (),
    sync: bool = False,
    ignored: Collection[str] = (),
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
            reason = _missing_reason(Path(root).expanduser())
            status = SKIPPED if reason == LOOP_REASON else FAILED
            yield FileResult(source_key(root), status, reason=reason)
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
                yield _failed(p.source, exc)
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
                yield _failed(p.source, exc)
                continue
            done += 1
            chunks_done += n
            status = UPDATED if p.updated else ADDED
            yield FileResult(p.source, status, n, reason=p.note, doc_id=doc_id)
            yield IngestProgress(done, total, chunks_done, p.source)
        pending.clear()
        pending_chunks = 0
        release_memory(collect=False)  # the batch's parsing and embedding buffers

    yield IngestProgress(0, total, 0)
    for path in files:
        if cancel is not None and cancel.is_set():
            raise Cancelled("Stopped: the files before this one are stored.")
        result = None
        key = source_key(path)
        if key in ignored:  # forgotten on purpose: a folder sync must not bring it back
            done += 1
            yield FileResult(key, SKIPPED, reason=IGNORED_REASON)
            yield IngestProgress(done, total, chunks_done, key)
            continue
        streamer = stream_extractor_for(path)
        try:
            if streamer is None:
                prepared = _prepare(
                    path, store, max_tokens, overlap, max_file_bytes, embedder, cancel
                )
            else:
                if pending:  # store what is ready before a long file, in case of Stop
                    yield from flush()
                context = ExtractContext(max_tokens, overlap, embedder.count_tokens, cancel, speech)
                prepared = yield from _prepare_stream(
                    path, streamer, context, store, IngestProgress(done, total, chunks_done, key)
                )
        except Cancelled:
            raise
        except IngestError as exc:
            status = SKIPPED if isinstance(exc, UnsupportedFileError) else FAILED
            result = FileResult(
                key, status, reason=exc.message, hint=exc.hint or "", action=exc.action or ""
            )
        except OSError as exc:
            reason = _friendly_os_error(exc)
            result = FileResult(key, SKIPPED if reason == LOOP_REASON else FAILED, reason=reason)
        except Exception as exc:  # an extractor's bug must not stop the other files
            log.exception("extracting %s failed", key)
            result = FileResult(key, FAILED, reason=f"Tera could not read this file ({exc!r}).")
        else:
            if isinstance(prepared, FileResult):
                result = prepared
            else:
                pending.append(prepared)
                pending_chunks += len(prepared.texts)
        if result is not None:
            done += 1
            yield result
            yield IngestProgress(done, total, chunks_done, key)
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
    folders = [_resolve(Path(r).expanduser()) for r in roots if Path(r).expanduser().is_dir()]
    if not folders:
        return
    present_keys = {source_key(p) for p in present}
    scrub = False
    for doc in store.list_documents():
        source = Path(doc.source)
        if any(source.is_relative_to(f) for f in folders) and doc.source not in present_keys:
            if any(source.is_relative_to(Path(e).resolve()) for e in exclude):
                continue
            removed = store.delete_source(doc.source, scrub=False)
            scrub = True
            yield FileResult(doc.source, REMOVED, removed, "No longer in the folder.", doc.doc_id)
    if scrub:  # one rewrite for all the files that went: their text leaves the store's files
        store.scrub()


def _prepare(
    path: Path,
    store: MemoryStore,
    max_tokens: int,
    overlap: int,
    max_file_bytes: int,
    embedder: Embedder,
    cancel: threading.Event | None = None,
) -> _Pending | FileResult:
    source = source_key(path)
    st = os.stat(path)  # a symbolic link loop raises ELOOP here: skipped with its reason
    if stat.S_ISDIR(st.st_mode) and path.is_symlink():
        target = _resolve(path)
        if path.parent.resolve().is_relative_to(target):  # selfdir -> . : a loop
            raise UnsupportedFileError(LOOP_REASON)
        raise UnsupportedFileError(
            f"A link to the folder {source_key(target)}: not followed.",
            "Add that folder itself to read what it holds.",
        )
    if not stat.S_ISREG(st.st_mode):
        raise IngestError("Not a regular file.")
    size = st.st_size
    if size > max_file_bytes:
        raise UnsupportedFileError(
            f"The file is too large ({format_mb(size)}; the limit is {format_mb(max_file_bytes)}).",
            "Raise max_file_mb in Settings to add it.",
            action=ACTION_SETTINGS,
        )
    with open(path, "rb") as fh:
        data = fh.read(max_file_bytes + 1)
    if len(data) > max_file_bytes:
        raise IngestError("The file grew past the size limit while it was being read.")
    doc_hash = sha256_bytes(data)
    existing = store.document(source)
    if existing is not None and existing.content_hash == doc_hash:
        return FileResult(source, UNCHANGED, existing.chunks, doc_id=existing.doc_id)
    with counting_replacements() as replaced, ocr_cancel_scope(cancel):  # Stop inside a scan
        extracted = extractor_for(path)(path, data)
    note = ""
    if replaced[0]:
        n = replaced[0]
        note = (
            f"{n:,} byte{'s' if n != 1 else ''} could not be read as text and "
            f"{'were' if n != 1 else 'was'} replaced or dropped."
        )
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
            cancel=cancel,
        ):
            texts.append(text)
            metas.append(
                {**section.meta, "heading": section.heading}
                if section.heading
                else dict(section.meta)
            )
    if not texts:
        raise IngestError("The file holds no text.")
    texts = [utf8_safe(t) for t in texts]  # a name in a title, a PDF's stray surrogate
    metas = [{k: utf8_safe(v) if isinstance(v, str) else v for k, v in m.items()} for m in metas]
    title = utf8_safe(extracted.title)
    return _Pending(path, source, doc_hash, title, texts, metas, existing is not None, note=note)


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
    source = source_key(path)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
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
    texts = [utf8_safe(s.text) for s in extracted.sections]
    metas: list[dict[str, object]] = [dict(s.meta) for s in extracted.sections]
    title = utf8_safe(extracted.title)
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
