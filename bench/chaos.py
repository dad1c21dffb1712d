"""Chaos: the probes of issue 12 as one script. Each check prints a row and the script fails
(exit 1) when any check does. CI runs the short form: ``python -m bench.chaos --quick``.

- kill-upload / kill-reindex: ``tera upload`` killed with SIGKILL at random moments (first import,
  then re-import of changed files): every file reported added before the kill is stored
  (0 lost), no document twice (0 duplicate), every document whole, old or new (0 half);
- bad-files: a corpus of hostile files among good ones: every file gets a result, good ones
  are stored, nothing crashes;
- hostile-text: hostile strings stored and listed back exactly (the widgets are tested in
  tests/qt/test_hostile_text.py);
- full-disk (root only): a loop-mounted ext4 filled to the last block: ``tera list`` works,
  ``tera remember`` is one line and exit code 4, never a crash (SIGBUS, 135);
- scrub-cost: what "forget means gone" costs: one forget (rewrite of the store) at N chunks;
- stalling-server, escapes-secrets, image-bomb, signals, damaged-store (issue 26): a model
  server that drips, never stops or sends an endless line ends by Tera's own limits; control
  characters from memory never reach the terminal and keys never appear in doctor/info/log;
  a 400 MP PNG is one line in bounded memory; SIGTERM/SIGHUP during ``ask --chat`` save the
  turn; a damaged store is found, reported by doctor and rebuilt by ``tera repair``;
- supersede: with all-MiniLM-L6-v2 (when scripts/fetch_test_models.py has fetched it), how often
  the newer fact of each pair in tera_desktop/testing/supersede_pairs.py ranks first, before and
  after superseding.

    python -m bench.chaos [--quick] [--only NAME ...] [--scrub-chunks N] [--kills N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINILM = ROOT / ".cache" / "test-models" / "all-MiniLM-L6-v2"


class Chaos:
    def __init__(self, work: Path, embedding: Path) -> None:
        self.work = work
        self.embedding = embedding
        self.rows: list[tuple[str, bool, str]] = []

    def env(self, home: Path) -> dict[str, str]:
        return {
            **os.environ,
            "TERA_HOME": str(home),
            "TERA_EMBEDDING_MODEL": str(self.embedding),
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONUNBUFFERED": "1",  # results arrive as they happen, not at exit
        }

    def tera(
        self, home: Path, *args: str, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tera_desktop.cli", *args],
            env=self.env(home),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def report(self, name: str, ok: bool, detail: str) -> None:
        self.rows.append((name, ok, detail))
        print(f"| {name} | {'ok' if ok else 'FAIL'} | {detail} |", flush=True)


# ---- kill -9 during upload and re-index ------------------------------------------------------


def make_corpus(folder: Path, n: int, version: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(n)
    words = [
        "gate",
        "code",
        "blue",
        "cat",
        "paris",
        "meeting",
        "tuesday",
        "birthday",
        "river",
        "lamp",
    ]
    for i in range(n):
        paras = [
            " ".join(rng.choice(words) for _ in range(60)) + f" version{version} file{i}."
            for _ in range(rng.randint(1, 12))
        ]
        (folder / f"note{i:03d}.txt").write_text("\n\n".join(paras))


def check_store(home: Path, embedding: Path, files: Path, acknowledged: set[str]) -> str:
    """ "" when the memory is consistent, else what is wrong."""
    code = (
        "import json,sys\n"
        "from tera_desktop.core.engine import Engine\n"
        "from tera_desktop.core.paths import get_paths\n"
        "from tera_desktop.core.settings import Settings\n"
        "e=Engine(get_paths(sys.argv[1]),Settings(embedding_model=sys.argv[2]))\n"
        "out=[]\n"
        "for d in e.documents():\n"
        "    hits=e.store.chunks_of(d.doc_id,0,10**6)\n"
        "    n={h.extra.get('n_chunks') for h in hits}\n"
        "    idx=sorted(h.chunk_index for h in hits)\n"
        "    out.append({'source':d.source,'chunks':len(hits),'n':sorted(n),'idx':idx,"
        "'hash':d.content_hash,'texts':[h.text for h in hits]})\n"
        "e.close()\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(home), str(embedding)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        return f"the memory did not open: {done.stderr.strip().splitlines()[-1:]}"
    docs = json.loads(done.stdout)
    sources = [d["source"] for d in docs]
    if len(sources) != len(set(sources)):
        return "a document is stored twice"
    for d in docs:
        if d["n"] != [d["chunks"]] or d["idx"] != list(range(d["chunks"])):
            return f"half a document: {d['source']} ({d['chunks']} of {d['n']})"
        versions = {t.split("version")[1][:1] for t in d["texts"] if "version" in t}
        if len(versions) > 1:
            return f"a document mixes two versions: {d['source']}"
    missing = acknowledged - set(sources)
    if missing:
        return f"{len(missing)} acknowledged file(s) lost"
    return ""


def kill_run(
    chaos: Chaos, home: Path, folder: Path, rng: random.Random, work_s: float
) -> tuple[set[str], int]:
    """Start ``tera upload --json``; once it has stored its first file, SIGKILL it at a random
    moment of the ``work_s`` seconds the rest of a whole upload takes. Returns the files it
    reported as stored before dying and its exit code."""
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "tera_desktop.cli", "upload", "--json", str(folder)],
        env=chaos.env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    first = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if '"status"' in line:
                first.set()
        first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    first.wait(300)
    time.sleep(rng.uniform(0.0, 0.8) * work_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(30)
    acked = set()
    for line in lines:
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("status") in ("added", "updated", "unchanged"):
                acked.add(event["path"])
    return acked, proc.returncode


def upload_timing(chaos: Chaos, n_files: int) -> tuple[float, float]:
    """(seconds to the first stored file, seconds for the whole upload) of one upload."""
    folder = chaos.work / "timing-files"
    make_corpus(folder, n_files, version=1)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tera_desktop.cli", "upload", "--json", str(folder)],
        env=chaos.env(chaos.work / "timing-home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    t_first = 0.0
    for line in proc.stdout:
        if '"status"' in line and not t_first:
            t_first = time.perf_counter() - t0
    proc.wait()
    return t_first, time.perf_counter() - t0


def check_kills(chaos: Chaos, kills: int, n_files: int) -> None:
    rng = random.Random(12)
    t_first, full_s = upload_timing(chaos, n_files)  # to kill while files are being stored
    work_s = max(full_s - t_first, 0.5)
    for phase in ("kill-upload", "kill-reindex"):
        bad = ""
        total_acked = 0
        killed = 0
        for k in range(kills):
            home = chaos.work / f"{phase}-{k}"
            folder = chaos.work / f"{phase}-{k}-files"
            make_corpus(folder, n_files, version=1)
            acked: set[str] = set()
            if phase == "kill-reindex":  # a complete first import, then a killed re-import
                first = chaos.tera(home, "upload", str(folder))
                if first.returncode != 0:
                    bad = f"first import failed: {first.stderr.strip()[:200]}"
                    break
                make_corpus(folder, n_files, version=2)
                acked = {str(p) for p in folder.iterdir()}  # old or new, all must be there
            got, code = kill_run(chaos, home, folder, rng, work_s)
            killed += code == -signal.SIGKILL
            acked |= got
            total_acked += len(got)
            problem = check_store(home, chaos.embedding, folder, acked)
            if problem:
                bad = f"run {k + 1}: {problem}"
                break
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(folder, ignore_errors=True)
        chaos.report(
            phase,
            not bad,
            bad
            or f"{killed} of {kills} runs killed mid-upload ({work_s:.1f} s of storing), "
            f"{total_acked} files reported stored before the kill: 0 lost, 0 duplicate, 0 half",
        )


# ---- bad files ---------------------------------------------------------------------------------


def _bomb_docx() -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<w:document>" + b"A" * (64 * 1024 * 1024))
    data = bytearray(buf.getvalue())
    pos = data.find(b"PK\x01\x02", data.find(b"word/document.xml") - 100)
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]) == b"word/document.xml":
            struct.pack_into("<I", data, pos + 24, 2000)  # the directory understates the size
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)


def bad_corpus(folder: Path) -> tuple[list[str], list[str]]:
    """Hostile files and good files; returns (bad names, good names)."""
    folder.mkdir(parents=True)
    good = []
    for i in range(5):
        (folder / f"good{i}.txt").write_text(f"Good note {i}: the blue lamp is on the table.")
        good.append(f"good{i}.txt")
    os.symlink(folder / "loop.txt", folder / "loop.txt")
    os.symlink(folder / "pong.txt", folder / "ping.txt")
    os.symlink(folder / "ping.txt", folder / "pong.txt")
    with open(os.fsencode(folder) + b"/caf\xe9.txt", "wb") as fh:
        fh.write(b"A note in a file whose name is not UTF-8.")
    (folder / "bomb.docx").write_bytes(_bomb_docx())
    (folder / "nul.txt").write_bytes(b"text with\x00 a few\x00 NUL bytes\x00 in it.\n" * 4)
    (folder / "stray.txt").write_bytes("Le café, près de l'église.\n".encode() * 9 + b"\x81\n")
    (folder / "russian.txt").write_bytes("Привет, как дела?\n".encode() * 9 + b"\xff\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (folder / "long-line.txt").write_text(" ".join(f"w{i}" for i in range(300_000)))
    (folder / "zip.zip").write_bytes(_bomb_docx()[:2000])  # a broken zip
    os.mkfifo(folder / "pipe.txt")
    (folder / "fake.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(4000))
    (folder / "fake.docx").write_bytes(os.urandom(4000))
    (folder / "<img src=x.fifo> a.txt").write_text("A file name with markup in it.")
    bad = sorted(p.name for p in folder.iterdir() if p.name not in good)
    return bad, good


def check_bad_files(chaos: Chaos) -> None:
    home = chaos.work / "bad-home"
    folder = chaos.work / "bad-files"
    bad, good = bad_corpus(folder)
    t0 = time.perf_counter()
    done = chaos.tera(home, "upload", "--json", str(folder), timeout=900)
    took = time.perf_counter() - t0
    results = {}
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if "status" in event:
                results[Path(event["path"]).name] = event["status"]
    n_files = len(bad) + len(good) - 1  # the FIFO is not a regular file: walked, reported
    stored_good = all(results.get(g) == "added" for g in good)
    ok = done.returncode in (0, 2) and stored_good and len(results) >= n_files  # 2: some failed
    ok = ok and "Traceback" not in done.stderr
    chaos.report(
        "bad-files",
        ok,
        f"{len(results)} results for {len(bad) + len(good)} files ({len(bad)} hostile) in "
        f"{took:.1f} s; good files stored: {stored_good}; exit {done.returncode}",
    )


# ---- hostile strings ---------------------------------------------------------------------------

HOSTILE = [
    '<img src="/dev/zero"> note',
    "<img src=p.fifo> pipe",
    '<a href="https://example.com">click</a>',
    "<style>*{font-size:300px}</style>styled",
]


def check_hostile_text(chaos: Chaos) -> None:
    home = chaos.work / "hostile-home"
    for text in HOSTILE:
        chaos.tera(home, "remember", text)
    listed = chaos.tera(home, "list", "--json")
    try:
        back = {item["text"] for item in json.loads(listed.stdout)["facts"]}
    except (ValueError, KeyError, TypeError):
        back = {line for line in listed.stdout.splitlines()}
    same = all(any(t in b for b in back) for t in HOSTILE)
    chaos.report(
        "hostile-text", same and listed.returncode == 0, f"{len(HOSTILE)} strings listed back"
    )


# ---- full disk ---------------------------------------------------------------------------------


@contextlib.contextmanager
def loop_disk(where: Path, size_mb: int = 160) -> Iterator[Path]:
    image = where.with_suffix(".img")
    where.mkdir()
    with open(image, "wb") as fh:
        fh.truncate(size_mb * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        image.unlink(missing_ok=True)


def check_full_disk(chaos: Chaos) -> None:
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        chaos.report("full-disk", True, "skipped: needs root and mkfs.ext4")
        return
    with loop_disk(chaos.work / "disk") as disk:
        home = disk / "tera"
        chaos.tera(home, "remember", "the gate code is 4512")
        with open(disk / "filler", "wb", buffering=0) as fh:
            for size in (1024 * 1024, 4096, 512):
                with contextlib.suppress(OSError):
                    while True:
                        fh.write(b"\0" * size)
        listed = chaos.tera(home, "list")
        wrote = chaos.tera(home, "remember", "one more fact")
        lines = [ln for ln in wrote.stderr.splitlines() if ln.strip()]
        ok = listed.returncode == 0 and "4512" in listed.stdout
        ok = ok and wrote.returncode == 4 and len(lines) == 1
        chaos.report(
            "full-disk",
            ok,
            f"list exit {listed.returncode}; remember exit {wrote.returncode}: "
            f"{lines[0] if lines else '(nothing)'}",
        )


# ---- the cost of forgetting ---------------------------------------------------------------------


def check_scrub_cost(chaos: Chaos, n_chunks: int) -> None:
    import numpy as np

    from tera_desktop.core.store import KIND_DOCUMENT, Chunk, EdgeStore

    folder = chaos.work / "scrub"
    store = EdgeStore(folder, 384)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for start in range(0, n_chunks, 1000):
        chunks = []
        for i in range(start, min(n_chunks, start + 1000)):
            v = rng.standard_normal(384).astype(np.float32)
            cid = str(uuid.uuid4())
            chunks.append(
                Chunk(
                    id=cid,
                    text=f"chunk {i} of a benchmark document, about rivers and lamps. " * 4,
                    vector=(v / np.linalg.norm(v)).tolist(),
                    kind=KIND_DOCUMENT,
                    doc_id=f"doc{i // 50}",
                    created_at="2026-01-01T00:00:00",
                    content_hash=str(i // 50),
                    source=f"/bench/doc{i // 50}.txt",
                    chunk_index=i % 50,
                )
            )
        store.add(chunks)
    filled = time.perf_counter() - t0
    size_mb = sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file()) / 1e6
    t0 = time.perf_counter()
    removed = store.delete_source("/bench/doc0.txt")
    took = time.perf_counter() - t0
    left = store.count()
    store.close()
    leftover = subprocess.run(
        ["grep", "-rl", "chunk 0 of a benchmark", str(folder)], capture_output=True, text=True
    ).stdout.split()
    chaos.report(
        "scrub-cost",
        removed == 50 and left == n_chunks - 50 and not leftover,
        f"forget 1 document at {n_chunks:,} chunks ({size_mb:.0f} MB on disk): {took:.1f} s "
        f"(filling took {filled:.1f} s); its text left in {len(leftover)} file(s)",
    )


# ---- superseding facts with a real embedding model ---------------------------------------------


def check_supersede(chaos: Chaos) -> None:
    if not (MINILM / "model.onnx").exists():
        chaos.report("supersede", True, "skipped: run scripts/fetch_test_models.py for MiniLM")
        return
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.ingest import remember
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.retrieval import retrieve
    from tera_desktop.core.settings import Settings
    from tera_desktop.testing.supersede_pairs import DISTRACTORS, NOT_UPDATES, UPDATES

    engine = Engine(
        get_paths(chaos.work / "supersede").ensure(), Settings(embedding_model=str(MINILM))
    )
    rates = {}
    try:
        for on in (False, True):
            wins = 0
            for old, new, question in UPDATES:
                engine.store.delete_all(scrub=False)
                for fact in DISTRACTORS:
                    engine.remember(fact)
                remember(old, engine.embedder, engine.store, supersede=on)
                remember(new, engine.embedder, engine.store, supersede=on)
                texts = [
                    h.text
                    for h in retrieve(
                        question, engine.embedder, engine.store, top_k=8, min_score=0.0
                    ).hits
                ]
                if new in texts and (old not in texts or texts.index(new) < texts.index(old)):
                    wins += 1
            rates[on] = wins / len(UPDATES)
        false = 0
        for old, new in NOT_UPDATES:
            engine.store.delete_all(scrub=False)
            engine.remember(old)
            false += engine.remember(new).replaces is not None
    finally:
        engine.close()
    chaos.report(
        "supersede",
        rates[True] == 1.0 and false == 0,
        f"all-MiniLM-L6-v2, {len(UPDATES)} pairs: newer fact first {rates[False]:.0%} before, "
        f"{rates[True]:.0%} after; {false} of {len(NOT_UPDATES)} look-alikes taken for updates",
    )


# ---- issue 26: model-server limits, escapes, secrets, image bombs, signals, damaged stores ----


@contextlib.contextmanager
def _stub(**options: object) -> Iterator[object]:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from stub_openai_server import serve_stub
    finally:
        sys.path.remove(str(ROOT / "tests"))
    with serve_stub(**options) as stub:
        yield stub


def check_stalling_server(chaos: Chaos) -> None:
    """A model server that drips one byte at a time, one that never stops, one that sends an
    endless line: each answer ends by Tera's own limits, with the text so far."""
    from tera_desktop.core.errors import ServerError
    from tera_desktop.core.generator import Sampling
    from tera_desktop.core.openai_generator import OpenAIGenerator

    messages = [{"role": "user", "content": "What is the gate code?"}]
    timeout = 2.0
    rows = []
    ok = True
    for mode, options, expect in (
        ("drip", {"drip_s": 0.2, "limit": 200}, "timeout"),
        ("endless", {"limit": 20_000}, "length"),
        ("long-line", {"limit": 64 * 1024}, "too-long"),
    ):
        with _stub(mode=mode, **options) as stub:
            gen = OpenAIGenerator(stub.url, timeout=timeout)  # type: ignore[attr-defined]
            got: list[str] = []
            t0 = time.perf_counter()
            try:
                for piece in gen.stream(messages, Sampling(max_tokens=400)):  # type: ignore[arg-type]
                    got.append(piece)
                how = "length"
            except ServerError as exc:
                how = exc.reason
            took = time.perf_counter() - t0
        ok = ok and how == expect and bool(got) and took < timeout + 5
        rows.append(f"{mode}: {how} after {took:.1f} s, {len(got)} pieces kept")
    chaos.report("stalling-server", ok, f"llm_timeout {timeout:g} s; " + "; ".join(rows))


def check_escapes_and_secrets(chaos: Chaos) -> None:
    home = chaos.work / "escapes"
    key = "sk-chaos-SECRET-0123456789"
    hostile = "x \033]52;c;ZWNobyBwd25lZA==\007 \033]0;title\007 \033[2J gate code 4512"
    chaos.tera(home, "remember", hostile)
    printed = "".join(
        r.stdout + r.stderr
        for r in (
            chaos.tera(home, "list"),
            chaos.tera(home, "search", "gate code 4512", "--mode", "keyword"),
        )
    )
    exact = json.loads(chaos.tera(home, "list", "--json").stdout)["facts"][0]["text"] == hostile
    escapes = printed.count("\033") + printed.count("\007")
    env = {
        "TERA_LLM_URL": f"http://user:{key}@127.0.0.1:9",
        "TERA_QDRANT_URL": f"https://admin:{key}@qdrant.invalid:6333",
    }
    leaks = 0
    for args in (("doctor",), ("doctor", "--json"), ("info",)):
        done = subprocess.run(
            [sys.executable, "-m", "tera_desktop.cli", *args],
            env={**chaos.env(home), **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        leaks += (done.stdout + done.stderr).count(key)
    log = (
        (home / "logs" / "tera.log").read_text(errors="replace") if (home / "logs").exists() else ""
    )
    leaks += log.count(key)
    chaos.report(
        "escapes-secrets",
        escapes == 0 and exact and leaks == 0,
        f"{escapes} control bytes printed by list/search, JSON exact: {exact}; "
        f"the key appears {leaks} times in doctor/info/log output",
    )


def _peak_rss_run(args: list[str], env: dict[str, str]) -> tuple[int, str, float, float]:
    """Run ``args``; its exit code, stdout, peak RSS in MB (wait4) and seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, usage.ru_maxrss / 1024, time.perf_counter() - t0


def check_image_bomb(chaos: Chaos) -> None:
    import zlib

    side = 19_999
    path = chaos.work / "bomb.png"
    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + 3 * side)  # RGB
    data = b"".join([squeeze.compress(row) for _ in range(side)] + [squeeze.flush()])

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    home = chaos.work / "bomb-home"
    code, out, rss, took = _peak_rss_run(
        [sys.executable, "-m", "tera_desktop.cli", "upload", str(path)], chaos.env(home)
    )
    line = next((x for x in out.splitlines() if "bomb.png" in x), out.strip()[:200])
    chaos.report(
        "image-bomb",
        code == 2 and "Image too large" in line and rss < 800 and "Warning" not in out,
        f"{path.stat().st_size / 1e6:.1f} MB PNG of {side}x{side} RGB: exit {code}, peak RSS "
        f"{rss:.0f} MB, {took:.1f} s; {line.strip()}",
    )


def check_sigterm(chaos: Chaos) -> None:
    from tera_desktop.core.conversations import ConversationStore
    from tera_desktop.core.paths import get_paths

    home = chaos.work / "signals"
    chaos.tera(home, "remember", "the gate code is 4512")
    results = []
    ok = True
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with _stub(mode="endless", piece_s=0.05, limit=2000) as stub:
            env = {**chaos.env(home), "TERA_LLM_URL": stub.url}  # type: ignore[attr-defined]
            title = f"chaos {sig.name}"
            proc = subprocess.Popen(
                [sys.executable, "-m", "tera_desktop.cli", "ask", "--chat", title, "gate code?"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert proc.stdout is not None
            shown = b""
            end = time.monotonic() + 120
            while b"word3" not in shown and time.monotonic() < end:
                piece = os.read(proc.stdout.fileno(), 4096)
                if not piece:
                    break
                shown += piece
            proc.send_signal(sig)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        conv = ConversationStore(get_paths(home)).find(title)
        saved = conv is not None and len(conv.messages) >= 2 and conv.messages[-1].text != ""
        ok = ok and proc.returncode == 130 and saved
        results.append(f"{sig.name}: exit {proc.returncode}, turn saved: {saved}")
    chaos.report("signals", ok, "; ".join(results))


def check_damaged_store(chaos: Chaos, quick: bool = False) -> None:
    """The store's id tracker with 24 flipped bytes (and other damage): doctor names it, repair
    rebuilds facts and documents (a payload page cut short keeps the facts before the cut),
    every command within 3 GB of address space."""
    from tera_desktop.core.store_health import check_store_folder

    base = chaos.work / "store-base"
    doc = chaos.work / "manual.txt"
    doc.write_text("The boiler manual: bleed the radiators in October.\n")
    facts = ["the gate code is 4512", "my cat is blue", "the bin goes out on tuesday"]
    for fact in facts:
        chaos.tera(base, "remember", fact)
    chaos.tera(base, "upload", str(doc))

    def guarded() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    def segment(home: Path) -> Path:
        segments = home / "data" / "memory" / "shard" / "segments"
        return next(p for p in segments.iterdir() if p.is_dir())

    def flip(path: Path, start: int, n: int) -> None:
        data = bytearray(path.read_bytes())
        for i in range(start, min(len(data), start + n)):
            data[i] ^= 0xA5
        path.write_bytes(bytes(data))

    cases: dict[str, Callable[[Path], None]] = {
        "id tracker flipped": lambda h: flip(segment(h) / "mutable_id_tracker.mappings", 10, 24),
        "vectors cut": lambda h: os.truncate(
            segment(h) / "vector_storage-dense" / "vectors" / "chunk_0.mmap", 4096
        ),
        "payload page cut": lambda h: os.truncate(
            segment(h) / "payload_storage" / "page_0.dat", 1000
        ),
        "wal header": lambda h: flip(h / "data" / "memory" / "shard" / "wal" / "open-1", 0, 4),
    }
    if quick:  # the runaway case and the one that loses text
        cases = {k: v for k, v in cases.items() if k in ("id tracker flipped", "payload page cut")}
    rows = []
    ok = True
    for name, damage in cases.items():
        home = chaos.work / f"store-{name.replace(' ', '-')}"
        shutil.copytree(base, home)
        damage(home)
        found = not check_store_folder(home / "data" / "memory").ok
        env = chaos.env(home)

        def run(*args: str, env: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "tera_desktop.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                preexec_fn=guarded,
            )

        doctor = json.loads(run("doctor", "--json").stdout or "{}").get("checks", [])
        named = any(c["name"] == "Memory store" and c["status"] == "fail" for c in doctor)
        repaired = run("repair")
        listed = json.loads(run("list", "--json").stdout or "{}")
        back = sorted(f["text"] for f in listed.get("facts", []))
        docs = len(listed.get("documents", []))
        whole = back == sorted(facts) or (name == "payload page cut" and 0 < len(back) < 3)
        good = found and named and repaired.returncode in (0, 2) and whole
        ok = ok and good
        rows.append(
            f"{name}: found {found}, doctor {named}, repair → {len(back)} facts {docs} docs"
        )
    chaos.report("damaged-store", ok, "; ".join(rows))


# ---- main ---------------------------------------------------------------------------------------


def check_kill_forget(chaos: Chaos) -> None:
    """kill -9 at each step of `tera forget` (issue 26.1): the next command finishes the forget,
    and the fact's text is in no file under the data folder, the saved chat that quoted it
    included."""
    from tera_desktop.core.conversations import ChatMessage, ConversationStore
    from tera_desktop.core.forgetting import CRASH_ENV, FOLDER_NAME
    from tera_desktop.core.paths import get_paths

    steps = ("intent-written", "deleted", "scrubbed", "redacted")
    results, ok = [], True
    for step in steps:
        home = chaos.work / f"kill-forget-{step}"
        token = f"quokka{uuid.uuid4().hex[:8]}"
        chaos.tera(home, "remember", f"The spare key code is {token}.")
        chaos.tera(home, "remember", "The bike lock code is 0451.")
        listed = json.loads(chaos.tera(home, "list", "--json").stdout)
        fact = next(f for f in listed["facts"] if token in f["text"])
        store = ConversationStore(get_paths(home))
        conv = store.new()
        conv.add(ChatMessage("user", "What is the spare key code?"))
        conv.add(
            ChatMessage(
                "assistant",
                f"It is {token} [1].",
                sources=[{"number": 1, "id": fact["id"], "kind": "fact", "text": fact["text"]}],
            )
        )
        store.save(conv)
        killed = subprocess.run(
            [sys.executable, "-m", "tera_desktop.cli", "forget", fact["id"]],
            env={**chaos.env(home), CRASH_ENV: step},
            capture_output=True,
            text=True,
            timeout=300,
        )
        after = chaos.tera(home, "list", "--json")
        data = home / "data"
        holding = [
            str(p.relative_to(data))
            for p in data.rglob("*")
            if p.is_file() and token.encode() in p.read_bytes()
        ]
        pending = list((data / FOLDER_NAME).glob("*.json"))
        kept = "0451" in after.stdout
        good = killed.returncode == -signal.SIGKILL and not holding and not pending and kept
        ok &= good
        results.append(f"{step}: {'gone' if not holding else 'LEFT in ' + ', '.join(holding)}")
    chaos.report("kill-forget", ok, "killed at each step, then `tera list`: " + "; ".join(results))


CHECKS: dict[str, Callable[[Chaos, argparse.Namespace], None]] = {
    "kills": lambda c, a: check_kills(c, a.kills, a.files),
    "bad-files": lambda c, a: check_bad_files(c),
    "hostile-text": lambda c, a: check_hostile_text(c),
    "full-disk": lambda c, a: check_full_disk(c),
    "scrub-cost": lambda c, a: check_scrub_cost(c, a.scrub_chunks),
    "supersede": lambda c, a: check_supersede(c),
    "stalling-server": lambda c, a: check_stalling_server(c),
    "escapes-secrets": lambda c, a: check_escapes_and_secrets(c),
    "image-bomb": lambda c, a: check_image_bomb(c),
    "signals": lambda c, a: check_sigterm(c),
    "kill-forget": lambda c, a: check_kill_forget(c),
    "damaged-store": lambda c, a: check_damaged_store(c, a.quick),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short form CI runs")
    parser.add_argument("--only", nargs="+", choices=sorted(CHECKS), default=None)
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs per phase")
    parser.add_argument("--files", type=int, default=None, help="files per kill run")
    parser.add_argument("--scrub-chunks", type=int, default=None)
    args = parser.parse_args(argv)
    args.kills = args.kills or (2 if args.quick else 20)
    args.files = args.files or (150 if args.quick else 300)  # several batches: kills land mid-way
    args.scrub_chunks = args.scrub_chunks or (2_000 if args.quick else 100_000)

    from tera_desktop.testing.tiny_models import write_tiny_embedding_model

    with tempfile.TemporaryDirectory(prefix="tera-chaos-") as tmp:
        work = Path(tmp)
        embedding = work / "tiny-embedding"
        write_tiny_embedding_model(embedding)
        chaos = Chaos(work, embedding)
        print("| check | result | detail |\n|---|---|---|", flush=True)
        for name in args.only or list(CHECKS):
            try:
                CHECKS[name](chaos, args)
            except Exception as exc:  # a probe that crashes is a failed check, not a stop
                chaos.report(name, False, f"crashed: {exc!r}")
    failed = [name for name, ok, _ in chaos.rows if not ok]
    print(f"\n{len(chaos.rows) - len(failed)} of {len(chaos.rows)} checks passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
