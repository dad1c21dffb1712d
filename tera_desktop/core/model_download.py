"""Downloading a catalog model, with progress, resume and checksum.

``download`` is a generator of ``DownloadProgress`` events, so the CLI prints them, the GUI turns
them into signals and the tests collect them in a list. Every file is fetched into
``paths.downloads / <name>.part`` (resumed with an HTTP ``Range`` request when a ``.part`` is left
over), checked against its published size and sha256, and only then moved into the model folder
with ``os.replace``: a half-written file never sits at its final path.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import (
    Cancelled,
    ChecksumError,
    DownloadError,
)
from tera_desktop.core.model_catalog import (
    DEFAULT_HUB_URL,
    HUB_URL_ENV,
    CatalogModel,
    DownloadProgress,
    ModelFile,
    _file_installed,
    model_dir,
)
from tera_desktop.core.paths import Paths

CHUNK_SIZE = 64 * 1024
PROGRESS_EVERY_BYTES = 256 * 1024
PROGRESS_EVERY_S = 0.2
USER_AGENT = "tera-desktop/0.1 (offline second memory)"
_MAX_RESTARTS = 2


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _file_url(base: str, model: CatalogModel, file: ModelFile) -> str:
    quote = urllib.parse.quote
    return f"{base}/{model.repo}/resolve/{quote(model.revision, safe='')}/{quote(file.name)}"


def _part_path(paths: Paths, model: CatalogModel, file: ModelFile) -> Path:
    flat = f"{model.name}--{file.name}".replace("/", "--")
    return paths.downloads / f"{flat}.part"


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _unlink(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()


def _by_hand(model: CatalogModel, folder: Path, base: str) -> str:
    return (
        f"Check the connection and try again (it resumes), or download the files from "
        f"{base}/{model.repo} yourself and put them in {folder}."
    )


def _reason(exc: BaseException, timeout: float) -> str:
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = str(reason).strip()
    return text or type(reason).__name__


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes START-END/TOTAL`` or ``bytes */TOTAL`` -> (START, TOTAL); None where absent."""
    if not value or not value.strip().lower().startswith("bytes"):
        return None, None
    spec = value.strip()[5:].strip()
    span, _, total_text = spec.partition("/")
    total = int(total_text) if total_text.strip().isdigit() else None
    start_text = span.partition("-")[0].strip()
    start = int(start_text) if start_text.isdigit() else None
    return start, total


def _content_length(headers: Any) -> int | None:
    value = headers.get("Content-Length")
    return int(value) if value is not None and str(value).strip().isdigit() else None


class _Meter:
    """Turns byte counts into throttled DownloadProgress events for one download() call."""

    def __init__(self, model: str, total: int, done: int) -> None:
        self.model = model
        self.total = total
        self.base = done  # bytes of files finished (or already installed)
        self.started = time.monotonic()
        self.fetched = 0  # bytes that came over the network in this call
        self._last_t = 0.0
        self._last_done = -1

    def event(self, file: str, file_done: int, *, force: bool = False) -> DownloadProgress | None:
        now = time.monotonic()
        done = self.base + file_done
        if not force and (
            done - self._last_done < PROGRESS_EVERY_BYTES and now - self._last_t < PROGRESS_EVERY_S
        ):
            return None
        self._last_t, self._last_done = now, done
        elapsed = now - self.started
        rate = self.fetched / elapsed if elapsed > 0 and self.fetched else 0.0
        total = max(self.total, done)
        eta = (total - done) / rate if rate > 0 else None
        return DownloadProgress(self.model, file, done, total, rate, eta)


_ACTIVE: set[Path] = set()
_ACTIVE_LOCK = threading.Lock()


@contextmanager
def _claim(key: Path, model: CatalogModel) -> Iterator[None]:
    """One download per model at a time in this process (they would share the .part files)."""
    with _ACTIVE_LOCK:
        if key in _ACTIVE:
            raise DownloadError(
                f"{model.name} is already being downloaded.", hint="Wait for it to finish."
            )
        _ACTIVE.add(key)
    try:
        yield
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(key)


def _check_disk(paths: Paths, model: CatalogModel, need: int) -> None:
    if need <= 0:
        return
    free = shutil.disk_usage(paths.downloads).free
    if free < need:
        raise DownloadError(
            f"Not enough disk space to download {model.name}: it needs {_human(need)} "
            f"but only {_human(free)} is free in {paths.downloads}.",
            hint="Free some space and try again.",
        ) from OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _move_into_place(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # The cache and the model folder are on different disks: copy next to the target first.
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            _unlink(tmp)
        _unlink(src)


def _hash_file(path: Path, cancel: threading.Event | None, what: str) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Stopped while checking {what}.")
            digest.update(chunk)
    return digest.hexdigest()


def download(
    paths: Paths,
    model: CatalogModel,
    *,
    cancel: threading.Event | None = None,
    base_url: str | None = None,
    timeout: float = 30,
) -> Iterator[DownloadProgress]:
    """Fetch the model's missing files, yielding progress; resumable, checksummed, cancellable.

    Files already installed with the right size are skipped. ``base_url`` (else ``$TERA_HUB_URL``,
    else the Hugging Face hub) serves files at ``{base}/{repo}/resolve/{revision}/{file}``.
    Raises DownloadError (network, server, disk), ChecksumError (the bad file is deleted) or
    Cancelled (the ``.part`` is kept, so the next call resumes).
    """
    base = (base_url or os.environ.get(HUB_URL_ENV) or DEFAULT_HUB_URL).rstrip("/")
    folder = model_dir(paths, model)
    pending = [f for f in model.files if not _file_installed(folder / f.name, f)]
    meter = _Meter(model.name, model.size, model.size - sum(max(f.size, 0) for f in pending))
    if not pending:
        return
    try:
        paths.downloads.mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create the folders to download {model.name}: {exc.strerror or exc}.",
            hint="Check the permissions of Tera's data and cache folders.",
        ) from exc
    need = 0
    for f in pending:
        if f.size > 0:
            have = _size_or_zero(_part_path(paths, model, f))
            need += f.size - (have if have <= f.size else 0)
    _check_disk(paths, model, need)
    with _claim(paths.downloads / model.name.replace("/", "--"), model):
        for f in pending:
            yield from _download_file(paths, model, f, base, meter, cancel, timeout)


def _download_file(
    paths: Paths,
    model: CatalogModel,
    file: ModelFile,
    base: str,
    meter: _Meter,
    cancel: threading.Event | None,
    timeout: float,
) -> Iterator[DownloadProgress]:
    folder = model_dir(paths, model)
    url = _file_url(base, model, file)
    part = _part_path(paths, model, file)
    hint = _by_hand(model, folder, base)
    what = f"{file.name} for {model.name}"
    digest: str | None = None
    restarts = 0

    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Download of {model.name} stopped.")
        offset = _size_or_zero(part)
        if file.size > 0 and offset > file.size:  # left over from a different file: start over
            _unlink(part)
            offset = 0
        if file.size > 0 and offset == file.size:  # complete already: verify it below
            break
        started = meter.event(file.name, offset, force=True)
        if started is not None:
            yield started

        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            remote_total = _parse_content_range(exc.headers.get("Content-Range"))[1]
            exc.close()
            if exc.code == 416 and offset:
                if remote_total == offset and file.size <= 0:
                    break  # the .part already holds the whole file
                _unlink(part)  # the .part does not fit what the server has: start over
                restarts += 1
                if restarts <= _MAX_RESTARTS:
                    continue
            raise DownloadError(
                f"Could not download {what}: {url} answered HTTP {exc.code} {exc.reason}.",
                hint=hint,
            ) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise DownloadError(
                f"Could not download {what} from {url}: {_reason(exc, timeout)}.", hint=hint
            ) from exc

        with response:
            status = getattr(response, "status", 200)
            if status == 206:
                start, remote_total = _parse_content_range(response.headers.get("Content-Range"))
                if start != offset:  # not the range we asked for: start over
                    _unlink(part)
                    restarts += 1
                    if restarts > _MAX_RESTARTS:
                        raise DownloadError(
                            f"Could not resume {what}: {url} sent the wrong byte range.",
                            hint=hint,
                        )
                    continue
                mode = "ab"
                length = _content_length(response.headers)
            else:  # 200: the server sent the whole file (it may have ignored our Range)
                offset = 0
                mode = "wb"
                remote_total = length = _content_length(response.headers)
            if file.size > 0 and remote_total is not None and remote_total != file.size:
                _unlink(part)
                raise ChecksumError(
                    f"The server has a different {what}: {remote_total} bytes, "
                    f"expected {file.size}.",
                    hint=hint,
                )

            hasher = hashlib.sha256() if file.sha256 else None
            if hasher is not None and mode == "ab":
                with part.open("rb") as fh:
                    while chunk := fh.read(1024 * 1024):
                        hasher.update(chunk)
            file_done = offset
            try:
                out = part.open(mode)
            except OSError as exc:
                raise DownloadError(
                    f"Cannot write {part}: {exc.strerror or exc}.",
                    hint="Check the permissions and free space of Tera's cache folder.",
                ) from exc
            with out:
                while True:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(
                            f"Download of {model.name} stopped; "
                            f"{_human(file_done)} of {file.name} kept to resume later."
                        )
                    try:
                        chunk = response.read(CHUNK_SIZE)
                    except (OSError, http.client.HTTPException) as exc:
                        raise DownloadError(
                            f"The download of {what} from {url} broke off after "
                            f"{_human(file_done)}: {_reason(exc, timeout)}.",
                            hint=hint,
                        ) from exc
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise DownloadError(
                            f"Cannot write {part}: {exc.strerror or exc}.",
                            hint="Free some disk space and try again (the download resumes).",
                        ) from exc
                    if hasher is not None:
                        hasher.update(chunk)
                    file_done += len(chunk)
                    meter.fetched += len(chunk)
                    progress = meter.event(file.name, file_done)
                    if progress is not None:
                        yield progress
            if length is not None and file_done - offset < length:
                raise DownloadError(
                    f"The connection to {url} closed after {_human(file_done)} of "
                    f"{_human(offset + length)} of {what}.",
                    hint=hint,
                )
            if hasher is not None:
                digest = hasher.hexdigest()
        break

    # verify, then move into place
    size = _size_or_zero(part)
    if file.size > 0 and size < file.size:
        raise DownloadError(
            f"The download of {what} stopped at {_human(size)} of {_human(file.size)}.",
            hint=hint,
        )
    if file.size > 0 and size > file.size:
        _unlink(part)
        raise ChecksumError(
            f"The downloaded {what} is {size} bytes, expected {file.size}; it was deleted.",
            hint="Try the download again.",
        )
    if file.sha256:
        if digest is None:
            digest = _hash_file(part, cancel, what)
        if digest.lower() != file.sha256.lower():
            _unlink(part)
            raise ChecksumError(
                f"The downloaded {what} is corrupt (sha256 {digest[:12]}…, expected "
                f"{file.sha256[:12]}…); it was deleted.",
                hint="Try the download again.",
            )
    try:
        _move_into_place(part, folder / file.name)
    except OSError as exc:
        raise DownloadError(
            f"Cannot move {what} into {folder}: {exc.strerror or exc}.",
            hint="Check the permissions and free space of Tera's model folder.",
        ) from exc
    meter.base += size
    finished = meter.event(file.name, 0, force=True)
    if finished is not None:
        yield finished
