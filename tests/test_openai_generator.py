"""The OpenAI-compatible generator against a real HTTP server on 127.0.0.1 (stub_openai_server):
streaming, stats, model choice, cancel, and a typed, actionable error for each way a server
fails."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from stub_openai_server import Stub, serve_stub

from tera_desktop.core.errors import GenerationError, ServerError
from tera_desktop.core.generator import GenerationStats, Generator, Sampling
from tera_desktop.core.openai_generator import (
    OpenAIGenerator,
    ServerModel,
    api_base,
    estimate_tokens,
    list_models,
)

MESSAGES = [
    {"role": "system", "content": "You are Tera."},
    {"role": "user", "content": "References:\n[1] The gate code is 4512.\n\nQuestion: gate code?"},
]
WAIT = 20  # seconds: generous bounds for waits on other threads, never asserted as timings


@pytest.fixture
def stub() -> Iterator[Stub]:
    with serve_stub() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fails(reason: str, fn: object, *args: object, **kwargs: object) -> ServerError:
    with pytest.raises(ServerError) as info:
        result = fn(*args, **kwargs)  # type: ignore[operator]
        if isinstance(result, Iterator):
            list(result)
    assert info.value.reason == reason, str(info.value)
    return info.value


# ---- addresses, models, context --------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("https://gpu.example.org/llm/v1/", "https://gpu.example.org/llm/v1"),
    ],
)
def test_api_base_accepts_the_usual_addresses(url: str, base: str) -> None:
    assert api_base(url) == base


def test_an_address_that_is_not_http_is_refused_with_advice() -> None:
    err = _fails("protocol", api_base, "127.0.0.1:8080")
    assert "http://host:8080" in str(err)


def test_the_only_model_is_chosen_and_the_generator_follows_the_protocol(stub: Stub) -> None:
    gen = OpenAIGenerator(stub.url, n_ctx=1024)
    assert isinstance(gen, Generator)
    assert (gen.model, gen.name, gen.n_ctx, gen.n_ctx_source) == (
        "stub-model",
        "stub-model",
        1024,
        "settings",
    )
    assert gen.description == f"stub-model on the model server at 127.0.0.1:{stub.port}"
    gen.prefill(MESSAGES)  # a no-op, and it sends nothing
    gen.close()
    assert [r.path for r in stub.requests] == ["/v1/models", "/props"]


def test_context_size_comes_from_the_server_when_it_reports_one() -> None:
    models = [{"id": "/models/llama-3-8b.Q4_K_M.gguf", "max_model_len": 8192}]
    with serve_stub(models=models) as stub:
        gen = OpenAIGenerator(stub.url, n_ctx=1024)
        assert (gen.n_ctx, gen.n_ctx_source, gen.name) == (8192, "server", "llama-3-8b.Q4_K_M.gguf")
        assert list_models(stub.url) == [ServerModel("/models/llama-3-8b.Q4_K_M.gguf", 8192)]


def test_several_models_need_a_choice_that_exists() -> None:
    models = [{"id": "llama3"}, {"id": "qwen2.5:7b"}]
    with serve_stub(models=models) as stub:
        err = _fails("model", OpenAIGenerator, stub.url)
        assert "2 models" in err.message and "llama3, qwen2.5:7b" in str(err)
        assert "TERA_LLM_MODEL" in str(err)
        assert OpenAIGenerator(stub.url, model="qwen2.5:7b").model == "qwen2.5:7b"
        err = _fails("model", OpenAIGenerator, stub.url, model="mistral")
        assert "no model 'mistral'" in err.message and "llama3" in str(err)


def test_a_server_without_models_says_so() -> None:
    with serve_stub(models=[]) as stub:
        err = _fails("model", OpenAIGenerator, stub.url)
        assert "offers no model" in err.message


# ---- answering -------------------------------------------------------------------------------
def test_streams_pieces_and_fills_the_stats(stub: Stub) -> None:
    gen = OpenAIGenerator(stub.url)
    stats = GenerationStats()
    pieces = list(gen.stream(MESSAGES, Sampling(max_tokens=50, seed=7), stats=stats))
    assert pieces == stub.pieces
    assert stats.first_token_s is not None and stats.total_s >= stats.first_token_s
    assert (stats.prompt_tokens, stats.completion_tokens) == (42, 5)  # the server's usage
    assert not stats.stopped and stats.finish_reason == "stop"
    body = stub.chats()[0].body
    assert body is not None
    assert body["model"] == "stub-model" and body["stream"] is True
    assert body["messages"] == MESSAGES
    assert (body["max_tokens"], body["seed"], body["temperature"]) == (50, 7, 0.3)
    assert "Authorization" not in stub.chats()[0].headers


def test_without_usage_the_pieces_are_counted_and_the_prompt_estimated() -> None:
    with serve_stub(usage=None) as stub:
        gen = OpenAIGenerator(stub.url)
        stats = GenerationStats()
        list(gen.stream(MESSAGES, stats=stats))
        assert stats.completion_tokens == len(stub.pieces)
        assert stats.prompt_tokens == gen.prompt_tokens(MESSAGES) > 0


def test_max_tokens_is_capped_by_the_context_and_a_too_long_prompt_is_refused(
    stub: Stub,
) -> None:
    gen = OpenAIGenerator(stub.url, n_ctx=256)
    list(gen.stream(MESSAGES, Sampling(max_tokens=10_000)))
    body = stub.chats()[0].body
    assert body is not None and body["max_tokens"] == 256 - gen.prompt_tokens(MESSAGES) - 1
    long = [{"role": "user", "content": "word " * 400}]
    with pytest.raises(GenerationError, match="more than the model's context of 256"):
        list(gen.stream(long))
    assert len(stub.chats()) == 1  # nothing was sent for it


def test_the_api_key_is_sent_and_a_refused_key_says_so() -> None:
    with serve_stub(api_key="s3cret") as stub:
        gen = OpenAIGenerator(stub.url, api_key="s3cret")
        assert list(gen.stream(MESSAGES)) == stub.pieces
        assert stub.chats()[0].headers["Authorization"] == "Bearer s3cret"
        for key in ("", "wrong"):
            err = _fails("auth", OpenAIGenerator, stub.url, api_key=key)
            assert "refused the API key (HTTP 401: Invalid API key)" in err.message
            assert "TERA_LLM_API_KEY" in str(err)
    with serve_stub(api_key="s3cret", key_status=403) as stub:
        assert "HTTP 403" in _fails("auth", OpenAIGenerator, stub.url, api_key="no").message


def test_a_model_gone_from_the_server_is_a_model_error(stub: Stub) -> None:
    gen = OpenAIGenerator(stub.url)
    stub.models = [{"id": "another"}]  # unloaded on the server after Tera connected
    err = _fails("model", gen.stream, MESSAGES)
    assert "no model 'stub-model'" in err.message and "Test connection" in str(err)


def test_a_server_that_refuses_non_openai_fields_gets_plain_requests() -> None:
    with serve_stub(mode="refuse-extras") as stub:
        gen = OpenAIGenerator(stub.url)
        assert list(gen.stream(MESSAGES)) == stub.pieces
        assert list(gen.stream(MESSAGES)) == stub.pieces
        sent = [r.body or {} for r in stub.chats()]
        assert ["top_k" in b for b in sent] == [True, False, False]  # asked once, remembered


# ---- faults ----------------------------------------------------------------------------------
def test_connection_refused_is_unreachable_with_advice() -> None:
    port = _free_port()
    err = _fails("unreachable", OpenAIGenerator, f"http://127.0.0.1:{port}")
    assert "connection refused" in err.message and "llama_cpp.server" in str(err)


def test_an_unknown_host_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*_args: object, **_kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    err = _fails("unreachable", OpenAIGenerator, "http://gpu-box.lan:8080")
    assert "'gpu-box.lan' does not resolve" in err.message


def test_a_silent_server_times_out() -> None:
    with serve_stub(mode="silent") as stub:
        gen = OpenAIGenerator(stub.url, timeout=0.3)
        err = _fails("timeout", gen.stream, MESSAGES)
        assert "sent nothing for 0.3 s" in err.message and "llm_timeout" in str(err)


def test_a_server_that_does_not_stream_is_named() -> None:
    with serve_stub(mode="no-stream") as stub:
        err = _fails("no-stream", OpenAIGenerator(stub.url).stream, MESSAGES)
        assert "without streaming" in err.message


@pytest.mark.parametrize("mode", ["cut", "cut-clean"])
def test_an_answer_cut_mid_way_is_an_error_after_its_pieces(mode: str) -> None:
    with serve_stub(mode=mode) as stub:
        got: list[str] = []
        with pytest.raises(ServerError) as info:
            for piece in OpenAIGenerator(stub.url).stream(MESSAGES):
                got.append(piece)
        assert info.value.reason == "cut" and "middle of the answer" in info.value.message
        assert got == stub.pieces[:2]


def test_an_error_inside_the_stream_is_shown() -> None:
    with serve_stub(mode="error-event") as stub:
        err = _fails("http", OpenAIGenerator(stub.url).stream, MESSAGES)
        assert "the model crashed" in err.message


def test_a_web_server_that_is_not_a_model_server_is_named() -> None:
    with serve_stub(mode="html") as stub:
        err = _fails("protocol", OpenAIGenerator, stub.url)
        assert "OpenAI-compatible" in err.message and "11434/v1" in str(err)


# ---- cancel ----------------------------------------------------------------------------------
def test_cancel_mid_answer_closes_the_http_stream() -> None:
    with serve_stub(mode="endless") as stub:
        gen = OpenAIGenerator(stub.url)
        cancel = threading.Event()
        stats = GenerationStats()
        got = []
        for piece in gen.stream(MESSAGES, cancel=cancel, stats=stats):
            got.append(piece)
            if len(got) == 3:
                cancel.set()
        assert got == [" word0", " word1", " word2"] and stats.stopped
        assert stub.disconnected.wait(WAIT)  # the server saw the connection close
        stub.release.set()


def test_cancel_while_the_server_is_still_reading_the_prompt() -> None:
    with serve_stub(mode="silent") as stub:
        gen = OpenAIGenerator(stub.url)
        cancel = threading.Event()
        stats = GenerationStats()
        result: list[list[str]] = []
        worker = threading.Thread(
            target=lambda: result.append(list(gen.stream(MESSAGES, cancel=cancel, stats=stats)))
        )
        worker.start()
        assert stub.received.wait(WAIT)  # the request is at the server, which says nothing yet
        cancel.set()
        worker.join(WAIT)
        assert not worker.is_alive() and result == [[]] and stats.stopped


def test_closing_the_stream_closes_the_connection() -> None:
    with serve_stub(mode="endless") as stub:
        stream = OpenAIGenerator(stub.url).stream(MESSAGES)
        assert next(stream) == " word0"
        stream.close()
        assert stub.disconnected.wait(WAIT)


def test_cancel_set_before_asking_sends_nothing(stub: Stub) -> None:
    cancel = threading.Event()
    cancel.set()
    stats = GenerationStats()
    assert list(OpenAIGenerator(stub.url).stream(MESSAGES, cancel=cancel, stats=stats)) == []
    assert stats.stopped and stub.chats() == []


# ---- token estimate --------------------------------------------------------------------------
def test_token_estimate_counts_what_tokenizers_split() -> None:
    assert estimate_tokens("") == 2
    assert estimate_tokens("4512") > estimate_tokens("code")  # digits are one token each
    assert estimate_tokens("日本語のテキスト") >= 8  # one per CJK character at least
    assert estimate_tokens("a\n\n\nb") > estimate_tokens("a b")
    text = "The gate code is 4512. "
    assert estimate_tokens(text * 10) >= 10 * (estimate_tokens(text) - 3)  # no per-call rounding
