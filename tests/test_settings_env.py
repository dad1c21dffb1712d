"""Environment overrides hold for one run and never end up in settings.json (issue 15)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tera_desktop.core.paths import get_paths
from tera_desktop.core.settings import Settings, env_overrides, load_settings, save_settings


def _saved(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_saving_keeps_the_files_own_values_for_overridden_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = get_paths(tmp_path).ensure()
    save_settings(paths, Settings(llm_model="/mine/own.gguf", llm_threads=1, top_k=4))
    monkeypatch.setenv("TERA_LLM_MODEL", "/tmp/other.gguf")
    monkeypatch.setenv("TERA_LLM_THREADS", "3")
    monkeypatch.setenv("TERA_QDRANT_API_KEY", "secret")

    running = load_settings(paths)  # what the app runs with
    assert (running.llm_model, running.llm_threads) == ("/tmp/other.gguf", 3)
    # the user changes an unrelated setting; the app saves everything it holds
    save_settings(paths, replace(running, top_k=9))

    data = _saved(paths.settings_file)
    assert data["top_k"] == 9
    assert data["llm_model"] == "/mine/own.gguf"
    assert data["llm_threads"] == 1
    assert data["qdrant_api_key"] == ""  # a secret from the environment is never written
    assert "secret" not in paths.settings_file.read_text(encoding="utf-8")
    # and the override still applies on the next run
    assert load_settings(paths).llm_model == "/tmp/other.gguf"


def test_a_field_the_user_changed_is_saved_even_when_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = get_paths(tmp_path).ensure()
    save_settings(paths, Settings(llm_threads=1))
    monkeypatch.setenv("TERA_LLM_THREADS", "3")
    save_settings(paths, replace(load_settings(paths), llm_threads=2))
    assert _saved(paths.settings_file)["llm_threads"] == 2


def test_without_a_settings_file_overridden_fields_are_saved_as_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = get_paths(tmp_path).ensure()
    monkeypatch.setenv("TERA_EMBEDDING_MODEL", "/models/emb")
    save_settings(paths, load_settings(paths))
    assert _saved(paths.settings_file)["embedding_model"] == Settings().embedding_model


def test_env_overrides_lists_valid_overrides_only() -> None:
    found = env_overrides({"TERA_LLM_THREADS": "4", "TERA_LLM_CONTEXT": "lots", "OTHER": "x"})
    assert found == {"llm_threads": 4}
