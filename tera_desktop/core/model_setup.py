"""Getting the models Tera needs onto this computer: several models as one download, with one
progress (bytes, speed, time left), resumed from what is already on disk; and the words that
describe a model to a person (its role, name, size, license).

No Qt here: the first-run dialog turns these events into widgets, the tests collect them in lists.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tera_desktop.core import models
from tera_desktop.core.errors import DownloadError
from tera_desktop.core.models import KIND_EMBEDDING, KIND_LLM, CatalogModel
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import DEFAULT_EMBEDDING_MODEL, DEFAULT_LLM_MODEL


class NotEnoughSpaceError(DownloadError):
    """There is not enough free disk space for the files still to download."""

    def __init__(self, need: int, free: int) -> None:
        super().__init__(
            f"Not enough free disk space: {need} bytes are needed and {free} are free.",
            hint="Free some space and try again.",
        )
        self.need = need
        self.free = free


# ---- words --------------------------------------------------------------------------------------


def format_size(n: float) -> str:
    """``850 bytes``, ``64 KB``, ``4.2 MB``, ``123 MB``, ``1.8 GB`` (decimal units, as disks)."""
    if n < 1000:
        return f"{n:.0f} bytes"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 999.5:
            return f"{n:.1f} {unit}" if n < 9.95 else f"{n:.0f} {unit}"
    return f"{n / 1000:.1f} GB"


def format_duration(seconds: float) -> str:
    """``40 s``, ``6 min``, ``1 h 5 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def progress_text(done: int, total: int, bytes_per_s: float, eta_s: float | None) -> str:
    """``123 MB of 1.8 GB · 4.2 MB/s · about 6 min left``; parts not known yet are left out."""
    parts = [f"{format_size(done)} of {format_size(total)}" if total > 0 else format_size(done)]
    if bytes_per_s > 0 and (total <= 0 or done < total):
        parts.append(f"{format_size(bytes_per_s)}/s")
    if eta_s is not None and total > 0 and done < total:
        parts.append(f"about {format_duration(eta_s)} left")
    return " · ".join(parts)


ROLES = {
    KIND_EMBEDDING: ("Embedding model", "finds what you taught Tera"),
    KIND_LLM: ("Language model", "writes the answers"),
}
"""What each kind of model is called, and what it does for the user."""

_LICENSES = {
    "mit": "MIT license",
    "apache-2.0": "Apache 2.0 license",
    "llama3.2": "Llama 3.2 Community License",
    "microsoft-research-license": "Microsoft Research License",
}


def license_name(model: CatalogModel) -> str:
    """``MIT license``, ``Apache 2.0 license``…; "" when the catalog does not say."""
    key = model.license.strip()
    if not key:
        return ""
    if key.lower() in _LICENSES:
        return _LICENSES[key.lower()]
    return key if "licen" in key.lower() else f"{key} license"


def display_name(model: CatalogModel) -> str:
    """The model's name for people: the description's first phrase without file-format jargon
    (``Dolphin 2.6 Phi-2 (2.7B)``, ``BGE small English v1.5``); else its catalog name."""
    text = model.description.split(". ")[0].split(", ")[0].strip().rstrip(".")
    if text.endswith("-d)") and "(" in text:  # "(384-d)": an embedding size, not a name
        text = text[: text.rindex("(")].strip()
    return text or model.name


# ---- what is on disk ----------------------------------------------------------------------------


def bytes_on_disk(paths: Paths, model: CatalogModel) -> int:
    """Bytes of ``model`` already here: installed files plus partial downloads (``.part``)."""
    folder = models.model_dir(paths, model)
    total = 0
    for file in model.files:
        installed = folder / file.name
        if file.size > 0 and installed.is_file() and installed.stat().st_size == file.size:
            total += file.size
            continue
        part = models._part_path(paths, model, file)
        if part.is_file():
            total += min(part.stat().st_size, file.size) if file.size > 0 else 0
    return total


def bytes_left(paths: Paths, entries: Sequence[CatalogModel]) -> int:
    """Bytes still to download for ``entries`` (installed models count as none)."""
    return sum(
        max(0, m.size - bytes_on_disk(paths, m))
        for m in entries
        if models.installed_path(paths, m) is None
    )


def free_space(paths: Paths) -> int | None:
    """Free bytes on the disk that holds the downloads, None if it cannot be told."""
    folder = paths.downloads
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_space(paths: Paths, entries: Sequence[CatalogModel]) -> None:
    """NotEnoughSpaceError when the disk cannot hold what is left to download."""
    need = bytes_left(paths, entries)
    free = free_space(paths)
    if free is not None and need > free:
        raise NotEnoughSpaceError(need, free)


# ---- downloading several models as one ----------------------------------------------------------


@dataclass(frozen=True)
class SetupProgress:
    """Progress of one download of several models, counted over all of them."""

    model: str  # the model being fetched now
    index: int  # its position among the models (0-based)
    count: int  # how many models this download fetches
    done: int  # bytes of all the models on disk so far
    total: int  # bytes of all the models
    bytes_per_s: float  # average network speed in this download
    eta_s: float | None  # None until a speed is known


@dataclass(frozen=True)
class ModelDownloaded:
    """``model`` is complete and verified at ``path`` (its .gguf, or its folder)."""

    model: CatalogModel
    path: Path


def download_models(
    paths: Paths,
    entries: Sequence[CatalogModel],
    *,
    cancel: threading.Event | None = None,
    base_url: str | None = None,
    timeout: float = 30,
) -> Iterator[SetupProgress | ModelDownloaded]:
    """Download ``entries`` one after the other, as one: ``SetupProgress`` over all of them, and
    ``ModelDownloaded`` as each one is ready (so it can be used before the next one is done).

    Resumes from ``.part`` files; checks first that the disk can hold what is left. Raises what
    ``models.download`` raises (``friendly_error`` turns it into words).
    """
    entries = list(entries)
    check_space(paths, entries)
    total = sum(m.size for m in entries)
    started = time.monotonic()
    finished = 0  # bytes of the models already complete
    fetched_before = 0  # network bytes of the models already complete
    for index, model in enumerate(entries):
        on_disk = bytes_on_disk(paths, model)
        if models.installed_path(paths, model) is None:
            for p in models.download(
                paths, model, cancel=cancel, base_url=base_url, timeout=timeout
            ):
                fetched = fetched_before + max(0, p.done - on_disk)
                elapsed = time.monotonic() - started
                rate = fetched / elapsed if elapsed > 0 and fetched else 0.0
                done = min(finished + p.done, total)
                eta = (total - done) / rate if rate > 0 else None
                yield SetupProgress(model.name, index, len(entries), done, total, rate, eta)
            fetched_before += max(0, model.size - on_disk)
        finished += model.size
        path = models.installed_path(paths, model)
        if path is None:  # pragma: no cover - download() verified every file
            raise DownloadError(f"The download of {model.name} did not complete.")
        yield ModelDownloaded(model, path)


def model_for(kind: str, configured: str) -> CatalogModel:
    """The catalog model to offer for ``kind`` when the model set up as ``configured`` (a catalog
    name, or a file or folder) is missing: that model if it is in the catalog, else the default."""
    entry = models.CATALOG.get(configured.strip())
    if entry is not None and entry.kind == kind:
        return entry
    return models.get_model(DEFAULT_LLM_MODEL if kind == KIND_LLM else DEFAULT_EMBEDDING_MODEL)
