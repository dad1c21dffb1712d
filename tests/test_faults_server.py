"""A misbehaving model server on 127.0.0.1 cannot hang Tera or fill its memory: the
OpenAI-compatible client enforces its own limits (no new answer text within ``llm_timeout``, a
whole-answer deadline, the answer-token limit, a maximum line length), each ends with a typed
message that says which limit, and what was received is kept (issue 26.5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from stub_openai_server import serve_stub

from tera_desktop.core.errors import ServerError
from tera_desktop.core.generator import GenerationStats, Sampling
from tera_desktop.core.openai_generator import OpenAIGenerator, answer_tokens

MESSAGES = [
    {"role": "system", "content": "You are Tera."},
    {"role": "user", "content": "References:\n[1] The gate code is 4512.\n\nQuestion: gate code?"},
]


def _stream_until_error(gen: OpenAIGenerator, **kwargs: object) -> tuple[list[str], ServerError]:
    got: list[str] = []
    with pytest.raises(ServerError) as info:
        for piece in gen.stream(MESSAGES, **kwargs):  # type: ignore[arg-type]
            got.append(piece)
    return got, info.value


def test_a_stream_that_drips_bytes_ends_at_llm_timeout_keeping_the_text() -> None:
    # one byte every 50 ms: every socket read succeeds, but no answer text comes for 1 s
    with serve_stub(mode="drip", drip_s=0.05, limit=600) as stub:
        gen = OpenAIGenerator(stub.url, timeout=1.0)
        got, err = _stream_until_error(gen)
        assert got == stub.pieces[:2]  # the answer so far reached the caller
        assert err.reason == "timeout" and err.message.startswith("Stopped:")
        assert "no more answer text for 1 s" in err.message and "llm_timeout" in str(err)
        assert stub.sent_bytes < 600  # ended by Tera, not by the server giving up


def test_a_stream_of_slow_tokens_ends_at_the_overall_deadline() -> None:
    with serve_stub(mode="endless", piece_s=0.05, limit=2000) as stub:
        gen = OpenAIGenerator(stub.url, timeout=5.0, deadline=1.0, n_ctx=100_000)
        got, err = _stream_until_error(gen, sampling=Sampling(max_tokens=90_000))
        assert got and err.reason == "deadline" and err.message.startswith("Stopped:")
        assert "still answering after 1 s" in err.message
        assert stub.sent_pieces < 2000


def test_an_endless_stream_stops_at_max_tokens_counted_by_tera() -> None:
    with serve_stub(mode="endless", limit=3000) as stub:
        stats = GenerationStats()
        gen = OpenAIGenerator(stub.url)
        got = list(gen.stream(MESSAGES, Sampling(max_tokens=30), stats=stats))
        assert stub.chats()[0].body["max_tokens"] == 30  # sent, and ignored by this server
        counted = sum(answer_tokens(p) for p in got)
        assert 30 <= counted < 30 + answer_tokens(got[-1]) + 1
        assert stats.finish_reason == "length" and not stats.stopped  # a cut answer, as usual
        assert len(got) < 3000


def test_a_line_without_end_is_read_in_bounded_pieces() -> None:
    # 6 MB of one line: refused after 1 MB (+ one 64 KB read), not read whole into memory
    with serve_stub(mode="long-line", limit=6 * 1024) as stub:
        gen = OpenAIGenerator(stub.url)
        got, err = _stream_until_error(gen)
        assert got == stub.pieces[:2]
        assert err.reason == "too-long" and "longer than 1 MB" in err.message
        assert "MemoryError" not in str(err)


def test_a_limit_before_any_text_is_a_plain_error() -> None:
    with serve_stub(mode="drip", drip_s=0.05, limit=600, pieces=[]) as stub:
        gen = OpenAIGenerator(stub.url, timeout=1.0)
        got, err = _stream_until_error(gen)
        assert got == [] and err.message.startswith("No answer:")


def test_a_models_list_that_never_ends_is_refused_after_16_mb() -> None:
    with serve_stub(mode="huge-models", limit=40 * 1024) as stub:  # 40 MB offered
        with pytest.raises(ServerError) as info:
            OpenAIGenerator(stub.url)
        assert info.value.reason == "protocol" and "more than 16 MB" in info.value.message
        assert stub.sent_bytes < 40 * 1024 * 1024


def test_answer_tokens_is_a_lower_estimate_of_real_tokens() -> None:
    assert answer_tokens(" the") == 1 and answer_tokens("") == 1
    assert answer_tokens(" word12") == 3
    assert answer_tokens("Hello, world.\n") == 5


def test_cli_ask_shows_the_partial_answer_stopped_with_the_reason(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tiny_embedding: Path,
) -> None:
    from dataclasses import replace

    from tera_desktop.cli import main
    from tera_desktop.core.conversations import ConversationStore
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import load_settings, save_settings

    paths = get_paths().ensure()
    with serve_stub(mode="drip", drip_s=0.05, limit=600) as stub:
        save_settings(
            paths,
            replace(
                load_settings(paths, use_env=False),
                embedding_model=str(tiny_embedding),
                llm_url=stub.url,
                llm_timeout=1.0,
            ),
        )
        assert main(["remember", "the gate code is 4512"]) == 0
        capsys.readouterr()
        code = main(["ask", "--chat", "drip", "what is the gate code?"])
        out, _ = capsys.readouterr()
    assert code == 1
    assert out.startswith("".join(stub.pieces[:2]))
    assert "[stopped: the model server at 127.0.0.1" in out and "Sources:" in out
    conv = ConversationStore(paths).find("drip")
    answer = conv.messages[-1]
    assert answer.text == "".join(stub.pieces[:2]).strip()  # kept in the saved chat
    assert answer.error.startswith("Stopped:")
