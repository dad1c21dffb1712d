"""Backup and restore: one archive of a Tera home that restores anywhere (issue 23, point 5).

The archive is a zip file:

- ``manifest.json``: the format and its version, when and by which Tera it was written, the
  embedding model the vectors come from (name and size), counts, and the sha256 and size of
  every other member;
- ``memory/chunks.jsonl``: every live chunk (facts and documents' chunks) with its payload, one
  JSON object per line; ``memory/vectors.npy``: their dense vectors (float32, one row per line
  of chunks.jsonl);
- ``conversations/*.json``: the saved chats; ``settings.json`` (secrets blanked: API keys are
  never in a backup); ``data/pending-facts.json`` and ``data/ignored-files.json`` when present.

Not in it: the models (downloaded again, or copied), logs, caches, secrets.

The memory is exported through the store's own reads (``MemoryStore.get``/``list_*``), never by
copying the engine's files: Qdrant Edge keeps recent writes in its write-ahead log and in
memory-mapped segments, so a copy of its folder is only consistent with the engine closed,
while the engine's reads always give whole, committed documents and facts (every batch is
all-or-nothing). Inside the running app the export holds the engine's store lock, so an
ingestion waits for it and the archive is one point in time. The export is portable: it does not
depend on the engine's on-disk format, and restore rebuilds the store (and its keyword index)
with the same ids, payloads and vectors, so the same questions find the same sources.

Restore checks the whole archive first (a truncated, damaged or tampered archive is refused and
nothing is changed), refuses a memory that is not empty unless ``replace``, builds the new memory
beside the old one and swaps them only when it is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from tera_desktop import __version__
from tera_desktop.core.errors import StoreLockedError, TeraError
from tera_desktop.core.paths import Paths
from tera_desktop.core.units import plural

FORMAT = "tera-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNKS = "memory/chunks.jsonl"
VECTORS = "memory/vectors.npy"
SETTINGS = "settings.json"
CONVERSATIONS = "conversations/"
DATA_FILES = ("pending-facts.json", "ignored-files.json")  # small files of the data folder
SUFFIX = ".tera-backup.zip"
_BATCH = 1000
_READ = 1 << 20


class BackupError(TeraError):
    """A backup could not be written, or an archive cannot be restored (nothing was changed)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    facts: int
    chunks: int
    documents: int
    conversations: int
    size: int  # bytes


@dataclass(frozen=True)
class RestoreResult:
    facts: int
    chunks: int
    documents: int
    conversations: int
    settings_restored: bool


# ---- writing ------------------------------------------------------------------------------------
def _chunk_record(hit: Any) -> dict[str, Any]:
    from tera_desktop.core.ingest.pipeline import sha256_bytes

    if hit.kind == "fact":
        content_hash = sha256_bytes(hit.text.casefold().encode("utf-8"))
    else:
        content_hash = str(hit.extra.get("doc_hash", ""))
    return {
        "id": hit.id,
        "kind": hit.kind,
        "text": hit.text,
        "doc_id": hit.doc_id,
        "created_at": hit.created_at,
        "content_hash": content_hash,
        "source": hit.source,
        "chunk_index": hit.chunk_index,
        "extra": hit.extra,
    }


def _export(store: Any) -> Iterator[Any]:
    """Every live chunk of ``store``, with its vector: facts, then each document's chunks."""
    fact_ids = [f.id for f in store.list_facts()]
    for start in range(0, len(fact_ids), _BATCH):
        yield from store.get(fact_ids[start : start + _BATCH], with_vectors=True)
    for doc in store.list_documents():
        ids = [h.id for h in store.chunks_of(doc.doc_id, 0, 1 << 30)]
        for start in range(0, len(ids), _BATCH):
            yield from store.get(ids[start : start + _BATCH], with_vectors=True)


def _settings_json(paths: Paths) -> bytes | None:
    """settings.json with every secret blanked (a backup never holds an API key)."""
    from tera_desktop.core.secrets import SECRET_FIELDS

    try:
        data = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    for name in SECRET_FIELDS:
        if name in data:
            data[name] = ""
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


def backup(
    engine: Any, dest: str | os.PathLike[str], *, cancel: threading.Event | None = None
) -> BackupResult:
    """Write one archive of ``engine``'s home to ``dest`` (written beside it, then renamed: a
    failed backup never leaves half an archive under that name)."""
    if engine.settings.qdrant_url:
        raise BackupError(
            "tera backup saves a memory kept on this computer; this one is on a Qdrant server.",
            "Back it up with the server's own snapshots.",
        )
    paths: Paths = engine.paths
    dest = Path(dest).expanduser()
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder.", f"Give a file name, e.g. {dest / 'tera'}{SUFFIX}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    spec = engine.embedding_spec() if _has_model(engine) else None
    members: dict[str, dict[str, Any]] = {}
    counts = {"facts": 0, "chunks": 0, "documents": 0, "conversations": 0}
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:

            def put(name: str, data: bytes) -> None:
                zf.writestr(name, data)
                members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

            store = engine.store
            with (
                engine.store_held()
            ):  # one point in time: the app's ingestion and forgets wait for the export
                dim, model = _store_identity(engine, spec)
                lines, vectors = [], []
                for hit in _export(store):
                    if cancel is not None and cancel.is_set():
                        raise BackupError("The backup was stopped; nothing was written.")
                    record = _chunk_record(hit)
                    lines.append(json.dumps(record, ensure_ascii=False))
                    vectors.append(np.asarray(hit.vector, dtype=np.float32))
                    counts["chunks"] += 1
                    counts["facts"] += hit.kind == "fact"
                    counts["documents"] += hit.kind != "fact" and hit.chunk_index == 0
                put(CHUNKS, ("\n".join(lines) + "\n" if lines else "").encode("utf-8"))
                matrix = np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
                buf = io.BytesIO()
                np.save(buf, matrix, allow_pickle=False)
                put(VECTORS, buf.getvalue())
            folder = paths.data / "conversations"
            for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                put(CONVERSATIONS + file.name, file.read_bytes())
                counts["conversations"] += file.name != "state.json"
            for name in DATA_FILES:
                if (paths.data / name).is_file():
                    put("data/" + name, (paths.data / name).read_bytes())
            settings = _settings_json(paths)
            if settings is not None:
                put(SETTINGS, settings)
            manifest = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "tera_version": __version__,
                "embedding": {"name": model, "dim": dim},
                "counts": counts,
                "members": members,
            }
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return BackupResult(dest, size=dest.stat().st_size, **counts)


def _has_model(engine: Any) -> bool:
    try:
        engine.embedding_spec()
    except TeraError:
        return False
    return True


def _store_identity(engine: Any, spec: Any) -> tuple[int, str]:
    from tera_desktop.core.store.base import stored_shape

    shape = stored_shape(engine.paths.store)
    if shape is not None:
        return shape
    if spec is None:
        raise BackupError("There is no memory to back up yet, and no embedding model.")
    return int(spec.dim), str(spec.name)


# ---- checking -----------------------------------------------------------------------------------
def _refuse(archive: Path, why: str) -> BackupError:
    return BackupError(
        f"{archive} cannot be restored: {why}. Nothing was changed.",
        "Use another copy of the backup.",
    )


def verify(archive: str | os.PathLike[str]) -> dict[str, Any]:
    """The archive's manifest, once every member is present, whole and unchanged; else
    ``BackupError`` (truncated, damaged, tampered, or not a Tera backup)."""
    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise BackupError(f"There is no file {archive}.")
    try:
        with zipfile.ZipFile(archive) as zf:
            try:
                manifest = json.loads(zf.read(MANIFEST))
            except KeyError:
                raise _refuse(archive, "it is not a Tera backup (no manifest)") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise _refuse(archive, "it is not a Tera backup")
            if manifest.get("version") != FORMAT_VERSION:
                raise _refuse(
                    archive,
                    f"it was written in backup format {manifest.get('version')!r}, which this "
                    f"Tera ({__version__}) does not read",
                )
            members = manifest.get("members")
            if not isinstance(members, dict):
                raise _refuse(archive, "its manifest is damaged")
            names = set(zf.namelist()) - {MANIFEST}
            if names != set(members):
                extra, missing = sorted(names - set(members)), sorted(set(members) - names)
                raise _refuse(archive, f"its files differ from its manifest ({extra or missing})")
            for name, info in members.items():
                _safe_name(archive, name)
                digest = hashlib.sha256()
                size = 0
                with zf.open(name) as f:
                    while block := f.read(_READ):
                        digest.update(block)
                        size += len(block)
                if digest.hexdigest() != info.get("sha256") or size != info.get("size"):
                    raise _refuse(archive, f"{name} was changed or damaged (checksum)")
    except BackupError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise _refuse(archive, f"it is damaged or incomplete ({exc})") from None
    except OSError as exc:
        raise BackupError(f"Cannot read {archive}: {exc.strerror or exc}.") from None
    return manifest


def _safe_name(archive: Path, name: str) -> None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or "\\" in name:
        raise _refuse(archive, f"it holds a file outside its folders ({name})")
    if not (
        name in (CHUNKS, VECTORS, SETTINGS)
        or (name.startswith(CONVERSATIONS) and len(p.parts) == 2 and name.endswith(".json"))
        or name in {"data/" + n for n in DATA_FILES}
    ):
        raise _refuse(archive, f"it holds a file Tera does not restore ({name})")


# ---- restoring ----------------------------------------------------------------------------------
def memory_in_use(paths: Paths) -> tuple[int, int]:
    """How many chunks the home's memory holds and how many saved conversations it has (the
    memory is opened for a moment: ``StoreLockedError`` when another process has it)."""
    from tera_desktop.core.store import open_store
    from tera_desktop.core.store.base import stored_shape

    chunks = 0
    shape = stored_shape(paths.store)
    if shape is not None:
        store = open_store(folder=paths.store, dim=shape[0], embedding_model=shape[1])
        try:
            chunks = store.count()
        finally:
            store.close()
    folder = paths.data / "conversations"
    chats = (
        sum(1 for f in folder.glob("*.json") if f.name != "state.json") if folder.is_dir() else 0
    )
    return chunks, chats


def restore(
    archive: str | os.PathLike[str],
    paths: Paths,
    *,
    replace: bool = False,
    app_lock_held: bool = False,
) -> RestoreResult:
    """Restore ``archive`` into the Tera home ``paths``. The archive is checked whole first;
    a memory that holds anything is replaced only with ``replace``. ``app_lock_held``: the
    caller (the app itself, its memory closed) holds the home's instance lock."""
    from tera_desktop.core.instance import InstanceLock

    manifest = verify(archive)
    paths.ensure()
    app_lock = InstanceLock.for_paths(paths)
    if not app_lock_held and not app_lock.acquire():
        raise StoreLockedError(
            "Tera's window is open with this data folder.",
            "Close it and restore again, or use File → Restore… in the window.",
        )
    store_lock = InstanceLock(paths.store / "store.lock")
    try:
        if paths.store.exists() and not store_lock.acquire():
            raise StoreLockedError(
                "Another Tera command has the memory open.", "Restore when it has ended."
            )
        store_lock.release()  # the memory is opened (and locked) by the store itself below
        chunks, chats = memory_in_use(paths)
        if (chunks or chats) and not replace:
            raise BackupError(
                f"This Tera already holds {chunks} chunks and {chats} conversations; the backup "
                "was not restored, nothing was changed.",
                "Restore into another data folder (--home DIR), or add --replace to replace them.",
            )
        return _restore(Path(archive).expanduser(), paths, manifest, replace)
    finally:
        store_lock.release()
        if not app_lock_held:
            app_lock.release()


def _restore(archive: Path, paths: Paths, manifest: dict[str, Any], replace: bool) -> RestoreResult:
    from tera_desktop.core.atomic import write_bytes_atomic
    from tera_desktop.core.store import open_store
    from tera_desktop.core.store.base import Chunk

    emb = manifest["embedding"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    staging = paths.data / f"memory.restoring-{stamp}"
    chats_staging = paths.data / f"conversations.restoring-{stamp}"
    for folder in (staging, chats_staging):
        shutil.rmtree(folder, ignore_errors=True)
    counts = manifest.get("counts", {})
    try:
        with zipfile.ZipFile(archive) as zf:
            vectors = np.load(io.BytesIO(zf.read(VECTORS)), allow_pickle=False)
            lines = zf.read(CHUNKS).decode("utf-8").splitlines()
            if len(lines) != len(vectors):
                raise _refuse(archive, "its chunks and vectors do not match")
            store = open_store(folder=staging, dim=int(emb["dim"]), embedding_model=emb["name"])
            try:
                facts: list[Chunk] = []
                docs: dict[str, list[Chunk]] = {}
                for line, vector in zip(lines, vectors, strict=True):
                    r = json.loads(line)
                    chunk = Chunk(
                        id=r["id"],
                        text=r["text"],
                        vector=vector,
                        kind=r["kind"],
                        doc_id=r["doc_id"],
                        created_at=r["created_at"],
                        content_hash=r["content_hash"],
                        source=r["source"],
                        chunk_index=int(r["chunk_index"]),
                        extra=dict(r["extra"]),
                    )
                    if chunk.kind == "fact":
                        facts.append(chunk)
                    else:
                        docs.setdefault(chunk.doc_id, []).append(chunk)
                for start in range(0, len(facts), _BATCH):
                    store.add(facts[start : start + _BATCH])
                for doc_id, doc_chunks in docs.items():
                    store.replace_document(doc_id, doc_chunks)
                store.optimize()
            finally:
                store.close()
            chats_staging.mkdir(parents=True)
            for name in zf.namelist():
                if name.startswith(CONVERSATIONS):
                    (chats_staging / PurePosixPath(name).name).write_bytes(zf.read(name))
            data_files = {
                n: zf.read("data/" + n) for n in DATA_FILES if "data/" + n in zf.namelist()
            }
            settings = zf.read(SETTINGS) if SETTINGS in zf.namelist() else None
        # everything is built: swap it in
        _swap(staging, paths.store)
        _swap(chats_staging, paths.data / "conversations")
        for name in DATA_FILES:
            target = paths.data / name
            if name in data_files:
                write_bytes_atomic(target, data_files[name])
            elif replace:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
        settings_restored = False
        if settings is not None and (replace or not paths.settings_file.exists()):
            paths.config.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(paths.settings_file, settings)
            settings_restored = True
    except BaseException:
        for folder in (staging, chats_staging):
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return RestoreResult(
        facts=int(counts.get("facts", 0)),
        chunks=int(counts.get("chunks", 0)),
        documents=int(counts.get("documents", 0)),
        conversations=int(counts.get("conversations", 0)),
        settings_restored=settings_restored,
    )


def _swap(new: Path, target: Path) -> None:
    """Put ``new`` where ``target`` is; the old one is removed once the new one is in place."""
    old = target.with_name(target.name + ".replaced")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


# ---- a readable export --------------------------------------------------------------------------
@dataclass(frozen=True)
class MarkdownExport:
    folder: Path
    facts: int
    documents: int
    conversations: int


def _md_line(text: str) -> str:
    """One line of plain text for a list item: whitespace collapsed, Markdown escaped."""
    import re

    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", line)


def _file_name(title: str, taken: set[str]) -> str:
    import re

    stem = re.sub(r"[^\w-]+", "-", title.casefold()).strip("-")[:60] or "chat"
    name, n = f"{stem}.md", 2
    while name in taken:
        name, n = f"{stem}-{n}.md", n + 1
    taken.add(name)
    return name


def export_markdown(engine: Any, folder: str | os.PathLike[str]) -> MarkdownExport:
    """Facts, the list of documents and every saved conversation as plain Markdown files a
    person can read without Tera: ``facts.md``, ``documents.md``, ``conversations/*.md``."""
    from tera_desktop.core.atomic import write_text_atomic
    from tera_desktop.core.conversations import export_markdown as chat_markdown

    out = Path(folder).expanduser()
    if out.exists() and not out.is_dir():
        raise BackupError(f"{out} is a file, not a folder.")
    chats_dir = out / "conversations"
    chats_dir.mkdir(parents=True, exist_ok=True)
    facts = engine.facts()
    lines = ["# Facts", "", f"*{len(facts)} facts, newest first.*", ""]
    for f in facts:
        mark = " *(replaced by a newer fact)*" if f.superseded_by else ""
        lines.append(f"- {_md_line(f.text)} — {f.created_at[:10]}{mark}")
    write_text_atomic(out / "facts.md", "\n".join(lines) + "\n")
    docs = engine.documents()
    lines = ["# Documents", "", f"*{plural(len(docs), 'document')} in memory.*", ""]
    for d in docs:
        lines.append(
            f"- {_md_line(d.title or Path(d.source).name)} — `{d.source.replace('`', '')}` "
            f"({plural(d.chunks, 'chunk')}, added {d.created_at[:10]})"
        )
    write_text_atomic(out / "documents.md", "\n".join(lines) + "\n")
    store = engine.conversations
    taken: set[str] = set()
    count = 0
    for summary in store.list():
        conv = store.load(summary.id)
        name = _file_name(f"{conv.created_at[:10]}-{conv.title}", taken)
        write_text_atomic(chats_dir / name, chat_markdown(conv))
        count += 1
    return MarkdownExport(out, len(facts), len(docs), count)
