"""The llama.cpp generator with a tiny random-weight GGUF: streaming, templates, cancellation,
KV-cache reuse of the system prompt, and clear errors for bad model files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tera_desktop.core.errors import GenerationError, ModelLoadError, ModelMissingError
from tera_desktop.core.generator import CHATML_TEMPLATE, GenerationStats, LlamaGenerator, Sampling

SYSTEM = {"role": "system", "content": "You are Tera, a helpful assistant. " * 4}


def q(text: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": text}]


@pytest.fixture(scope="module")
def gen(tiny_gguf: Path) -> LlamaGenerator:
    g = LlamaGenerator(tiny_gguf, n_ctx=512, n_threads=1, n_threads_batch=1)
    yield g
    g.close()


def test_streams_pieces_up_to_max_tokens(gen: LlamaGenerator) -> None:
    stats = GenerationStats()
    pieces = list(gen.stream(q("hello"), Sampling(max_tokens=12, seed=1), stats=stats))
    assert 1 < len(pieces) <= 12
    assert all(isinstance(p, str) for p in pieces)
    assert stats.completion_tokens == 12 and not stats.stopped
    assert stats.first_token_s is not None and stats.prompt_tokens > 0


def test_template_comes_from_gguf_metadata(gen: LlamaGenerator) -> None:
    assert gen.uses_model_template
    text = gen.render(q("hi"))
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")


def test_chatml_fallback_without_template(tiny_dir: Path) -> None:
    g = LlamaGenerator(tiny_dir / "tiny-no-template.gguf", n_ctx=256)
    try:
        assert not g.uses_model_template and g.chat_template == CHATML_TEMPLATE
        assert g.render(q("hi")).endswith("<|im_end|>\n<|im_start|>assistant\n")
        assert len(list(g.stream(q("hi"), Sampling(max_tokens=3)))) >= 1
    finally:
        g.close()


def test_cancel_between_tokens_keeps_the_model_usable(gen: LlamaGenerator) -> None:
    cancel = threading.Event()
    stats = GenerationStats()
    got = []
    for piece in gen.stream(q("tell me"), Sampling(max_tokens=200), cancel=cancel, stats=stats):
        got.append(piece)
        if len(got) == 3:
            cancel.set()
    assert 3 <= len(got) <= 4 and stats.stopped
    assert len(list(gen.stream(q("again"), Sampling(max_tokens=5)))) >= 1


def test_closing_the_stream_stops_generation(gen: LlamaGenerator) -> None:
    stats = GenerationStats()
    stream = gen.stream(q("long answer"), Sampling(max_tokens=200), stats=stats)
    assert next(stream)
    stream.close()
    assert stats.stopped and stats.completion_tokens < 200
    assert len(list(gen.stream(q("next"), Sampling(max_tokens=4)))) >= 1


def test_system_prompt_is_reused_from_the_kv_cache(
    gen: LlamaGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_tokens = len(gen.tokens_for([SYSTEM], add_generation_prompt=False))
    first, second = GenerationStats(), GenerationStats()
    list(gen.stream(q("first question about the gate"), Sampling(max_tokens=4), stats=first))
    calls: list[int] = []  # what llama.cpp really evaluates, batch by batch
    real_eval = gen._llm.eval
    monkeypatch.setattr(gen._llm, "eval", lambda toks: (calls.append(len(toks)), real_eval(toks)))
    list(gen.stream(q("another one on cats"), Sampling(max_tokens=4), stats=second))
    monkeypatch.undo()
    assert calls[0] == second.prompt_tokens_evaluated  # the prompt: only what follows the cache
    assert calls[0] <= second.prompt_tokens - system_tokens
    before = gen.evaluated_tokens
    gen.prefill([SYSTEM])  # already cached: nothing to evaluate
    assert gen.evaluated_tokens == before


def test_prefill_evaluates_the_system_prompt_once(tiny_gguf: Path) -> None:
    g = LlamaGenerator(tiny_gguf, n_ctx=512)
    try:
        g.prefill([SYSTEM])
        system_tokens = len(g.tokens_for([SYSTEM], add_generation_prompt=False))
        assert g.evaluated_tokens == system_tokens
        stats = GenerationStats()
        list(g.stream(q("a question"), Sampling(max_tokens=2), stats=stats))
        assert stats.prompt_tokens_evaluated == stats.prompt_tokens - system_tokens
    finally:
        g.close()


def test_prompt_longer_than_context_is_a_clear_error(gen: LlamaGenerator) -> None:
    with pytest.raises(GenerationError, match="context"):
        list(gen.stream(q("word " * 2000), Sampling(max_tokens=4)))


def test_missing_and_corrupt_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="does not exist"):
        LlamaGenerator(tmp_path / "none.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        LlamaGenerator(text)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(ModelLoadError, match="corrupt or incomplete"):
        LlamaGenerator(truncated)


THINKING_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\n\n</think>\n\n' }}{% endif %}{% endif %}"
)


def test_a_thinking_switch_in_the_template_is_turned_off(tmp_path: Path) -> None:
    from tera_desktop.testing.tiny_models import write_tiny_gguf

    path = write_tiny_gguf(tmp_path / "thinking.gguf", chat_template=THINKING_TEMPLATE)
    g = LlamaGenerator(path, n_ctx=256)
    try:
        assert g.template_kwargs == {"enable_thinking": False}
        assert g.render(q("hi")).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        assert not g.render(q("hi"), add_generation_prompt=False).endswith("</think>\n\n")
        assert len(list(g.stream(q("hi"), Sampling(max_tokens=3)))) >= 1
    finally:
        g.close()


def test_prefill_steps_read_in_batches_and_resume_after_cancel(gen: LlamaGenerator) -> None:
    messages = q("a long question " * 20)
    tokens = gen.tokens_for(messages)
    gen._llm.reset()
    cancel = threading.Event()
    seen = []
    for done, total in gen.prefill_steps(tokens, cancel=cancel, batch=16):
        seen.append((done, total))
        if done >= 32:
            cancel.set()
    assert seen[0] == (0, len(tokens) - 1) and seen[-1][0] == 32
    rest = list(gen.prefill_steps(tokens, batch=16))
    assert rest[0] == (0, len(tokens) - 1 - 32) and rest[-1][0] == rest[-1][1]
    stats = GenerationStats()
    assert len(list(gen.stream(messages, Sampling(max_tokens=2), stats=stats))) >= 1
    assert stats.prompt_tokens_evaluated == 1  # everything but the last token was read ahead
