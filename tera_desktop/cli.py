"""``tera``: Tera's memory from a terminal (the seed's commands and a few more).

    tera remember "the gate code is 4512"
    tera upload notes/ report.md
    tera search "gate code" -k 5 --json
    tera ask "what is the gate code?"
    tera forget ID | --source PATH | --all [--yes]
    tera list [--json]
    tera models list | download NAME | import FILE.gguf

Errors print one line to stderr and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tera_desktop import __version__
from tera_desktop.core.errors import Cancelled, TeraError
from tera_desktop.core.settings import RETRIEVAL_MODES
from tera_desktop.core.units import MB, plural

EXIT_PARTIAL = 2  # some files of an upload failed
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tera",
        description="Tera: a private, offline second memory. Teach it facts and documents; ask it.",
    )
    p.add_argument("--version", action="version", version=f"tera {__version__}")
    p.add_argument(
        "--home",
        metavar="DIR",
        help="keep all of Tera's data, settings, models and logs under DIR (like $TERA_HOME)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("remember", help="remember a fact")
    r.add_argument("text", nargs="+", help="the fact (quote it, or pass several words)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.add_argument(
        "--keep-both",
        action="store_true",
        help="never mark an older fact as replaced by this one",
    )

    u = sub.add_parser("upload", help="add files or folders (recursive) to memory")
    u.add_argument("paths", nargs="+", metavar="PATH")
    u.add_argument("--json", action="store_true", help="print one JSON object per file")
    u.add_argument(
        "--sync",
        action="store_true",
        help="also forget documents from these folders whose files are gone",
    )

    s = sub.add_parser("search", help="show the memories closest to a query")
    s.add_argument("query", nargs="+")
    s.add_argument("-k", type=int, default=None, help="how many results (default: top_k setting)")
    s.add_argument("--kind", choices=["fact", "document"], help="only facts or only documents")
    s.add_argument("--source", help="only chunks of this file")
    s.add_argument("--json", action="store_true", help="print a JSON list")
    s.add_argument(
        "--mode",
        choices=list(RETRIEVAL_MODES),
        help="ranking: embeddings, keywords (BM25), both fused, or both fused with the query "
        "expanded from the first results (default: the setting)",
    )

    a = sub.add_parser("ask", help="ask a question; the answer streams, then its sources")
    a.add_argument("question", nargs="+")
    a.add_argument("-k", type=int, default=None, help="how many memories to use (default 4)")
    a.add_argument("--json", action="store_true", help="print the answer and sources as JSON")
    a.add_argument(
        "--chat",
        metavar="NAME",
        help="continue the conversation NAME (its title or id, as `tera chats` lists them; the "
        "app shows the same ones), or start one with that title; follow-ups see earlier turns",
    )

    ch = sub.add_parser("chats", help="list the saved conversations (newest first)")
    ch.add_argument("--json", action="store_true", help="print a JSON list")

    f = sub.add_parser("forget", help="forget a fact or document, a file's chunks, or everything")
    g = f.add_mutually_exclusive_group(required=True)
    g.add_argument("id", nargs="?", help="the id shown by `tera list` or `tera search`")
    g.add_argument("--source", metavar="PATH", help="forget everything from this file")
    g.add_argument("--all", action="store_true", help="forget everything")
    f.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    ls = sub.add_parser("list", help="list what Tera remembers (newest first)")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--start", type=int, default=0, help="skip this many facts")
    ls.add_argument("--limit", type=int, default=None, help="show at most this many facts")
    ls.add_argument("--kind", choices=["fact", "document"], help="only facts or only documents")

    m = sub.add_parser("models", help="list, download or import models")
    msub = m.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    ml = msub.add_parser("list", help="the model catalog and what is installed")
    ml.add_argument("--json", action="store_true")
    md = msub.add_parser("download", help="download a catalog model (resumable)")
    md.add_argument("name")
    mi = msub.add_parser("import", help="copy a local .gguf file into Tera's models folder")
    mi.add_argument("path")
    mi.add_argument("--use", action="store_true", help="also make it the language model to use")

    rp = sub.add_parser(
        "repair",
        help="check the memory's files; rebuild a damaged memory (a copy of it is kept)",
    )
    rp.add_argument(
        "--force", action="store_true", help="rebuild the memory even when no damage is found"
    )
    sub.add_parser("info", help="where Tera keeps its data, and what it holds")
    d = sub.add_parser(
        "doctor", help="check this installation: libraries, models, memory, disk (with fixes)"
    )
    d.add_argument("--json", action="store_true", help="print the checks as JSON")

    mc = sub.add_parser(
        "mcp",
        help="serve the memory to other assistants over MCP (stdio; read-only by default)",
    )
    mc.add_argument(
        "--allow-writes",
        action="store_true",
        help="also offer the remember and forget tools",
    )

    bk = sub.add_parser(
        "backup",
        help="write one archive of the memory, conversations and settings (not the models)",
    )
    bk.add_argument("file", metavar="FILE", help="the archive to write (e.g. tera.tera-backup.zip)")
    rs = sub.add_parser(
        "restore", help="restore a backup archive into this data folder (checked first)"
    )
    rs.add_argument("file", metavar="FILE", help="an archive written by `tera backup`")
    rs.add_argument(
        "--replace",
        action="store_true",
        help="replace a memory that is not empty (without it, only an empty one is restored into)",
    )
    ex = sub.add_parser(
        "export", help="write facts and conversations as plain files a person can read"
    )
    ex.add_argument(
        "--markdown",
        metavar="DIR",
        required=True,
        help="the folder to write facts.md, documents.md and conversations/*.md into",
    )
    return p


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


# C0 controls but \t and \n, DEL, C1 controls; and the bidi overrides that reorder what is shown
_CONTROLS = dict.fromkeys(
    [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F)],
    "\ufffd",
)
_CONTROLS.update(dict.fromkeys(range(0x2066, 0x206A), "\ufffd"))
_ONE_LINE = {**_CONTROLS, ord("\n"): " ", ord("\r"): " ", ord("\t"): " "}


def safe(text: object, *, one_line: bool = False) -> str:
    """``text`` from memory (a fact, a file's text or name, an answer, a chat title) made safe to
    print on a terminal: control characters (ESC, BEL, C1…) become U+FFFD, so nothing stored can
    write the clipboard, set the window title, hide a link or clear the screen; ``one_line`` also
    turns line breaks and tabs into spaces. JSON output needs none of this (json.dumps escapes)."""
    return str(text).translate(_ONE_LINE if one_line else _CONTROLS)


_PROGRESS = {"open": False}  # a progress line is on stderr without its line end yet


def _end_progress_line() -> None:
    """End an unfinished progress line, so what follows (an error) starts on its own line."""
    if _PROGRESS["open"]:
        _PROGRESS["open"] = False
        sys.stderr.write("\n")
        sys.stderr.flush()


def _progress_printer() -> Any:
    last = {"pct": -1}

    def show(progress: Any) -> None:
        pct = int(100 * progress.done / progress.total) if progress.total else 0
        if pct != last["pct"]:
            last["pct"] = pct
            eta = f", {progress.eta_s:.0f} s left" if progress.eta_s else ""
            sys.stderr.write(
                f"\rDownloading {progress.file}: {pct:3d}% "
                f"({progress.done / MB:.1f}/{progress.total / MB:.1f} MB{eta})   "
            )
            _PROGRESS["open"] = True
            sys.stderr.flush()
            if progress.done >= progress.total:
                _end_progress_line()

    return show


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}
    except EOFError:
        return False


def _run(args: argparse.Namespace) -> int:
    from tera_desktop.core.app import TeraApp
    from tera_desktop.core.logs import setup_logging
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import load_settings

    paths = get_paths(args.home).ensure()
    setup_logging(paths).info("tera %s %s", __version__, args.command)
    if args.command == "doctor":  # before the settings: a broken settings file is a finding
        return _doctor(args, paths)
    if args.command == "mcp":  # stdout carries MCP frames only: its own settings and messages
        return _mcp(args, paths)
    if args.command == "restore":  # the archive brings its own settings
        return _restore_backup(args, paths)
    settings = load_settings(paths)
    if args.command == "models":
        return _models(args, paths, settings)
    if args.command == "info":
        return _info(paths, settings)
    if args.command == "chats":
        return _chats(args, paths)
    if args.command == "repair":
        return _repair(args, paths, settings)
    if args.command == "backup":
        return _backup(args, paths, settings)
    if args.command == "export":
        return _export(args, paths, settings)

    app = TeraApp(paths, settings)  # the application core, as the window drives it
    engine = app.engine
    for problem in app.problems:  # a saved file that could not be loaded was set aside
        print(f"tera: {safe(problem.message, one_line=True)}", file=sys.stderr)
    try:
        if args.command not in ("list", "forget"):  # these two need no embedding model
            engine.ensure_embedding_model(on_progress=_progress_printer())
        engine.finish_forgets()  # a forget a killed process left half done is finished first
        handler = {
            "remember": _remember,
            "upload": _upload,
            "search": _search,
            "ask": _ask,
            "forget": _forget,
            "list": _list,
        }[args.command]
        return handler(args, engine)
    finally:
        app.close()


def _remember(args: argparse.Namespace, engine: Any) -> int:
    result = engine.remember(" ".join(args.text), supersede=not args.keep_both)
    if args.json:
        _emit(
            {
                "id": result.id,
                "text": result.text,
                "created_at": result.created_at,
                "new": result.is_new,
                "replaces": result.replaces.id if result.replaces else None,
            }
        )
    elif result.is_new:
        print(f"Remembered ({result.id}).")
        if result.replaces:  # an update of an older fact: say which (it stays, superseded)
            print(
                "It replaces an older fact, kept as superseded: "
                + safe(result.replaces.text, one_line=True)
            )
            print(f"To keep both current: tera forget {result.id}; tera remember --keep-both …")
    else:
        print(f"Already remembered on {result.created_at[:10]} ({result.id}).")
    return 0


def _upload(args: argparse.Namespace, engine: Any) -> int:
    from tera_desktop.core.ingest import FAILED, FileResult

    counts: dict[str, int] = {}
    cancel = threading.Event()
    try:
        for event in engine.upload(args.paths, cancel=cancel, sync=args.sync):
            within = getattr(event, "within_file", "")
            if within and not args.json and sys.stderr.isatty():
                sys.stderr.write(f"\r{safe(within, one_line=True)}   ")
                sys.stderr.flush()
            if not isinstance(event, FileResult):
                continue
            if not args.json and sys.stderr.isatty():
                sys.stderr.write("\r\033[K")
            counts[event.status] = counts.get(event.status, 0) + 1
            if args.json:
                _emit(
                    {
                        "path": event.path,
                        "status": event.status,
                        "chunks": event.chunks,
                        "reason": event.cli_reason,
                    }
                )
            elif event.reason:
                reason = safe(event.cli_reason)
                print(f"{event.status:<10} {safe(event.path, one_line=True)}: {reason}")
            else:
                chunks = plural(event.chunks, "chunk")
                print(f"{event.status:<10} {safe(event.path, one_line=True)} ({chunks})")
    except KeyboardInterrupt:
        cancel.set()
        print("Stopped. Files already stored are kept; run the upload again to finish.")
        return EXIT_INTERRUPTED
    if not args.json:
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no files"
        print(f"Done: {summary}. Tera now holds {plural(engine.count(), 'memory', 'memories')}.")
    return EXIT_PARTIAL if counts.get(FAILED) else 0


def _search(args: argparse.Namespace, engine: Any) -> int:
    hits = engine.search(
        " ".join(args.query), args.k, kind=args.kind, source=args.source, mode=args.mode
    )
    if args.json:
        _emit([h.as_json() for h in hits])
        return 0
    if not hits:
        print("Nothing in memory matches.")
    for i, h in enumerate(hits, 1):
        where = safe(Path(h.source).name, one_line=True) if h.source else "fact"
        text = safe(" ".join(h.text.split()), one_line=True)
        print(f"{i}. [{h.score:.3f}] {where} ({h.id})\n   {text[:300]}")
    return 0


def _ask(args: argparse.Namespace, engine: Any) -> int:
    from tera_desktop.core.prompts import AnswerDone, Reading, SourcesFound, Token
    from tera_desktop.core.session import ChatSession, answer_json

    if args.chat is not None:
        store = engine.conversations  # the one store of this home
        for problem in store.set_aside_damaged():
            print(f"tera: {safe(problem.message, one_line=True)}", file=sys.stderr)
        name = " ".join(args.chat.split())
        if not name:
            raise TeraError("The conversation name is empty.", "See `tera chats`.")
        session = ChatSession(engine, store, store.find(name))
        if not session.conversation.messages and session.conversation.title != name:
            session.rename_open(name)
    else:
        session = ChatSession(engine, persist=False)
    cancel = threading.Event()
    sources: list[Any] = []
    done: AnswerDone | None = None
    reading = printed = False
    try:
        with _signals_as_interrupt():
            for event in session.ask(" ".join(args.question), cancel=cancel, top_k=args.k):
                if isinstance(event, SourcesFound):
                    sources = event.sources
                elif isinstance(event, Reading) and not args.json and sys.stderr.isatty():
                    reading = True
                    sys.stderr.write(
                        f"\rReading {event.sources} sources… {int(100 * event.fraction):3d}%"
                    )
                    sys.stderr.flush()
                elif isinstance(event, Token) and not args.json:
                    if reading:
                        sys.stderr.write("\r" + " " * 40 + "\r")
                        reading = False
                    sys.stdout.write(safe(event.text))
                    sys.stdout.flush()
                    printed = True
                elif isinstance(event, AnswerDone):
                    done = event
                    sources = event.sources
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: the session saved the turn so far
        cancel.set()
        print("\n[stopped]")
        return EXIT_INTERRUPTED
    except TeraError as exc:
        if not printed or args.json:
            raise
        # the answer had begun: it stays on screen (and in the chat), stopped, with the reason
        print(f"\n[stopped: {safe(exc.message.removeprefix('Stopped: '), one_line=True)}]")
        if exc.hint:
            print(exc.hint)
        _print_sources(sources)
        return exc.exit_code
    if args.json:
        _emit(answer_json(done, sources))
        return 0
    print()
    if done is not None and done.text != done.raw_text and done.raw_text:
        print(f"\n(checked: {safe(done.text)})")
    if done is not None and done.checks.unsupported:
        print("Not found in memory: " + safe(", ".join(done.checks.unsupported), one_line=True))
    _print_sources(sources)
    return 0


def _print_sources(sources: list[Any]) -> None:
    if sources:
        print("\nSources:")
        for s in sources:
            text = safe(" ".join((" ".join(s.evidence) or s.text).split()), one_line=True)
            print(f"[{s.number}] {safe(s.label, one_line=True)} · {s.score:.3f} · {text[:160]}")


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal, a stopped service) act like Ctrl-C within this
    block: the answer stops and the turn so far is saved; the old handlers come back after."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                sig = getattr(signal, name)
                old[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _chats(args: argparse.Namespace, paths: Any) -> int:
    from tera_desktop.core.conversations import ConversationStore

    store = ConversationStore(paths)
    for problem in store.set_aside_damaged():  # said once: the file is set aside, untouched
        print(f"tera: {safe(problem.message, one_line=True)}", file=sys.stderr)
    summaries = store.list()
    if args.json:
        _emit(
            [
                {
                    "id": c.id,
                    "title": c.title,
                    "created_at": c.created_at,
                    "updated_at": c.updated_at,
                    "messages": c.message_count,
                }
                for c in summaries
            ]
        )
        return 0
    if not summaries:
        print('No conversations yet. Start one: tera ask --chat "My chat" "a question"')
    for c in summaries:
        when = c.updated_at[:16].replace("T", " ")
        print(f"{when}  {c.id[:8]}  {safe(c.title, one_line=True)}  ({c.message_count})")
    return 0


def _forget(args: argparse.Namespace, engine: Any) -> int:
    if args.all:
        n = engine.count()
        if not args.yes and not _confirm(f"Forget all {n} memories? This cannot be undone."):
            raise TeraError("Nothing forgotten.", "Add --yes to forget everything without asking.")
        result = engine.forget_all()
        print(f"Forgot everything ({plural(result.removed, 'chunk')}).")
    elif args.source:
        result = engine.forget_source(args.source)
        print(f"Forgot {safe(args.source, one_line=True)} ({plural(result.removed, 'chunk')}).")
    else:
        result = engine.forget(args.id)
        print(f"Forgot {safe(args.id, one_line=True)} ({plural(result.removed, 'chunk')}).")
    return 0


def _list(args: argparse.Namespace, engine: Any) -> int:
    facts = [] if args.kind == "document" else engine.facts(args.start, args.limit)
    docs = [] if args.kind == "fact" else engine.documents()
    if args.json:
        _emit(
            {
                "facts": [{"id": f.id, "text": f.text, "created_at": f.created_at} for f in facts],
                "documents": [
                    {
                        "id": d.doc_id,
                        "source": d.source,
                        "title": d.title,
                        "chunks": d.chunks,
                        "created_at": d.created_at,
                        "content_hash": d.content_hash,
                    }
                    for d in docs
                ],
            }
        )
        return 0
    if not facts and not docs:
        print('Tera remembers nothing yet. Try: tera remember "..." or tera upload FILE')
    if facts:
        print("Facts:")
        for f in facts:
            print(f"  {f.created_at[:10]}  {f.id}  {safe(f.text, one_line=True)}")
    if docs:
        print("Documents:")
        for d in docs:
            chunks = plural(d.chunks, "chunk")
            print(f"  {d.created_at[:10]}  {safe(d.source, one_line=True)}  ({chunks})")
    return 0


def _models(args: argparse.Namespace, paths: Any, settings: Any) -> int:
    from tera_desktop.core import models

    if args.models_command == "list":
        rows = []
        for name, entry in models.CATALOG.items():
            installed = models.installed_path(paths, entry)
            active = name in (settings.llm_model, settings.embedding_model)
            rows.append((entry, installed, active))
        local = models.list_local_llms(paths)
        if args.json:
            _emit(
                {
                    "catalog": [
                        {
                            "name": e.name,
                            "kind": e.kind,
                            "repo": e.repo,
                            "size": e.size,
                            "installed": bool(i),
                            "path": str(i) if i else None,
                            "active": a,
                        }
                        for e, i, a in rows
                    ],
                    "local": [str(p) for p in local],
                }
            )
            return 0
        for entry, installed, active in rows:
            mark = "*" if active else " "
            state = "installed" if installed else "not downloaded"
            print(f"{mark} {entry.kind:<9} {entry.name:<40} {entry.size / MB:8.0f} MB  {state}")
        for path in local:
            print(f"  local     {safe(path, one_line=True)}")
        print("(* = in use; models live in", paths.models, ")")
        return 0
    if args.models_command == "download":
        entry = models.get_model(args.name)
        for _ in models.download(paths, entry):
            _progress_printer()(_)
        print(f"{entry.name} is ready in {models.model_dir(paths, entry)}.")
        return 0
    target = models.import_gguf(paths, Path(args.path).expanduser())
    if args.use:
        from dataclasses import replace

        from tera_desktop.core.settings import load_settings, save_settings

        save_settings(paths, replace(load_settings(paths, use_env=False), llm_model=str(target)))
    print(f"Imported {target.name} into {target.parent}.")
    return 0


def _repair(args: argparse.Namespace, paths: Any, settings: Any) -> int:
    """Keep the damaged store as it is (moved aside), read what it still holds in a bounded
    child process, and rebuild (``core/repair.py``, which the window's Repair button runs too)."""
    from tera_desktop.core.repair import RepairResult, repair_memory

    result = RepairResult()
    if not settings.qdrant_url:
        from tera_desktop.core.embedder import resolve_embedding

        try:  # the embedding model is needed to rebuild: fetch it first, with progress
            resolve_embedding(paths, settings.embedding_model)
        except TeraError:
            from tera_desktop.core.engine import Engine

            with Engine(paths, settings) as engine:
                engine.ensure_embedding_model(on_progress=_progress_printer())
    for step in repair_memory(paths, settings, force=args.force):
        if isinstance(step, RepairResult):
            result = step
        else:
            print(safe(step, one_line=True), flush=True)
    if result.nothing_to_do:
        print(f"The memory at {paths.store} is intact: nothing to repair.")
        return 0
    print(result.summary)
    return EXIT_PARTIAL if result.files_failed or result.unreadable else 0


def _info(paths: Any, settings: Any) -> int:
    print(f"Tera {__version__}")
    for label, folder in (
        ("data", paths.data),
        ("memory", paths.store),
        ("settings", paths.settings_file),
        ("models", paths.models),
        ("cache", paths.cache),
        ("logs", paths.logs),
    ):
        print(f"  {label:<9} {folder}")
    print(f"  embedding {settings.embedding_model}")
    if settings.llm_url.strip():
        from tera_desktop.core.providers import server_address

        model = settings.llm_server_model or "the server's model"
        print(f"  llm       {model} on the model server {server_address(settings)}")
    else:
        print(f"  llm       {settings.llm_model}")
    from tera_desktop.core.secrets import mask_secrets

    store = (
        mask_secrets(settings.qdrant_url, [settings.qdrant_api_key]) if settings.qdrant_url else ""
    )
    print(f"  store     {store or 'embedded Qdrant engine (on disk)'}")
    return 0


def _doctor(args: argparse.Namespace, paths: Any) -> int:
    """Exit 0 when nothing failed (warnings allowed), 1 when a check failed."""
    from tera_desktop.core import doctor

    checks = []
    if not args.json:
        print(doctor.header())
    for check in doctor.run_checks(paths):
        checks.append(check)
        if not args.json:
            print(doctor.format_check(check), flush=True)
    if args.json:
        _emit(doctor.report_json(checks))
    else:
        print(doctor.summary(checks))
    return 1 if doctor.overall(checks) == doctor.FAIL else 0


def _mcp(args: argparse.Namespace, paths: Any) -> int:
    from tera_desktop.mcp_server import serve

    return serve(paths, allow_writes=args.allow_writes)


def _backup(args: argparse.Namespace, paths: Any, settings: Any) -> int:
    import time

    from tera_desktop.core.backup import backup
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.errors import StoreLockedError
    from tera_desktop.core.instance import InstanceLock

    start = time.perf_counter()
    engine = Engine(paths, settings)
    try:
        try:
            engine.finish_forgets()  # nothing a killed forget left behind goes into the archive
            result = backup(engine, Path(args.file))
        except StoreLockedError as exc:
            if InstanceLock.for_paths(paths).holder_pid() is None:
                raise
            raise StoreLockedError(
                "Tera's window has this memory open.",
                "Use File → Back Up… in the window, or close it and run tera backup again.",
            ) from exc
    finally:
        engine.close()
    print(
        f"Backed up {plural(result.facts, 'fact')}, {plural(result.documents, 'document')} "
        f"({plural(result.chunks, 'chunk')}) and {plural(result.conversations, 'conversation')} "
        f"to {safe(result.path, one_line=True)} ({result.size / MB:.1f} MB, "
        f"{time.perf_counter() - start:.1f} s)."
    )
    return 0


def _restore_backup(args: argparse.Namespace, paths: Any) -> int:
    from tera_desktop.core.backup import restore

    result = restore(Path(args.file), paths, replace=args.replace)
    print(
        f"Restored {plural(result.facts, 'fact')}, {plural(result.documents, 'document')} "
        f"({plural(result.chunks, 'chunk')}) and {plural(result.conversations, 'conversation')} "
        f"into {paths.data}."
    )
    if not result.settings_restored:
        print("The settings of this data folder were kept (add --replace to restore them too).")
    return 0


def _export(args: argparse.Namespace, paths: Any, settings: Any) -> int:
    from tera_desktop.core.backup import export_markdown
    from tera_desktop.core.engine import Engine

    with Engine(paths, settings) as engine:
        engine.finish_forgets()  # nothing a killed forget left behind is written out
        result = export_markdown(engine, Path(args.markdown))
    print(
        f"Wrote {plural(result.facts, 'fact')}, {plural(result.documents, 'document')} (a list) "
        f"and {plural(result.conversations, 'conversation')} as Markdown to "
        f"{safe(result.folder, one_line=True)}."
    )
    return 0


def _say_error(error: object) -> None:
    """One line on stderr: no key or password in it, no control character from memory."""
    from tera_desktop.core.secrets import mask_secrets

    _end_progress_line()
    print(f"tera: {safe(mask_secrets(str(error)), one_line=True)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except Cancelled as exc:
        _say_error(exc)
        return EXIT_INTERRUPTED
    except TeraError as exc:
        _say_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        _end_progress_line()
        print("tera: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: still one line for the user, the details in the log
        logging.getLogger("tera").exception("unexpected error")
        _say_error(f"unexpected error: {exc!r} (details in the log file)")
        return 1


if __name__ == "__main__":  # pragma: no cover
    signal.signal(signal.SIGPIPE, signal.SIG_DFL) if hasattr(signal, "SIGPIPE") else None
    sys.exit(main())
