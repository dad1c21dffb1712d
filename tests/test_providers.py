"""Providers chosen by settings, the model server's settings and environment variables, the API key
kept out of settings.json, and Engine answering through a model server (a stub on 127.0.0.1)."""

from __future__ import annotations

import json
import stat
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from stub_openai_server import serve_stub

from tera_desktop.core import engine as engine_module
from tera_desktop.core import providers, secrets
from tera_desktop.core.embedder import Embedder, FastEmbedEmbedder
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ConfigError, ServerError
from tera_desktop.core.generator import Generator, LlamaGenerator
from tera_desktop.core.openai_generator import OpenAIGenerator
from tera_desktop.core.paths import Paths
from tera_desktop.core.prompts import AnswerDone, SourcesFound, Token
from tera_desktop.core.session import ask_once
from tera_desktop.core.settings import Settings, apply_env, load_settings, save_settings


@pytest.fixture(autouse=True)
def _file_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the OS keyring of whoever runs the tests."""
    monkeypatch.setenv(secrets.ENV_BACKEND, "file")


class MemoryKeyring:
    """The three calls Tera makes on the ``keyring`` module, kept in a dict."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.items.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        self.items[(service, user)] = value

    def delete_password(self, service: str, user: str) -> None:
        del self.items[(service, user)]


# ---- factories -------------------------------------------------------------------------------
def test_resolve_llm_still_importable_from_engine() -> None:
    assert engine_module.resolve_llm is providers.resolve_llm


def test_local_engines_by_default(paths: Paths, tiny_settings: Settings) -> None:
    assert providers.generator_kind(tiny_settings) == providers.ENGINE_LOCAL
    assert providers.server_address(tiny_settings) == ""
    generator = providers.make_generator(paths, tiny_settings)
    try:
        assert isinstance(generator, LlamaGenerator) and isinstance(generator, Generator)
        assert providers.describe_generator(generator) == "tiny on this computer"
    finally:
        generator.close()
    embedder = providers.make_embedder(paths, tiny_settings)
    assert isinstance(embedder, FastEmbedEmbedder) and isinstance(embedder, Embedder)


def test_a_server_url_selects_the_model_server(paths: Paths, tiny_settings: Settings) -> None:
    with serve_stub(models=[{"id": "a"}, {"id": "b"}], api_key="k") as stub:
        settings = replace(tiny_settings, llm_url=stub.url, llm_server_model="b", llm_api_key="k")
        assert providers.generator_kind(settings) == providers.ENGINE_SERVER
        assert providers.server_address(settings) == f"127.0.0.1:{stub.port}"
        generator = providers.make_generator(paths, settings)
        assert isinstance(generator, OpenAIGenerator) and isinstance(generator, Generator)
        assert generator.model == "b" and generator.n_ctx == tiny_settings.llm_context
        assert providers.describe_generator(generator) == (
            f"b on the model server at 127.0.0.1:{stub.port}"
        )


def test_the_stored_key_is_used_when_the_settings_have_none(
    paths: Paths, tiny_settings: Settings
) -> None:
    secrets.set_secret(paths, secrets.LLM_API_KEY, "from-store")
    with serve_stub(api_key="from-store") as stub:
        generator = providers.make_generator(paths, replace(tiny_settings, llm_url=stub.url))
        assert isinstance(generator, OpenAIGenerator)
        assert stub.requests[0].headers["Authorization"] == "Bearer from-store"


# ---- settings --------------------------------------------------------------------------------
def test_environment_selects_a_server_for_one_run() -> None:
    env = {
        "TERA_LLM_URL": "http://10.0.0.5:8080",
        "TERA_LLM_API_KEY": "k",
        "TERA_LLM_MODEL": "llama3",
    }
    settings = apply_env(Settings(), env)
    assert (settings.llm_url, settings.llm_api_key, settings.llm_server_model) == (
        "http://10.0.0.5:8080",
        "k",
        "llama3",
    )
    assert settings.llm_model == Settings().llm_model  # TERA_LLM_MODEL named the server's model
    local = apply_env(Settings(), {"TERA_LLM_MODEL": "/models/x.gguf"})
    assert (local.llm_model, local.llm_server_model) == ("/models/x.gguf", "")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"llm_url": "127.0.0.1:8080"}, "llm_url must look like http://host:8080"),
        ({"llm_url": "ftp://host"}, "llm_url must look like"),
        ({"llm_timeout": 0.0}, "llm_timeout must be above 0"),
    ],
)
def test_invalid_server_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        replace(Settings(), **changes).validate()


def test_the_api_key_never_lands_in_settings_json(paths: Paths) -> None:
    settings = replace(Settings(), llm_url="http://127.0.0.1:8080", llm_api_key="sk-very-secret")
    save_settings(paths, settings, environ={})
    text = paths.settings_file.read_text(encoding="utf-8")
    assert "sk-very-secret" not in text
    assert json.loads(text)["llm_api_key"] == secrets.STORED_MARK
    store = paths.config / secrets.SECRETS_FILE
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert json.loads(store.read_text(encoding="utf-8")) == {"llm_api_key": "sk-very-secret"}
    assert load_settings(paths, use_env=False).llm_api_key == "sk-very-secret"

    save_settings(paths, replace(settings, llm_api_key=""), environ={})  # cleared in Settings
    assert load_settings(paths, use_env=False).llm_api_key == ""
    assert not store.exists()
    assert json.loads(paths.settings_file.read_text(encoding="utf-8"))["llm_api_key"] == ""


def test_a_key_from_the_environment_is_not_saved(paths: Paths) -> None:
    env = {"TERA_LLM_URL": "http://127.0.0.1:8080", "TERA_LLM_API_KEY": "env-key"}
    save_settings(paths, apply_env(Settings(), env), environ=env)
    assert not (paths.config / secrets.SECRETS_FILE).exists()
    assert load_settings(paths, use_env=False).llm_api_key == ""


def test_the_keyring_is_used_when_there_is_one(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = MemoryKeyring()
    monkeypatch.setattr(secrets, "_keyring", lambda: ring)
    assert secrets.secret_location(paths) == "the system keyring"
    save_settings(paths, replace(Settings(), llm_api_key="ring-key"), environ={})
    assert list(ring.items.values()) == ["ring-key"]
    assert not (paths.config / secrets.SECRETS_FILE).exists()
    assert load_settings(paths, use_env=False).llm_api_key == "ring-key"
    save_settings(paths, replace(Settings(), llm_api_key=""), environ={})
    assert ring.items == {}


def test_a_broken_keyring_falls_back_to_the_file(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Locked(MemoryKeyring):
        def set_password(self, service: str, user: str, value: str) -> None:
            raise RuntimeError("the keyring is locked")

    monkeypatch.setattr(secrets, "_keyring", lambda: Locked())
    secrets.set_secret(paths, secrets.LLM_API_KEY, "k2")
    assert secrets.get_secret(paths, secrets.LLM_API_KEY) == "k2"
    assert stat.S_IMODE((paths.config / secrets.SECRETS_FILE).stat().st_mode) == 0o600


def test_two_homes_keep_their_own_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tera_desktop.core.paths import get_paths

    ring = MemoryKeyring()
    monkeypatch.setattr(secrets, "_keyring", lambda: ring)
    a, b = get_paths(tmp_path / "a"), get_paths(tmp_path / "b")
    secrets.set_secret(a, secrets.LLM_API_KEY, "key-a")
    assert secrets.get_secret(b, secrets.LLM_API_KEY) == ""
    assert secrets.get_secret(a, secrets.LLM_API_KEY) == "key-a"


# ---- Engine through a model server ------------------------------------------------------------
def test_engine_answers_through_the_model_server(paths: Paths, tiny_settings: Settings) -> None:
    with serve_stub() as stub:
        settings = replace(tiny_settings, llm_url=stub.url, llm_model="")
        with Engine(paths, settings) as engine:
            engine.remember("The gate code is 4512.")
            events = list(ask_once(engine, "What is the gate code?"))
            assert isinstance(events[0], SourcesFound)
            assert events[0].sources[0].text == "The gate code is 4512."
            assert [e.text for e in events if isinstance(e, Token)] == stub.pieces
            done = events[-1]
            assert isinstance(done, AnswerDone) and done.text == "The gate code is 4512."
            assert done.stats.completion_tokens == 5 and not done.stopped
            body = stub.chats()[0].body
            assert body is not None and "The gate code is 4512." in body["messages"][-1]["content"]


def test_nothing_in_memory_never_contacts_the_server(paths: Paths, tiny_settings: Settings) -> None:
    with serve_stub() as stub:
        settings = replace(tiny_settings, llm_url=stub.url)
        with Engine(paths, settings) as engine:
            done = list(ask_once(engine, "Who won the 1998 world cup?"))[-1]
            assert isinstance(done, AnswerDone) and done.no_memory
            assert not engine.generator_loaded and stub.requests == []


def test_engine_cancel_mid_answer_through_the_server(paths: Paths, tiny_settings: Settings) -> None:
    with (
        serve_stub(mode="endless") as stub,
        Engine(paths, replace(tiny_settings, llm_url=stub.url)) as engine,
    ):
        engine.remember("The gate code is 4512.")
        cancel = threading.Event()
        tokens = 0
        for event in ask_once(engine, "What is the gate code?", cancel=cancel):
            if isinstance(event, Token):
                tokens += 1
                if tokens == 3:
                    cancel.set()
            done = event
        assert isinstance(done, AnswerDone) and done.stopped and tokens == 3
        assert stub.disconnected.wait(20)


def test_an_unreachable_server_is_a_typed_error_when_answering(
    paths: Paths, tiny_settings: Settings
) -> None:
    with serve_stub() as stub:
        url = stub.url
    with Engine(paths, replace(tiny_settings, llm_url=url)) as engine:  # the server is gone
        engine.remember("The gate code is 4512.")
        with pytest.raises(ServerError) as info:
            list(ask_once(engine, "What is the gate code?"))
        assert info.value.reason == "unreachable"
