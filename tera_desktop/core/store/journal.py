"""The journal of document replacements in flight (see ``core/store/shared.py``)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from tera_desktop.core.atomic import write_json_atomic


class _Journal:
    """Replacements in flight, one JSON file written atomically (temp + fsync + rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def write(self, entries: dict[str, str]) -> None:
        if not entries:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        write_json_atomic(self.path, entries, indent=None)
