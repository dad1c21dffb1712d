"""Why a model download (or copy) failed, in one sentence a non-programmer can act on.

``friendly_error(exc)`` looks through the exception and its causes (``DownloadError`` is raised
``from`` the ``URLError``, ``HTTPError``, ``OSError`` or ``TimeoutError`` underneath) and answers
with what happened and what to do: "No internet connection: connect and press Retry, or choose
model files you already have." It never shows a URL, an errno, a host name or an exception name:
those go to the log, through ``technical_detail(exc)``.

No Qt here: the CLI may use the same sentences.
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
import urllib.error

from tera_desktop.core.errors import Cancelled, ChecksumError, DownloadError, TeraError
from tera_desktop.core.model_setup import NotEnoughSpaceError, format_size

OR_FILES = "or choose model files you already have"

NO_INTERNET = f"No internet connection: connect and press Retry, {OR_FILES}."
UNREACHABLE = (
    f"The download site cannot be reached: check your internet connection and press Retry, "
    f"{OR_FILES}."
)
TIMED_OUT = (
    "The download site stopped answering: press Retry (the download continues where it stopped)."
)
DROPPED = (
    "The connection dropped before the download finished: press Retry to continue where it stopped."
)
NOT_FOUND = (
    "The model files were not found on the download site: choose model files you already "
    "have, or update Tera."
)
REFUSED = f"The download site refused to send the model files: try again later, {OR_FILES}."
BUSY = "The download site is busy right now: wait a few minutes and press Retry."
SERVER_TROUBLE = "The download site is having problems: wait a few minutes and press Retry."
HTTP_OTHER = f"The download site answered with an error: press Retry later, {OR_FILES}."
SECURE = (
    "A secure connection to the download site could not be made: check that this computer's "
    "date and time are right (and any proxy settings), then press Retry."
)
DISK_FULL = (
    "The disk is full: free some space, then press Retry (what was downloaded so far is kept)."
)
CANNOT_WRITE = (
    "Tera cannot save files in its data folder: check that the disk is connected and not "
    "read-only, then press Retry."
)
DAMAGED = (
    "A downloaded file was damaged on the way and has been deleted: press Retry to download it "
    "again."
)
ALREADY = "These models are already being downloaded: wait for that download to finish."
UNFINISHED = f"The download did not finish: press Retry to continue where it stopped, {OR_FILES}."
UNKNOWN = f"Something went wrong: press Retry, {OR_FILES}. The details are in Tera's log."


def causes(exc: BaseException) -> list[BaseException]:
    """``exc``, its ``__cause__``/``__context__`` chain and a URLError's ``reason``, in order."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen) and len(seen) < 12:
        seen.append(current)
        if isinstance(current, urllib.error.URLError) and not isinstance(
            current, urllib.error.HTTPError
        ):
            reason = current.reason
            if isinstance(reason, BaseException):
                current = reason
                continue
        current = current.__cause__ or current.__context__
    return seen


def _os_error_text(err: OSError) -> str | None:
    code = err.errno
    if isinstance(err, socket.gaierror):
        return NO_INTERNET
    if code in (errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH, errno.EHOSTDOWN):
        return NO_INTERNET
    if isinstance(err, ConnectionRefusedError):
        return UNREACHABLE
    if isinstance(err, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return DROPPED
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return DISK_FULL
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CANNOT_WRITE
    return None


def _http_text(code: int) -> str:
    if code in (404, 410):
        return NOT_FOUND
    if code in (401, 403, 451):
        return REFUSED
    if code == 429:
        return BUSY
    if 500 <= code < 600:
        return SERVER_TROUBLE
    return HTTP_OTHER


def friendly_error(exc: BaseException) -> str:
    """One plain sentence for a failed model download or copy, and what to do about it."""
    if isinstance(exc, NotEnoughSpaceError):
        return (
            f"Not enough free disk space: the download needs {format_size(exc.need)} and "
            f"{format_size(exc.free)} is free. Free some space, then press Retry."
        )
    if isinstance(exc, ChecksumError):
        return DAMAGED
    if isinstance(exc, Cancelled):
        return "The download was stopped."
    chain = causes(exc)
    for item in chain[1:] if isinstance(exc, DownloadError) else chain:
        if isinstance(item, urllib.error.HTTPError):
            return _http_text(item.code)
        if isinstance(item, ssl.SSLError):
            return SECURE
        if isinstance(item, TimeoutError):  # socket.timeout too
            return TIMED_OUT
        if isinstance(item, OSError):
            text = _os_error_text(item)
            if text is not None:
                return text
        if isinstance(item, (http.client.IncompleteRead, http.client.RemoteDisconnected)):
            return DROPPED
    if isinstance(exc, DownloadError):
        return ALREADY if "already being downloaded" in exc.message else UNFINISHED
    if isinstance(exc, TeraError):  # Tera's own errors are written for people already
        return str(exc)
    if isinstance(exc, OSError):
        return _os_error_text(exc) or UNKNOWN
    return UNKNOWN


def technical_detail(exc: BaseException) -> str:
    """What happened, for the log: each exception in the chain with its type and text."""
    return " <- ".join(f"{type(e).__name__}: {e}" for e in causes(exc))
