"""The app icon (SVG and PNGs 16–512) and a freedesktop .desktop file that validates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PySide6.QtGui import QImage

from tera_desktop.app import ICON_DIR, app_icon

ROOT = Path(__file__).resolve().parents[2]


def test_png_icons_in_every_size(qtbot) -> None:  # type: ignore[no-untyped-def]
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        image = QImage(str(ICON_DIR / f"tera-desktop-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
    assert (ICON_DIR / "tera-desktop.svg").read_text().startswith("<svg")
    assert not app_icon().isNull()  # type: ignore[attr-defined]


def test_desktop_file_validates() -> None:
    validator = shutil.which("desktop-file-validate")
    assert validator, "desktop-file-validate is missing: apt-get install desktop-file-utils"
    desktop = ROOT / "resources" / "tera-desktop.desktop"
    result = subprocess.run([validator, str(desktop)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    text = desktop.read_text()
    assert "Exec=tera-desktop %F" in text and "Icon=tera-desktop" in text
