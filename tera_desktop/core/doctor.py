"""Is this installation healthy? A list of checks, each ok / warn / fail with its detail and fix.

``run_checks`` is a generator (each check as it finishes: the CLI prints it, the GUI appends it
from a worker). It never raises for a problem it finds: a broken library, a missing or corrupt
model, a memory another Tera process holds, a full disk: each becomes a ``Check``. Given the app's
running ``Engine``, it reuses what that engine has loaded instead of opening the memory a second
time (the engine holds its lock).

Used by ``tera doctor [--json]`` and Help → Check Installation… No Qt here.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import importlib
import importlib.metadata as metadata
import importlib.util
import os
import platform
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tera_desktop import __version__
from tera_desktop.core import models
from tera_desktop.core.errors import (
    ACTION_SETTINGS,
    ACTION_SETUP_MODELS,
    ModelMissingError,
    StoreLockedError,
    TeraError,
)
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import ENV_OVERRIDES, Settings, env_overrides, load_settings

if TYPE_CHECKING:
    from tera_desktop.core.engine import Engine

OK = "ok"
WARN = "warn"
FAIL = "fail"
STATUSES = (OK, WARN, FAIL)

MIN_PYTHON = (3, 11)
# Below this much free space a model download or a large upload fails; below the floor even
# saving settings and memories may fail.
FREE_SPACE_FLOOR = 200 * 1000**2
FREE_SPACE_COMFORT = 1000**3

# (distribution, module to import or "" for metadata only, needed by)
LIBRARIES: tuple[tuple[str, str, str], ...] = (
    ("numpy", "numpy", ""),
    ("platformdirs", "platformdirs", ""),
    ("onnxruntime", "onnxruntime", "embeddings"),
    ("tokenizers", "tokenizers", "embeddings"),
    ("fastembed", "fastembed", "embeddings"),
    ("qdrant-edge-py", "qdrant_edge", "the memory store"),
    ("qdrant-client", "", "the Qdrant server option"),
    ("llama-cpp-python", "llama_cpp", "answers"),
    ("watchdog", "watchdog", "watched folders"),
    ("pypdf", "pypdf", "PDF files"),
    ("python-docx", "docx", "Word files"),
    ("beautifulsoup4", "bs4", "HTML files"),
    ("lxml", "lxml", "HTML files"),
    ("charset-normalizer", "charset_normalizer", "text encodings"),
)

# Linux system libraries Qt needs (the xcb platform for a desktop, offscreen for --selftest).
QT_SYSTEM_LIBS: tuple[tuple[str, str], ...] = (
    ("EGL", "libegl1"),
    ("GL", "libgl1"),
    ("glib-2.0", "libglib2.0-0"),
    ("xkbcommon", "libxkbcommon0"),
    ("xkbcommon-x11", "libxkbcommon-x11-0"),
    ("fontconfig", "libfontconfig1"),
    ("dbus-1", "libdbus-1-3"),
    ("xcb-cursor", "libxcb-cursor0"),
)

# llama.cpp CPU features worth naming (as llama_print_system_info spells them).
_SIMD = ("AVX", "AVX2", "AVX512", "AVX512_VNNI", "AVX_VNNI", "FMA", "F16C", "BMI2", "NEON")
_REBUILD = (
    'CMAKE_ARGS="-DGGML_NATIVE=ON" .venv/bin/pip install --force-reinstall --no-cache-dir '
    "--no-deps llama-cpp-python=={version}"
)


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ``ok``, ``warn`` or ``fail``; ``fix`` says what to do."""

    name: str
    status: str
    detail: str
    fix: str = ""  # the CLI's words (may name a `tera` command)
    action: str = ""  # what to do as core/errors.py's ACTION_* key (the window words it)

    def as_json(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if k != "action"}


# ---- small helpers ------------------------------------------------------------------------------


def format_bytes(n: float) -> str:
    """``850 bytes``, ``64 KB``, ``4.2 MB``, ``1.8 GB`` (decimal units, as disks)."""
    if n < 1000:
        return f"{n:.0f} bytes"
    for unit in ("KB", "MB", "GB"):
        n /= 1000
        if n < 999.5 or unit == "GB":
            return f"{n:.1f} {unit}" if n < 9.95 else f"{n:.0f} {unit}"
    return f"{n:.0f} GB"  # pragma: no cover - the loop returns


def disk_bytes(st: os.stat_result) -> int:
    """What a file takes on disk (512-byte blocks, POSIX), else its length."""
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if isinstance(blocks, int) else st.st_size


def folder_size(folder: Path) -> int:
    """Bytes the files under ``folder`` take on disk, as ``du`` counts them: allocated blocks, so a
    sparse file (the store preallocates) counts what it holds, not its length (symlinks not
    followed; unreadable parts skipped; the length where the system has no block count)."""
    total = 0
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += disk_bytes(entry.stat(follow_symlinks=False))
        except OSError:
            continue
    return total


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _requirements() -> dict[str, str]:
    """Tera's own requirement per dependency: normalized name → specifier (e.g. ``==0.9.0``)."""
    try:
        declared = metadata.requires("tera-desktop") or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, str] = {}
    for line in declared:
        if ";" in line:  # an extra's dependency (gui, test): not a run-time need of the core
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)", line)
        if m:
            found[_norm(m.group(1))] = m.group(2).strip()
    return found


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _satisfies(version: str, spec: str) -> bool | None:
    """True/False when ``packaging`` can tell, None when it cannot."""
    if not spec:
        return True
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        return Version(version) in SpecifierSet(spec)
    except Exception:
        return None


def cpu_flags() -> set[str]:
    """The CPU's SIMD features as llama.cpp names them (Linux: /proc/cpuinfo; else empty)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    raw = set(line.split(":", 1)[1].split()) if ":" in line else set()
    names = {
        "avx": "AVX",
        "avx2": "AVX2",
        "avx512f": "AVX512",
        "avx512_vnni": "AVX512_VNNI",
        "avx_vnni": "AVX_VNNI",
        "fma": "FMA",
        "f16c": "F16C",
        "bmi2": "BMI2",
        "asimd": "NEON",
    }
    return {name for flag, name in names.items() if flag in raw}


def parse_system_info(text: str) -> dict[str, bool]:
    """``"CPU : SSE3 = 1 | AVX2 = 1 | ..."`` → ``{"SSE3": True, "AVX2": True, ...}``."""
    return {k: v == "1" for k, v in re.findall(r"([A-Z][A-Z0-9_]*) = ([01])\b", text)}


def _rebuild_hint() -> str:
    if getattr(sys, "frozen", False):
        return (
            "The packaged app ships this portable build; a source install (scripts/install.sh) "
            "can rebuild llama.cpp for this CPU."
        )
    version = _version("llama-cpp-python") or "0.3.36"
    return "Rebuild it for this CPU (6–10 minutes): " + _REBUILD.format(version=version)


# ---- the checks ---------------------------------------------------------------------------------


def check_settings(
    paths: Paths, environ: Mapping[str, str] | None = None
) -> tuple[Check, Settings]:
    file = paths.settings_file
    try:
        settings = load_settings(paths)
    except TeraError as exc:
        return Check(
            "Settings", FAIL, exc.message, exc.hint or f"Fix or delete {file}."
        ), Settings()
    where = str(file) if file.exists() else f"defaults (no {file.name} yet; it would be {file})"
    env = os.environ if environ is None else environ
    active = {attr for attr in env_overrides(environ)}
    names = [var for var, attr in ENV_OVERRIDES.items() if attr in active and env.get(var)]
    detail = where
    if names:
        detail += f"; overridden for this run by {', '.join(names)} (never saved)"
    return Check("Settings", OK, detail), settings


def check_python() -> Check:
    v = sys.version_info
    where = "bundled with Tera" if getattr(sys, "frozen", False) else sys.executable
    detail = f"Python {platform.python_version()} ({where}) on {platform.platform(terse=True)}"
    if v[:2] < MIN_PYTHON:
        return Check(
            "Python",
            FAIL,
            detail,
            "Tera needs Python 3.11 or newer: install it, delete .venv and run "
            "bash scripts/install.sh again.",
        )
    return Check("Python", OK, detail)


def check_libraries(importer: Callable[[str], Any] = importlib.import_module) -> Check:
    """Each dependency installed, importable and of the version Tera asks for."""
    wanted = _requirements()
    parts: list[str] = []
    problems: list[str] = []
    for dist, module, needed_for in LIBRARIES:
        version = _version(dist)
        for_what = f" (needed for {needed_for})" if needed_for else ""
        if version is None:
            problems.append(f"{dist} is not installed{for_what}")
            continue
        spec = wanted.get(_norm(dist), "")
        if _satisfies(version, spec) is False:
            problems.append(f"{dist} {version} is installed, Tera needs {dist}{spec}")
        if module:
            try:
                importer(module)
            except Exception as exc:  # a broken native library shows here
                problems.append(f"{dist} {version} does not load: {exc}")
                continue
        parts.append(f"{dist} {version}")
    gui = _version("PySide6-Essentials") or _version("PySide6")
    if gui:
        parts.append(f"PySide6 {gui}")
    detail = ", ".join(parts)
    if problems:
        return Check(
            "Libraries",
            FAIL,
            "; ".join(problems) + (f". Loaded: {detail}" if detail else ""),
            "Run bash scripts/install.sh again from the source folder (it installs the "
            'versions Tera needs), or .venv/bin/pip install -e ".[gui]".',
        )
    return Check("Libraries", OK, detail)


def check_gui() -> Check:
    """PySide6 present (without importing Qt: this module stays Qt-free) and, on Linux, the
    system libraries Qt loads."""
    version = _version("PySide6-Essentials") or _version("PySide6")
    if version is None or importlib.util.find_spec("PySide6") is None:
        return Check(
            "Desktop app (Qt)",
            WARN,
            "PySide6 is not installed: the `tera` command works, the desktop window does not.",
            '.venv/bin/pip install -e ".[gui]" (or bash scripts/install.sh).',
        )
    detail = f"PySide6 {version}"
    if not sys.platform.startswith("linux") or getattr(sys, "frozen", False):
        return Check("Desktop app (Qt)", OK, detail)
    missing = [pkg for lib, pkg in QT_SYSTEM_LIBS if ctypes.util.find_library(lib) is None]
    if missing:
        return Check(
            "Desktop app (Qt)",
            WARN,
            f"{detail}; system libraries Qt needs are missing: {', '.join(missing)}",
            f"sudo apt-get install {' '.join(missing)} (Debian/Ubuntu names), or run "
            "bash scripts/install.sh as root.",
        )
    return Check("Desktop app (Qt)", OK, f"{detail}; the system libraries Qt needs are present")


def check_llama_build(system_info: str | None = None, cpu: set[str] | None = None) -> Check:
    """Which CPU features llama.cpp was built to use, beside the ones this CPU has."""
    name = "llama.cpp build"
    if system_info is None:
        try:
            import llama_cpp

            raw = llama_cpp.llama_print_system_info()
            system_info = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        except Exception as exc:
            return Check(
                name,
                FAIL,
                f"llama-cpp-python does not load: {exc}",
                "Run bash scripts/install.sh again (it builds llama.cpp: 6–10 minutes); the "
                "build needs cmake and a C++ compiler "
                "(sudo apt-get install build-essential cmake).",
            )
    flags = parse_system_info(system_info)
    cpu = cpu_flags() if cpu is None else cpu
    used = [f for f in _SIMD if flags.get(f)]
    detail = "uses " + (", ".join(used) if used else "no SIMD extensions")
    unused = [f for f in ("AVX2", "AVX512") if f in cpu and not flags.get(f)]
    if "AVX2" in unused:
        return Check(
            name,
            WARN,
            f"{detail}; this CPU has AVX2 but the build does not use it (answers are slower)",
            _rebuild_hint(),
        )
    if "AVX512" in unused:
        return Check(
            name,
            OK,
            f"{detail} (a portable build); this CPU also has AVX-512, which it does not use",
            "Optional: " + _rebuild_hint(),
        )
    if cpu:
        detail += "; matches this CPU"
    return Check(name, OK, detail)


def check_embedding_model(paths: Paths, settings: Settings, engine: Engine | None = None) -> Check:
    from tera_desktop.core.embedder import FastEmbedEmbedder, resolve_embedding

    name = "Embedding model"
    try:
        spec = engine.embedding_spec() if engine is not None else None
        spec = spec or resolve_embedding(paths, settings.embedding_model)
    except ModelMissingError as exc:
        return Check(
            name,
            FAIL,
            f"{exc.message} Without it Tera cannot remember or search.",
            exc.hint or "Start Tera: it offers to download the model.",
            action=exc.action or ACTION_SETUP_MODELS,
        )
    except TeraError as exc:
        return Check(
            name,
            FAIL,
            exc.message,
            exc.hint or "Choose another model in Settings.",
            action=exc.action or ACTION_SETTINGS,
        )
    where = f"{spec.name} ({spec.dim}-d) in {spec.folder}"
    try:
        embedder = engine.embedder if engine is not None else FastEmbedEmbedder(spec, threads=1)
        vector = embedder.embed_query("Is Tera healthy?")
        if len(vector) != spec.dim:  # pragma: no cover - the embedder checks it
            raise TeraError(f"it gives {len(vector)}-d vectors, not {spec.dim}-d")
    except TeraError as exc:
        return Check(
            name,
            FAIL,
            f"{where} does not load: {exc.message}",
            exc.hint or "Download it again (tera models download NAME) or choose another.",
            action=exc.action or ACTION_SETUP_MODELS,
        )
    except Exception as exc:
        return Check(
            name,
            FAIL,
            f"{where} does not load: {exc}",
            "Download it again (tera models download NAME) or choose another.",
            action=ACTION_SETUP_MODELS,
        )
    return Check(name, OK, f"{where}: loads and embeds")


def check_language_model(paths: Paths, settings: Settings, engine: Engine | None = None) -> Check:
    from tera_desktop.core.engine import resolve_llm
    from tera_desktop.core.generator import LlamaGenerator

    name = "Language model"
    if str(getattr(settings, "llm_url", "")).strip():
        return _check_model_server(paths, settings, engine)
    try:
        path = resolve_llm(paths, settings.llm_model)
    except ModelMissingError as exc:
        return Check(
            name,
            WARN,
            f"{exc.message} Tera still remembers and searches, but writes no answers.",
            exc.hint or "Start Tera: it offers to download a model.",
            action=exc.action or ACTION_SETUP_MODELS,
        )
    except TeraError as exc:
        return Check(
            name,
            FAIL,
            exc.message,
            exc.hint or "Choose another model in Settings.",
            action=exc.action or ACTION_SETTINGS,
        )
    size = format_bytes(path.stat().st_size)
    if engine is not None and engine.generator_loaded:
        return Check(name, OK, f"{path} ({size}): loaded in this window")
    try:
        generator = LlamaGenerator(
            path, n_ctx=256, n_threads=1, n_threads_batch=settings.llm_threads_batch
        )
    except TeraError as exc:
        return Check(
            name,
            FAIL,
            f"{path} ({size}) does not load: {exc.message}",
            exc.hint or "Download it again or choose another model.",
        )
    except Exception as exc:
        return Check(name, FAIL, f"{path} ({size}) does not load: {exc}", "Choose another model.")
    try:
        n_ctx = generator.n_ctx
    finally:
        generator.close()
    return Check(name, OK, f"{path} ({size}): loads (tested with a {n_ctx}-token context)")


def _check_model_server(paths: Paths, settings: Settings, engine: Engine | None) -> Check:
    """Answers come from an OpenAI-compatible model server: is it there, with the model?"""
    providers: Any = importlib.import_module("tera_desktop.core.providers")
    name = "Language model"
    url = str(getattr(settings, "llm_url", ""))
    if engine is not None and engine.generator_loaded:
        return Check(name, OK, f"{providers.describe_generator(engine.generator)}: connected")
    try:
        generator = providers.make_generator(paths, settings)
    except TeraError as exc:
        return Check(
            name,
            FAIL,
            f"the model server at {url}: {exc.message}",
            exc.hint or "Start the model server, or clear its address in Settings.",
        )
    try:
        described = providers.describe_generator(generator)
    finally:
        generator.close()
    return Check(name, OK, f"{described}: reachable")


def _store_dim(paths: Paths, settings: Settings) -> tuple[int, str] | None:
    """The embedding size and model to open the store with: from the settings' model, else from
    the store's own record (so the memory can be checked even when the model is missing)."""
    from tera_desktop.core.embedder import resolve_embedding

    with contextlib.suppress(TeraError):
        spec = resolve_embedding(paths, settings.embedding_model)
        return spec.dim, spec.name
    from tera_desktop.core.store import _META_FILE, _read_meta

    meta = _read_meta(paths.store / _META_FILE)
    if meta.get("dim"):
        return int(meta["dim"]), str(meta.get("embedding_model", ""))
    return None


def check_store(paths: Paths, settings: Settings, engine: Engine | None = None) -> Check:
    from tera_desktop.core.instance import InstanceLock

    where = settings.qdrant_url or str(paths.store)
    name = "Memory store"
    if engine is not None:
        try:
            count = engine.count()
        except ModelMissingError:
            return Check(
                name,
                WARN,
                f"{where}: not opened, it needs the embedding model",
                "Install the embedding model first (see above).",
            )
        except TeraError as exc:
            return Check(name, FAIL, f"{where}: {exc.message}", exc.hint or "")
        return Check(name, OK, f"{where}: open in this window, {count} memories")
    if not settings.qdrant_url and not (paths.store / "shard").exists():
        return Check(name, OK, f"{where}: empty (created when Tera first remembers something)")

    dim = _store_dim(paths, settings)
    if dim is None:
        return Check(
            name,
            WARN,
            f"{where}: not opened (its embedding size is unknown without the embedding model)",
            "Install the embedding model first (see above).",
        )
    lock = InstanceLock.for_paths(paths)
    try:
        held = lock.acquire()
    except TeraError as exc:
        return Check(name, FAIL, exc.message, exc.hint or "")
    if not held:
        pid = lock.holder_pid()
        who = f" (process {pid})" if pid else ""
        return Check(
            name,
            WARN,
            f"{where}: in use by a running Tera{who}, so it was not opened here",
            "Nothing is wrong. To check the memory too, close Tera and run `tera doctor` again, "
            "or use Help → Check Installation… in the open window.",
        )
    try:
        damaged = _store_damage(paths, settings, name, where)
        if damaged is not None:
            return damaged
        from tera_desktop.core.store import open_store

        try:
            store = open_store(
                folder=paths.store,
                dim=dim[0],
                embedding_model=dim[1],
                qdrant_url=settings.qdrant_url,
                qdrant_api_key=settings.qdrant_api_key,
                collection=settings.qdrant_collection,
            )
        except StoreLockedError:
            return Check(
                name,
                WARN,
                f"{where}: in use by another Tera command, so it was not opened here",
                "Nothing is wrong. Run `tera doctor` again when that command has finished.",
            )
        except TeraError as exc:
            return Check(name, FAIL, f"{where}: {exc.message}", exc.hint or "")
        except Exception as exc:
            return Check(name, FAIL, f"{where}: cannot open: {exc}", "")
        try:
            count = store.count()
        finally:
            store.close()
    finally:
        lock.release()
    return Check(name, OK, f"{where}: opens, {count} memories")


def _store_damage(paths: Paths, settings: Settings, name: str, where: str) -> Check | None:
    """A failed check when the embedded store's files are damaged (checked before the engine
    opens them: a damaged store can run away with memory and disk), else None. Checked only
    while no other Tera command writes to it (its lock is free), so a write in progress is
    never taken for damage."""
    if settings.qdrant_url or not paths.store.exists():
        return None
    from tera_desktop.core.instance import InstanceLock
    from tera_desktop.core.store_health import REPAIR_HINT, check_store_folder

    lock = InstanceLock(paths.store / "store.lock")
    try:
        if not lock.acquire():
            return None  # in use: opening it says so
        health = check_store_folder(paths.store)
    except TeraError:
        return None
    finally:
        lock.release()
    if health.ok:
        return None
    return Check(name, FAIL, f"{where}: damaged: {health.summary()}", REPAIR_HINT)


def check_disk(paths: Paths, settings: Settings) -> Check:
    target = _existing_ancestor(paths.data)
    try:
        usage = shutil.disk_usage(target)
    except OSError as exc:
        return Check("Free disk space", FAIL, f"cannot read the free space at {target}: {exc}")
    free = usage.free
    need = 0
    for value in (settings.llm_model, settings.embedding_model):
        entry = models.CATALOG.get(value)
        if entry is not None and models.installed_path(paths, entry) is None:
            need += entry.size
    detail = f"{format_bytes(free)} free of {format_bytes(usage.total)} at {target}"
    if free < FREE_SPACE_FLOOR:
        return Check(
            "Free disk space",
            FAIL,
            detail + ": too little to save memories safely",
            "Free some space on that disk, or set TERA_HOME to a folder on a larger disk.",
        )
    if free < need + FREE_SPACE_COMFORT:
        wanted = f" (the missing models need {format_bytes(need)})" if need else ""
        return Check(
            "Free disk space",
            WARN,
            detail + wanted,
            "Free some space on that disk, or set TERA_HOME to a folder on a larger disk.",
        )
    return Check("Free disk space", OK, detail)


def check_data_folder(paths: Paths) -> Check:
    name = "Data folder"
    data = paths.data
    if data.exists() and not os.access(data, os.W_OK | os.X_OK):
        return Check(
            name,
            FAIL,
            f"{data} is not writable",
            f"Give yourself write access to {data}, or set TERA_HOME to a folder you own.",
        )
    parts = [
        ("memory", paths.store),
        ("conversations", data / "conversations"),
        ("models", paths.models),
    ]
    total = folder_size(data) if data.exists() else 0
    listed = []
    for label, folder in parts:
        if folder.exists():
            elsewhere = "" if folder.is_relative_to(data) else f" at {folder}"
            listed.append(f"{label}{elsewhere} {format_bytes(folder_size(folder))}")
    detail = f"{data}: {format_bytes(total)}" + (f" ({', '.join(listed)})" if listed else "")
    return Check(name, OK, detail)


def run_checks(
    paths: Paths,
    *,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Check]:
    """Every check, in order, each as soon as it is done. The settings are read from ``paths``
    (with the environment's overrides), or taken from ``engine`` when the app passes its own."""
    settings_check, settings = check_settings(paths, environ)
    if engine is not None:
        settings = engine.settings
    keys = [str(getattr(settings, "llm_api_key", "")), str(getattr(settings, "qdrant_api_key", ""))]
    yield masked(settings_check, keys)
    for check in (
        check_python,
        check_libraries,
        check_gui,
        check_llama_build,
        lambda: check_embedding_model(paths, settings, engine),
        lambda: check_language_model(paths, settings, engine),
        lambda: check_store(paths, settings, engine),
        lambda: check_disk(paths, settings),
        lambda: check_data_folder(paths),
    ):
        yield masked(check(), keys)


def masked(check: Check, secrets: Sequence[str] = ()) -> Check:
    """``check`` with every key and password hidden (the report is meant to be shared)."""
    from tera_desktop.core.secrets import mask_secrets

    return Check(
        check.name,
        check.status,
        mask_secrets(check.detail, secrets),
        mask_secrets(check.fix, secrets),
        check.action,
    )


# ---- reports ------------------------------------------------------------------------------------


def overall(checks: list[Check]) -> str:
    """``fail`` if any check failed, else ``warn`` if any warned, else ``ok``."""
    statuses = {c.status for c in checks}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else OK


def summary(checks: list[Check]) -> str:
    fails = sum(c.status == FAIL for c in checks)
    warns = sum(c.status == WARN for c in checks)
    if not fails and not warns:
        return "Everything checked is healthy."
    parts = []
    if fails:
        parts.append(f"{fails} problem{'s' if fails > 1 else ''} to fix")
    if warns:
        parts.append(f"{warns} warning{'s' if warns > 1 else ''}")
    return " and ".join(parts).capitalize() + "."


def header() -> str:
    return f"Tera {__version__}: installation check"


def format_check(check: Check) -> str:
    """``[ ok ] Python            3.11.7 (...)`` and, when there is one, an indented fix line."""
    mark = {OK: " ok ", WARN: "warn", FAIL: "FAIL"}.get(check.status, check.status)
    text = f"[{mark}] {check.name:<17} {check.detail}"
    if check.fix:
        text += f"\n       fix: {check.fix}"
    return text


def format_report(checks: list[Check]) -> str:
    """The whole report as plain text (what `tera doctor` prints and the dialog's Copy copies)."""
    lines = [header(), *(format_check(c) for c in checks), summary(checks)]
    return "\n".join(lines) + "\n"


def report_json(checks: list[Check]) -> dict[str, Any]:
    return {
        "version": __version__,
        "status": overall(checks),
        "checks": [c.as_json() for c in checks],
    }
