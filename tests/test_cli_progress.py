"""Issue 24.5: `tera models download` ends its progress line before an error, so the two never
share a line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tera_desktop.cli import main
from tera_desktop.core import models
from tera_desktop.core.errors import DownloadError
from tera_desktop.core.model_catalog import DownloadProgress


def test_a_download_error_starts_on_its_own_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(_paths: Any, entry: Any, **_kw: Any) -> Iterator[DownloadProgress]:
        yield DownloadProgress(entry.name, "model.bin", 40 * 2**20, 145 * 2**20, 2**20, 105.0)
        raise DownloadError("The download of model.bin stopped: the network is unreachable.")

    monkeypatch.setattr(models, "download", failing)
    code = main(["models", "download", "whisper-base"])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.replace("\r", "\n").splitlines()
    assert any(line.startswith("Downloading model.bin:  27%") for line in lines), err
    error = [line for line in lines if "network is unreachable" in line]
    assert error and error[0].startswith("tera: "), err
