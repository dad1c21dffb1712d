"""`tera-desktop --selftest`: the whole app checks itself headless and says so in its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tera_desktop.testing.tiny_models import write_tiny_embedding_model


def selftest(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tera_desktop", "--selftest"],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_selftest_passes_with_the_tiny_models_when_none_are_installed(tmp_path: Path) -> None:
    result = selftest({"TERA_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr
    assert "selftest ok" in result.stdout and "tiny test models" in result.stdout


def test_selftest_fails_plainly_with_a_broken_model(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    embedding = write_tiny_embedding_model(tmp_path / "emb")
    result = selftest(
        {
            "TERA_HOME": str(tmp_path / "home"),
            "TERA_EMBEDDING_MODEL": str(embedding),
            "TERA_LLM_MODEL": str(broken),
        }
    )
    assert result.returncode == 1
    assert "selftest FAILED: the language model is failed" in result.stderr
