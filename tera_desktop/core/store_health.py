"""Is the embedded store's folder intact? A check in bounded time and memory, before the engine
opens it.

Qdrant Edge trusts its files: 24 flipped bytes in a 165-byte ``mutable_id_tracker.mappings``
make it allocate vectors for an internal id of ~3 billion (12 GB of RAM, 22 GB of vector files in
two minutes); a truncated chunk or a missing segment gives a raw error, or a memory that silently
looks smaller. This module reads only the small metadata files (each capped), and checks the
sizes of the large ones with ``stat``, so it never costs more than a few milliseconds and
megabytes, whatever the damage:

- ``tera-store.json`` (Tera's own: embedding size and model) and ``shard/edge_config.json``;
- per segment: ``segment.json``, ``version.info``; the id tracker (``mutable_id_tracker.mappings``:
  records of 1 type byte + a 16-byte UUID or 8-byte number + a 4-byte internal id for an insert;
  ``.versions``: 8 bytes per internal id): every record well formed, every internal id within the
  segment's size; the dense vectors (``config.json``, ``status.dat``, ``chunk_*.mmap`` of the
  configured size, the count within them, the size matching ``tera-store.json``); the payload
  pages (``config.json``, ``page_*.dat`` of the configured size);
- the WAL: ``first-index`` and each ``open-*`` segment's header.

``check_store_folder`` returns a ``StoreHealth`` naming each damaged file and what is wrong;
``require_healthy`` raises ``StoreDamagedError`` (with the fix: ``tera repair``) for the engine
to call before it opens the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import StoreError

META_FILE = "tera-store.json"
SHARD = "shard"
JSON_LIMIT = 1 << 20  # a metadata JSON file is a few hundred bytes
MAPPINGS_LIMIT = 1 << 30  # 50M points' id records: read in blocks, never whole
_BLOCK = 1 << 20
# id tracker record types (Qdrant's MappingChange): insert/delete, number/UUID
_RECORD_SIZES = {1: 1 + 8 + 4, 2: 1 + 16 + 4, 3: 1 + 8, 4: 1 + 16}
_U32 = 4
VALUE_LIMIT = 16 << 20  # one payload (a chunk's text and metadata) is a few KB
TRACKER_LIMIT = 256 << 20  # 16 bytes per point: 16M points
SAMPLE_VALUES = 256  # values decoded per store by the check (spread over it)
SAMPLE_BYTES = 4 << 20
ID_SLACK = 1024  # internal ids may run a little ahead of the versions file between flushes
ENV_CHECK = "TERA_STORE_CHECK"
SALVAGE_MEMORY = 3 << 30  # address space for the engine opening a damaged copy
SALVAGE_FILE = 2 << 30  # the largest file it may write (a runaway wrote 22 GB)
SALVAGE_TIMEOUT = 180.0
REPAIR_HINT = (
    "Run `tera repair`: it keeps a copy of the damaged memory and rebuilds it from what is "
    "intact plus the original files of documents still on disk."
)


class StoreDamagedError(StoreError):
    """The memory's files are damaged: the engine would run away or answer wrongly with them."""

    def __init__(self, health: StoreHealth) -> None:
        super().__init__(
            f"The memory at {health.folder} is damaged: {health.summary()}", REPAIR_HINT
        )
        self.health = health


@dataclass(frozen=True)
class Damage:
    path: str  # relative to the store folder
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


@dataclass
class StoreHealth:
    folder: Path
    damage: list[Damage] = field(default_factory=list)
    files_checked: int = 0
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.damage

    def summary(self, limit: int = 3) -> str:
        if self.ok:
            return f"intact ({self.files_checked} files checked)"
        shown = "; ".join(str(d) for d in self.damage[:limit])
        more = len(self.damage) - limit
        return shown + (f"; and {more} more" if more > 0 else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "ok": self.ok,
            "damage": [{"path": d.path, "what": d.what} for d in self.damage],
            "files_checked": self.files_checked,
        }


class _Checker:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.health = StoreHealth(folder)

    def bad(self, path: Path, what: str) -> None:
        try:
            rel = str(path.relative_to(self.folder))
        except ValueError:
            rel = str(path)
        self.health.damage.append(Damage(rel, what))

    def read_small(self, path: Path, limit: int = JSON_LIMIT) -> bytes | None:
        self.health.files_checked += 1
        try:
            size = path.stat().st_size
            if size > limit:
                self.bad(path, f"{size:,} bytes, far more than such a file holds")
                return None
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:
            self.bad(path, "missing")
            return None
        except OSError as exc:
            self.bad(path, f"cannot be read ({exc.strerror or exc})")
            return None
        self.health.bytes_read += len(data)
        return data

    def read_json(self, path: Path, *, kind: type = dict) -> Any:
        data = self.read_small(path)
        if data is None:
            return None
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.bad(path, "not valid JSON")
            return None
        if not isinstance(value, kind):
            self.bad(path, f"not a JSON {kind.__name__}")
            return None
        return value

    def size(self, path: Path) -> int | None:
        self.health.files_checked += 1
        try:
            return path.stat().st_size
        except FileNotFoundError:
            self.bad(path, "missing")
        except OSError as exc:
            self.bad(path, f"cannot be read ({exc.strerror or exc})")
        return None

    # ---- the parts -----------------------------------------------------------------------------
    def run(self) -> StoreHealth:
        folder = self.folder
        dim: int | None = None
        meta = folder / META_FILE
        if meta.exists():
            data = self.read_json(meta)
            if data is not None:
                raw = data.get("dim")
                if not isinstance(raw, int) or isinstance(raw, bool) or not 0 < raw <= 65536:
                    self.bad(meta, f"no valid embedding size (dim={raw!r})")
                else:
                    dim = raw
        shard = folder / SHARD
        if not shard.exists():
            return self.health  # nothing stored yet (the engine creates it)
        config = self.read_json(shard / "edge_config.json")
        if config is not None and not isinstance(config.get("vectors"), dict):
            self.bad(shard / "edge_config.json", "no vectors section")
        acked = self.wal(shard / "wal")
        segments = shard / "segments"
        found = sorted(p for p in segments.iterdir() if p.is_dir()) if segments.is_dir() else []
        if not found and acked:
            self.bad(
                segments,
                f"no segment, but the log says {acked} changes were stored in segments",
            )
        for segment in found[:1000]:
            self.segment(segment, dim)
        return self.health

    def wal(self, wal: Path) -> int:
        """The WAL's acknowledged index (0 when unknown); its segments' headers."""
        if not wal.is_dir():
            return 0  # the engine starts a new log (changes not yet in segments are lost)
        acked = 0
        first = wal / "first-index"
        if first.exists():
            data = self.read_json(first)
            if data is not None:
                raw = data.get("ack_index")
                if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                    self.bad(first, f"no valid ack_index ({raw!r})")
                else:
                    acked = raw
        for part in sorted(wal.glob("open-*"))[:1000]:
            head = self.read_head(part, 8)
            if head is not None and len(head) >= 4 and head[:4] != b"wal\x00":
                self.bad(part, "not a log segment (its header is overwritten)")
        return acked

    def read_head(self, path: Path, n: int) -> bytes | None:
        self.health.files_checked += 1
        try:
            with open(path, "rb") as fh:
                return fh.read(n)
        except OSError as exc:
            self.bad(path, f"cannot be read ({exc.strerror or exc})")
            return None

    def segment(self, segment: Path, dim: int | None) -> None:
        seg = self.read_json(segment / "segment.json")
        seg_dim = None
        if seg is not None:
            try:
                seg_dim = seg["config"]["vector_data"]["dense"]["size"]
            except (KeyError, TypeError):
                self.bad(segment / "segment.json", "no dense vector configuration")
        version = segment / "version.info"
        if version.exists():
            text = self.read_small(version, 64)
            if text is not None and not text.strip().replace(b".", b"").isdigit():
                self.bad(version, "not a version number")
        vectors = self.vectors(segment / "vector_storage-dense", dim or seg_dim)
        self.id_tracker(segment, vectors)
        self.pages(segment / "payload_storage", payloads=True)
        self.pages(segment / "vector_storage-bm25" / "store")
        index = segment / "payload_index"
        if index.is_dir():
            for folder in sorted(index.iterdir())[:1000]:
                if (folder / "config.json").exists():
                    self.pages(folder)

    def vectors(self, storage: Path, dim: int | None) -> int | None:
        """The number of dense vectors the segment says it holds (None when unknown)."""
        folder = storage / "vectors"
        if not folder.is_dir():
            return None  # an indexed segment keeps its vectors elsewhere: not checked here
        config = self.read_json(folder / "config.json")
        if config is None:
            return None
        if "chunk_size_bytes" not in config and "chunk_size_vectors" not in config:
            return None  # another layout (an optimized segment's): not checked here
        cdim, chunk_bytes, chunk_vectors = (
            config.get("dim"),
            config.get("chunk_size_bytes"),
            config.get("chunk_size_vectors"),
        )
        if not all(isinstance(v, int) and v > 0 for v in (cdim, chunk_bytes, chunk_vectors)):
            self.bad(folder / "config.json", "no valid vector size or chunk size")
            return None
        if dim is not None and cdim != dim:
            self.bad(folder / "config.json", f"vectors of {cdim} numbers, the memory uses {dim}")
        count = None
        status = self.read_small(folder / "status.dat", 64)
        if status is not None:
            if len(status) != 8:
                self.bad(folder / "status.dat", f"{len(status)} bytes instead of 8")
            else:
                count = int.from_bytes(status, "little")
        chunks = sorted(folder.glob("chunk_*.mmap"))
        for chunk in chunks:
            size = self.size(chunk)
            if size is not None and size != chunk_bytes:
                self.bad(chunk, f"{size:,} bytes instead of {chunk_bytes:,} (cut short)")
        if count is not None and count > len(chunks) * chunk_vectors:
            self.bad(
                folder / "status.dat",
                f"says {count:,} vectors, its files hold at most {len(chunks) * chunk_vectors:,}",
            )
        deleted = storage / "deleted" / "status.dat"
        if deleted.exists():
            raw = self.read_small(deleted, 64)
            if raw is not None and len(raw) != 16:
                self.bad(deleted, f"{len(raw)} bytes instead of 16")
        return count

    def id_tracker(self, segment: Path, vectors: int | None) -> None:
        mappings = segment / "mutable_id_tracker.mappings"
        versions = segment / "mutable_id_tracker.versions"
        if not mappings.exists() and not versions.exists():
            return  # an immutable (optimized) segment: its tracker has another format
        n_versions = None
        size = self.size(versions)
        if size is not None:
            if size % 8:
                self.bad(versions, f"{size:,} bytes, not a whole number of 8-byte versions")
            n_versions = size // 8
        limit = max(n_versions or 0, vectors or 0) + ID_SLACK
        self.health.files_checked += 1
        try:
            total = mappings.stat().st_size
            if total > MAPPINGS_LIMIT:
                self.bad(mappings, f"{total:,} bytes, far more than the ids it can hold")
                return
            fh = open(mappings, "rb")  # noqa: SIM115 - closed below, read in blocks
        except FileNotFoundError:
            self.bad(mappings, "missing")
            return
        except OSError as exc:
            self.bad(mappings, f"cannot be read ({exc.strerror or exc})")
            return
        with fh:
            buf = b""
            offset = 0
            while True:
                block = fh.read(_BLOCK)
                self.health.bytes_read += len(block)
                buf += block
                pos = 0
                while pos < len(buf):
                    kind = buf[pos]
                    need = _RECORD_SIZES.get(kind)
                    if need is None:
                        self.bad(mappings, f"an unknown record at byte {offset + pos}")
                        return
                    if pos + need > len(buf):
                        break
                    if kind in (1, 2):
                        internal = int.from_bytes(buf[pos + need - 4 : pos + need], "little")
                        if internal >= limit:
                            self.bad(
                                mappings,
                                f"internal id {internal:,} at byte {offset + pos}, but the "
                                f"segment holds about {limit - ID_SLACK:,} points",
                            )
                            return
                    pos += need
                offset += pos
                buf = buf[pos:]
                if not block:
                    if buf:
                        self.bad(mappings, f"a record cut short at byte {offset}")
                    return

    def pages(self, storage: Path, *, payloads: bool = False) -> None:
        """A "gridstore" (payloads, sparse vectors, payload indexes): its pages have the
        configured size, every pointer in its tracker (and journal) lands inside an existing
        page, and a sample of its values decodes (LZ4, and JSON for payloads)."""
        if not storage.is_dir():
            return
        config = self.read_json(storage / "config.json")
        if config is None:
            return
        page = config.get("page_size_bytes")
        block = config.get("block_size_bytes")
        if not (isinstance(page, int) and page > 0 and isinstance(block, int) and block > 0):
            self.bad(storage / "config.json", "no valid page or block size")
            return
        sizes: dict[int, int] = {}
        for path in sorted(storage.glob("page_*.dat"))[:100_000]:
            size = self.size(path)
            if size is not None and size != page:
                self.bad(path, f"{size:,} bytes instead of {page:,} (cut short)")
            with contextlib.suppress(ValueError):
                sizes[int(path.stem.split("_", 1)[1])] = size or 0
        tracker = storage / "tracker.dat"
        if not tracker.exists():
            return
        try:
            entries = _tracker_entries(storage)
        except (OSError, ValueError) as exc:
            self.bad(tracker, str(exc))
            return
        self.health.files_checked += 1
        live = []
        for point, (present, page_id, first, length) in entries.items():
            if present > 1:
                self.bad(tracker, f"point {point}: not a valid entry")
                return
            if not present:
                continue
            if page_id not in sizes or first * block + length > min(page, sizes[page_id]):
                self.bad(tracker, f"point {point}: its value lies outside the pages")
                return
            live.append((point, page_id, first * block, length))
        if config.get("compression") == "LZ4":
            self.sample_values(storage, live, payloads=payloads)

    def sample_values(
        self, storage: Path, live: list[tuple[int, int, int, int]], *, payloads: bool
    ) -> None:
        """Decode up to ``SAMPLE_VALUES`` values spread over the store (``SAMPLE_BYTES`` in
        all): a page overwritten in the middle is found without reading all of it."""
        step = max(1, len(live) // SAMPLE_VALUES)
        budget = SAMPLE_BYTES
        files: dict[int, Any] = {}
        try:
            for point, page_id, offset, length in live[::step]:
                if budget <= 0:
                    break
                budget -= length
                if page_id not in files:
                    files[page_id] = open(storage / f"page_{page_id}.dat", "rb")  # noqa: SIM115
                fh = files[page_id]
                fh.seek(offset)
                value = fh.read(length)
                self.health.bytes_read += len(value)
                try:
                    size = int.from_bytes(value[:_U32], "little")
                    if size > VALUE_LIMIT:
                        raise ValueError
                    data = lz4_block(value[_U32:], size)
                    if payloads and not isinstance(json.loads(data), dict):
                        raise ValueError
                except (ValueError, UnicodeDecodeError):
                    self.bad(
                        storage / f"page_{page_id}.dat", f"the value of point {point} is garbled"
                    )
                    return
        except OSError as exc:
            self.bad(storage, f"cannot be read ({exc.strerror or exc})")
        finally:
            for fh in files.values():
                fh.close()


def _tracker_entries(storage: Path) -> dict[int, tuple[int, int, int, int]]:
    """A gridstore's pointers: ``tracker.dat`` (a count, then per point: present, page, block,
    length; each u32), updated by ``tracker_journal.dat`` (records of a size, a checksum, then
    (point, present, page, block, length) per point). ``ValueError`` when malformed."""
    tracker = (storage / "tracker.dat").read_bytes()[:TRACKER_LIMIT]
    count = int.from_bytes(tracker[:_U32], "little")
    if count > (len(tracker) - _U32) // 16:
        raise ValueError(f"counts {count:,} entries, holds at most {(len(tracker) - 4) // 16:,}")
    entries: dict[int, tuple[int, int, int, int]] = {}
    for index in range(count):
        at = _U32 + 16 * index
        entries[index] = (
            int.from_bytes(tracker[at : at + 4], "little"),
            int.from_bytes(tracker[at + 4 : at + 8], "little"),
            int.from_bytes(tracker[at + 8 : at + 12], "little"),
            int.from_bytes(tracker[at + 12 : at + 16], "little"),
        )
    journal = storage / "tracker_journal.dat"
    if journal.exists():
        raw = journal.read_bytes()[:TRACKER_LIMIT]
        pos = 0
        while pos < len(raw):
            size = int.from_bytes(raw[pos : pos + _U32], "little")
            if not size or size % 20 or pos + 8 + size > len(raw):
                raise ValueError("a journal record of an unknown kind")
            body = raw[pos + 8 : pos + 8 + size]
            for at in range(0, size, 20):
                f = [
                    int.from_bytes(body[at + k : at + k + _U32], "little") for k in range(0, 20, 4)
                ]
                entries[f[0]] = (f[1], f[2], f[3], f[4])
            pos += 8 + size
    return entries


def check_store_folder(folder: Path) -> StoreHealth:
    """The health of the embedded store in ``folder`` (``paths.store``): never raises, never
    opens the engine; reads at most a few small files and one block at a time."""
    folder = Path(folder)
    if not folder.exists():
        return StoreHealth(folder)
    try:
        return _Checker(folder).run()
    except OSError as exc:  # a folder that cannot be listed
        health = StoreHealth(folder)
        health.damage.append(Damage(".", f"cannot be read ({exc.strerror or exc})"))
        return health


def require_healthy(folder: Path) -> StoreHealth:
    """``check_store_folder``, raising ``StoreDamagedError`` (with ``tera repair`` as the fix)
    when anything is damaged. For the engine to call before it opens the embedded store
    (``TERA_STORE_CHECK=off`` skips it: ``salvage`` opens a damaged copy on purpose)."""
    if os.environ.get(ENV_CHECK, "").strip().lower() == "off":
        return StoreHealth(Path(folder))
    health = check_store_folder(folder)
    if not health.ok:
        raise StoreDamagedError(health)
    return health


def folder_bytes(folder: Path) -> int:
    """Bytes the files under ``folder`` take on disk (sparse files count what they use)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


# ---- salvage: what a damaged store still holds ---------------------------------------------------
@dataclass
class Salvage:
    """What could be read from a damaged store: facts (id, text, created_at, superseded_by) and
    documents' sources."""

    facts: list[dict[str, str]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    error: str = ""  # why nothing could be read ("" when the engine opened the copy)


def salvage(damaged: Path, env: dict[str, str] | None = None) -> Salvage:
    """Open a scratch copy of the damaged store folder ``damaged`` with the engine in a child
    process bounded in memory (``SALVAGE_MEMORY``), file size (``SALVAGE_FILE``) and time, and
    read its facts and documents. The copy is deleted afterwards; ``damaged`` is not touched."""
    with tempfile.TemporaryDirectory(prefix="tera-salvage-") as scratch:
        home = Path(scratch) / "home"
        from tera_desktop.core.paths import get_paths

        paths = get_paths(home)
        paths.store.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copytree(damaged, paths.store, ignore=shutil.ignore_patterns("store.lock"))
        except (OSError, shutil.Error) as exc:
            return Salvage(error=f"the damaged memory cannot be copied ({exc})")
        child_env = {**os.environ, **(env or {}), "TERA_HOME": str(home), ENV_CHECK: "off"}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "tera_desktop.core.store_health", "salvage"],
                env=child_env,
                capture_output=True,
                text=True,
                timeout=SALVAGE_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return Salvage(error=f"the engine did not open it within {SALVAGE_TIMEOUT:g} s")
        for line in reversed(done.stdout.splitlines()):
            if line.startswith("{"):
                with_data = json.loads(line)
                if not with_data.get("error"):
                    return Salvage(
                        facts=list(with_data.get("facts") or []),
                        documents=list(with_data.get("documents") or []),
                    )
                break
        found = salvage_payloads(damaged)  # the engine cannot open it: read its pages directly
        if not found.error:
            return found
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return Salvage(error=f"the engine cannot open it ({last[:200]}); {found.error}")


def lz4_block(src: bytes, size: int) -> bytes:
    """Decompress one LZ4 block (the format Qdrant's payload pages use) of ``size`` bytes;
    ``ValueError`` for anything malformed (never more output than ``size``)."""
    dst = bytearray()
    i, n = 0, len(src)
    try:
        while i < n:
            token = src[i]
            i += 1
            lit = token >> 4
            if lit == 15:
                while True:
                    b = src[i]
                    i += 1
                    lit += b
                    if b != 255:
                        break
            if len(dst) + lit > size:
                raise ValueError("more literals than the size")
            dst += src[i : i + lit]
            i += lit
            if i >= n:
                break
            offset = src[i] | (src[i + 1] << 8)
            i += 2
            if offset == 0 or offset > len(dst):
                raise ValueError("a match before the start")
            length = (token & 15) + 4
            if token & 15 == 15:
                while True:
                    b = src[i]
                    i += 1
                    length += b
                    if b != 255:
                        break
            if len(dst) + length > size:
                raise ValueError("more output than the size")
            start = len(dst) - offset
            for k in range(length):  # may overlap its own output
                dst.append(dst[start + k])
    except IndexError:
        raise ValueError("cut short") from None
    if len(dst) != size:
        raise ValueError("wrong size")
    return bytes(dst)


def read_payloads(segment: Path) -> list[dict[str, Any]]:
    """The payloads a segment's payload pages hold for its live points, read without the engine:
    ``tracker.dat`` (a count, then per internal id: present, page, block, length; each u32),
    updated by ``tracker_journal.dat``; each value a u32 size and an LZ4 block. ``ValueError``
    when anything is not as expected (then nothing from this segment is trusted)."""
    storage = segment / "payload_storage"
    config = json.loads((storage / "config.json").read_bytes()[:JSON_LIMIT])
    block_size = int(config["block_size_bytes"])
    page_size = int(config["page_size_bytes"])
    entries = _tracker_entries(storage)
    payloads = []
    pages: dict[int, Any] = {}
    try:
        for present, page, block, length in entries.values():
            if not present:
                continue
            if length > VALUE_LIMIT or block * block_size + length > page_size:
                raise ValueError("a payload pointer outside its page")
            if page not in pages:
                try:
                    pages[page] = open(storage / f"page_{page}.dat", "rb")  # noqa: SIM115
                except FileNotFoundError:
                    continue
            fh = pages[page]
            fh.seek(block * block_size)
            value = fh.read(length)
            size = int.from_bytes(value[:_U32], "little")
            try:  # one damaged value (a page cut short, flipped bytes) costs only that value
                if size > VALUE_LIMIT:
                    raise ValueError("a payload larger than any Tera writes")
                data = json.loads(lz4_block(value[_U32:], size))
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(data, dict):
                payloads.append(data)
    finally:
        for fh in pages.values():
            fh.close()
    return payloads


def salvage_payloads(damaged: Path) -> Salvage:
    """Facts and documents read from the payload pages of every segment whose pages are intact
    (the fallback when the engine cannot open the store at all)."""
    found = Salvage()
    facts: dict[str, dict[str, str]] = {}
    documents: dict[str, None] = {}
    problems = []
    segments = damaged / SHARD / "segments"
    for segment in sorted(p for p in segments.iterdir() if p.is_dir()) if segments.is_dir() else []:
        try:
            payloads = read_payloads(segment)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{segment.name}: {exc}")
            continue
        for payload in payloads:
            text, kind = payload.get("text"), payload.get("kind")
            if payload.get("state") not in (None, "live", "superseded") or not isinstance(
                text, str
            ):
                continue
            if kind == "fact" and text.strip():
                facts.setdefault(
                    text,
                    {
                        "id": str(payload.get("doc_id") or ""),
                        "text": text,
                        "created_at": str(payload.get("created_at", "")),
                        "superseded_by": str(payload.get("superseded_by") or ""),
                    },
                )
            elif isinstance(payload.get("source"), str) and payload["source"]:
                documents[payload["source"]] = None
    found.facts = sorted(facts.values(), key=lambda f: f["created_at"])
    found.documents = list(documents)
    if problems and not facts and not documents:
        found.error = "; ".join(problems)[:300]
    return found


def _salvage_child() -> int:  # pragma: no cover - runs in the child process
    import resource

    for limit, value in (
        (resource.RLIMIT_AS, SALVAGE_MEMORY),
        (resource.RLIMIT_FSIZE, SALVAGE_FILE),
    ):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (value, value))
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, no core dump
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import load_settings

    paths = get_paths()
    out: dict[str, Any] = {"facts": [], "documents": []}
    try:
        engine = Engine(paths, load_settings(paths))
        try:
            out["facts"] = [
                {
                    "id": f.id,
                    "text": f.text,
                    "created_at": f.created_at,
                    "superseded_by": str(getattr(f, "superseded_by", "") or ""),
                }
                for f in engine.facts(0, None)
            ]
            out["documents"] = [d.source for d in engine.documents() if d.source]
        finally:
            engine.close()
    except BaseException as exc:  # MemoryError, the engine's own errors: all are "cannot read"
        out["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_salvage_child() if sys.argv[1:] == ["salvage"] else 2)
