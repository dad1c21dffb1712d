"""Zip members inflated under a byte cap, in small steps: a zip bomb costs at most the cap.

A zip archive's directory *declares* each member's size, and a hostile one understates it.
``zipfile`` trusts the declaration for the size of the result but inflates the compressed bytes
it holds in one go when asked for everything (``read()``): a 3 MB member declared tiny can
allocate gigabytes before the CRC check says "damaged". Here every member is inflated in 1 MB
reads (each read inflates at most that much), the bytes actually produced are counted against the
caps, and the archive handed on (``inflate_all``) is rebuilt from those bytes, so whoever opens it
next (python-docx, lxml) cannot inflate anything else.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from tera_desktop.core.units import format_mb

STEP = 1024 * 1024


class ZipLimitError(Exception):
    """A member or the whole archive inflates past its cap."""


def read_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limit: int,
    budget: Callable[[int], None] | None = None,
) -> bytes:
    """``info``'s bytes, inflated in steps of at most ``STEP`` bytes; ``ZipLimitError`` as soon as
    they pass ``limit`` (or ``budget(n)``, called after each step with the bytes produced, raises).
    A member whose data does not match its declaration raises ``zipfile.BadZipFile``."""
    parts: list[bytes] = []
    total = 0
    with archive.open(info) as fh:
        while True:
            piece = fh.read(STEP)
            if not piece:
                break
            total += len(piece)
            if total > limit:
                raise ZipLimitError(
                    f"{info.filename} inflates past {format_mb(limit)} (a zip bomb?)"
                )
            if budget is not None:
                budget(len(piece))
            parts.append(piece)
    return b"".join(parts)


def inflate_all(data: bytes, max_total: int, max_ratio: int = 0, ratio_floor: int = 0) -> bytes:
    """``data`` (a zip archive) rebuilt with every member inflated under the caps: at most
    ``max_total`` bytes in all and, past ``ratio_floor`` bytes, at most ``max_ratio`` times the
    archive's size. The result stores its members uncompressed (``ZIP_STORED``)."""
    produced = 0
    cap = max_total
    if max_ratio and ratio_floor:
        cap = min(max_total, max(ratio_floor, max_ratio * len(data)))

    def budget(n: int) -> None:
        nonlocal produced
        produced += n
        if produced > cap:
            raise ZipLimitError(
                f"the archive inflates past {format_mb(cap)} from {format_mb(len(data), 1)}"
            )

    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as archive,
        zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as rebuilt,
    ):
        for info in archive.infolist():
            if info.is_dir():
                continue
            body = read_member(archive, info, max_total, budget)
            clean = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            clean.compress_type = zipfile.ZIP_STORED
            rebuilt.writestr(clean, body)
    return out.getvalue()
