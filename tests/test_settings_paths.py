from __future__ import annotations

import json
from pathlib import Path

import pytest

from tera_desktop.core.errors import ConfigError
from tera_desktop.core.paths import get_paths
from tera_desktop.core.settings import (
    SCHEMA_VERSION,
    Settings,
    apply_env,
    from_dict,
    load_settings,
    save_settings,
)


def test_tera_home_puts_every_folder_under_one_root(tmp_path: Path) -> None:
    paths = get_paths(tmp_path / "home")
    for folder in (paths.data, paths.config, paths.cache, paths.models, paths.logs):
        assert folder.is_relative_to(tmp_path / "home")
    assert paths.store.is_relative_to(paths.data)
    assert paths.settings_file.parent == paths.config


def test_env_home_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TERA_HOME", str(tmp_path / "x"))
    assert get_paths().data == (tmp_path / "x" / "data").resolve()


def test_platform_dirs_without_tera_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERA_HOME", raising=False)
    paths = get_paths()
    assert "tera-desktop" in str(paths.data)
    assert "tera-desktop" in str(paths.config)
    assert paths.models.is_relative_to(paths.data)


def test_defaults_follow_the_seed() -> None:
    s = Settings()
    assert s.schema_version == SCHEMA_VERSION
    assert s.embedding_model == "BAAI/bge-small-en-v1.5"
    assert s.llm_model == "dolphin-2.6-phi-2"
    assert (s.top_k, s.temperature, s.repeat_penalty, s.repeat_last_n, s.max_answer_tokens) == (
        4,
        0.3,
        1.1,
        64,
        400,
    )


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    paths = get_paths(tmp_path).ensure()
    assert load_settings(paths) == Settings()  # no file yet: defaults
    custom = Settings(top_k=7, temperature=0.1, qdrant_url="http://q:6333")
    save_settings(paths, custom)
    data = json.loads(paths.settings_file.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert load_settings(paths) == custom


def test_environment_overrides_file_but_is_not_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = get_paths(tmp_path).ensure()
    save_settings(paths, Settings(llm_threads=1))
    monkeypatch.setenv("TERA_EMBEDDING_MODEL", "/models/emb")
    monkeypatch.setenv("TERA_LLM_MODEL", "/models/m.gguf")
    monkeypatch.setenv("TERA_LLM_THREADS", "3")
    monkeypatch.setenv("TERA_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("TERA_QDRANT_API_KEY", "secret")
    s = load_settings(paths)
    assert (s.embedding_model, s.llm_model, s.llm_threads) == ("/models/emb", "/models/m.gguf", 3)
    assert (s.qdrant_url, s.qdrant_api_key) == ("http://qdrant:6333", "secret")
    assert load_settings(paths, use_env=False).llm_threads == 1


def test_bad_env_value_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"TERA_LLM_THREADS.*'many'"):
        apply_env(Settings(), {"TERA_LLM_THREADS": "many"})
    with pytest.raises(ConfigError, match="llm_threads must be at least 1"):
        apply_env(Settings(), {"TERA_LLM_THREADS": "0"})


def test_corrupt_or_future_settings_file(tmp_path: Path) -> None:
    paths = get_paths(tmp_path).ensure()
    paths.settings_file.write_text("{not json")
    with pytest.raises(ConfigError, match="Cannot read settings file"):
        load_settings(paths)
    with pytest.raises(ConfigError, match="newer Tera"):
        from_dict({"schema_version": SCHEMA_VERSION + 1})


def test_unknown_keys_ignored_and_types_checked() -> None:
    assert from_dict({"top_k": "5", "someday": 1}).top_k == 5
    with pytest.raises(ConfigError):
        from_dict({"top_k": "five"})


def test_migration_runs_for_old_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    from tera_desktop.core import settings as mod

    monkeypatch.setattr(mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(
        mod.MIGRATIONS, SCHEMA_VERSION, lambda d: {**d, "top_k": int(d.get("k", 4))}
    )
    assert from_dict({"schema_version": SCHEMA_VERSION, "k": 9}).top_k == 9


def test_schema_1_hybrid_default_moves_to_expanded_but_a_choice_stays() -> None:
    assert from_dict({"schema_version": 1, "retrieval": "hybrid"}).retrieval == "expanded"
    assert from_dict({"schema_version": 1, "retrieval": "dense"}).retrieval == "dense"
    assert from_dict({"schema_version": 2, "retrieval": "hybrid"}).retrieval == "hybrid"
    with pytest.raises(ConfigError, match="retrieval must be"):
        from_dict({"retrieval": "fuzzy"})
