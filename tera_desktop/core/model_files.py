"""Model files the user picks: a GGUF copied into the models folder, and the ones already there."""

from __future__ import annotations

import filecmp
import os
import shutil
import uuid
from pathlib import Path

from tera_desktop.core.errors import (
    ModelLoadError,
    NotFoundError,
)
from tera_desktop.core.model_catalog import GGUF_MAGIC
from tera_desktop.core.model_download import _unlink
from tera_desktop.core.paths import Paths


def _unique_path(path: Path) -> Path:
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def _same_content(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def import_gguf(paths: Paths, source: Path) -> Path:
    """Copy a user's GGUF file into the LLM folder (atomically) and return its new path.

    The file must start with the GGUF magic bytes. An identical file already there is reused; a
    different file with the same name gets a ``-2``, ``-3``… suffix rather than being replaced.
    """
    source = Path(source).expanduser()
    try:
        with source.open("rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
    except FileNotFoundError:
        raise NotFoundError(f"There is no file at {source}.") from None
    except IsADirectoryError:
        raise ModelLoadError(f"{source} is a folder, not a GGUF model file.") from None
    except OSError as exc:
        raise ModelLoadError(f"Cannot read {source}: {exc.strerror or exc}.") from exc
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{source.name} is not a GGUF model file (it does not start with 'GGUF').",
            hint="Pick a .gguf file, such as one from Hugging Face.",
        )
    folder = paths.llm_models
    name = source.name if source.suffix.lower() == ".gguf" else f"{source.name}.gguf"
    dest = folder / name
    if dest.exists():
        try:
            if dest.samefile(source) or _same_content(source, dest):
                return dest
        except OSError:
            pass
        dest = _unique_path(dest)
    tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        raise ModelLoadError(
            f"Cannot copy {source.name} into {folder}: {exc.strerror or exc}.",
            hint="Check the free space and permissions of Tera's model folder.",
        ) from exc
    finally:
        _unlink(tmp)
    return dest


def list_local_llms(paths: Paths) -> list[Path]:
    """The .gguf files in the LLM folder, sorted by name (temporary files excluded)."""
    folder = paths.llm_models
    if not folder.is_dir():
        return []
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix.lower() == ".gguf" and not p.name.startswith(".") and p.is_file()
        ),
        key=lambda p: p.name.lower(),
    )
