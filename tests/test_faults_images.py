"""Image bombs (issue 26.3): an image is checked by its header before it is decoded, so a 1 MB PNG
declaring 400 million pixels is a one-line per-file reason in bounded memory, Pillow's warning
never reaches stderr, and a damaged image's reason names no Python object."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tera_desktop.core.errors import IngestError
from tera_desktop.core.ingest.formats.ocr import MAX_PIXELS, open_image

SIDE = 19_999
RSS_BOUND_MB = 700  # the CLI with its libraries uses ~250-400 MB; decoding the bomb needs 400+ MB
WAIT = 120


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_bomb_png(path: Path, side: int = SIDE) -> int:
    """A valid grayscale PNG of ``side`` x ``side`` black pixels: ~0.4 MB on disk for 400 MP."""
    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + side)
    parts = [squeeze.compress(row) for _ in range(side)]
    parts.append(squeeze.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grayscale
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
    path.write_bytes(png)
    return len(png)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    write_bomb_png(path)
    return path


# the upload runs in its own process, which reports its own peak RSS: VmHWM (KB), not
# ru_maxrss, which Linux carries over from the parent across exec (a big pytest process's peak)
_UPLOAD = """
import sys
from tera_desktop.cli import main
code = main(["upload", "--json", *sys.argv[1:]])
sys.stdout.flush()
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print("maxrss_kb", hwm, file=sys.stderr)
sys.exit(code)
"""


def _upload(paths: list[Path], home: Path, tiny_embedding: Path) -> tuple[int, list[dict], str]:
    env = {**os.environ, "TERA_HOME": str(home), "TERA_EMBEDDING_MODEL": str(tiny_embedding)}
    result = subprocess.run(
        [sys.executable, "-c", _UPLOAD, *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, rows, result.stderr


def test_a_png_bomb_is_refused_from_its_header_in_bounded_memory(
    bomb: Path, tmp_path: Path, tiny_embedding: Path
) -> None:
    assert bomb.stat().st_size < 2_000_000
    code, rows, err = _upload([bomb], tmp_path / "home", tiny_embedding)
    assert code == 2 and len(rows) == 1, err
    assert rows[0]["status"] == "failed"
    reason = rows[0]["reason"]
    assert reason.startswith(
        "Image too large: 19999×19999 pixels (400 MP); Tera reads images up to 50 MP."
    )
    assert "\n" not in reason
    rss_mb = int(err.split("maxrss_kb")[1].split()[0]) / 1024
    assert rss_mb < RSS_BOUND_MB, f"peak RSS {rss_mb:.0f} MB"
    assert "DecompressionBomb" not in err and "Warning" not in err


def test_a_damaged_png_names_no_python_object(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0garbage" * 20)
    with pytest.raises(IngestError) as info:
        open_image(broken, broken.read_bytes())
    assert "BytesIO" not in str(info.value) and " at 0x" not in str(info.value)
    assert "broken.png is damaged" in info.value.message
    truncated = tmp_path / "cut.png"
    good = io.BytesIO()
    from PIL import Image

    Image.new("L", (300, 300), 128).save(good, "PNG")
    truncated.write_bytes(good.getvalue()[:200])
    with pytest.raises(IngestError) as info:
        open_image(truncated, truncated.read_bytes())
    assert " at 0x" not in str(info.value)


def test_a_large_jpeg_is_decoded_at_a_reduced_size(tmp_path: Path) -> None:
    from PIL import Image

    big = io.BytesIO()
    Image.new("L", (10_000, 6_000), 200).save(big, "JPEG", quality=50)
    image = open_image(tmp_path / "big.jpg", big.getvalue())
    assert image.width * image.height <= MAX_PIXELS and image.size == (5_000, 3_000)
