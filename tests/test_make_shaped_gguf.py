"""bench/make_phi2_gguf.py: the random-weight stand-ins for Phi-2 and Qwen3-1.7B.

The real shapes are checked by arithmetic (parameter and tensor counts, token ids); the whole
pipeline (vocabulary, F16 writer, llama.cpp's Q4_K_M quantizer, load, generation) runs on the same
architectures scaled down to a few MB, so it takes seconds.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from bench import make_phi2_gguf as maker
from bench.make_phi2_gguf import PHI2, QWEN3, Spec

TINY = {
    "phi2": dataclasses.replace(
        PHI2,
        n_vocab=1280,
        n_bpe=1200,
        n_ctx_train=512,
        n_embd=256,
        n_layer=2,
        n_head=4,
        n_head_kv=4,
        head_dim=64,
        n_ff=512,
        n_rot=32,
    ),
    "qwen3": dataclasses.replace(
        QWEN3,
        n_vocab=1280,
        n_bpe=1200,
        n_ctx_train=512,
        n_embd=256,
        n_layer=2,
        n_head=2,
        n_head_kv=1,
        head_dim=128,
        n_ff=512,
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n\n".join(topics[k] for k in sorted(topics)[:40]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_files(
    tmp_path_factory: pytest.TempPathFactory, corpus: Path
) -> dict[str, tuple[Path, dict]]:
    out = {}
    for arch, spec in TINY.items():
        path = tmp_path_factory.mktemp(arch) / spec.file_name
        facts = maker.build(path, spec, seed=0, corpus=corpus, threads=1)
        out[arch] = (path, facts)
    return out


def _banned(spec: Spec, corpus: Path) -> set[int]:
    texts, _ = maker.corpus_texts(corpus)
    tokens, types, _, _ = maker.build_vocab(texts, spec)
    return set(maker.banned_ids(tokens, types))


# --------------------------------------------------------------------------- the real shapes


def test_real_shapes() -> None:
    assert maker.n_params(PHI2) == 2_779_683_840 and len(maker.tensor_plan(PHI2)) == 325
    # Qwen3-1.7B: 28 layers x 50,336,000 + 151936 x 2048 embeddings (tied) + the final norm;
    # with the embeddings counted twice (untied lm_head), 2,031,739,904: the "2.03B" of its card
    assert maker.n_params(QWEN3) == 1_720_574_976 and len(maker.tensor_plan(QWEN3)) == 310
    names = {name for name, _, _ in maker.tensor_plan(QWEN3)}
    assert "output.weight" not in names  # tied to token_embd
    assert {"blk.27.attn_q_norm.weight", "blk.27.attn_k_norm.weight"} <= names
    shapes = dict((n, s) for n, s, _ in maker.tensor_plan(QWEN3))
    assert shapes["blk.0.attn_k.weight"] == (8 * 128, 2048)
    assert shapes["blk.0.ffn_gate.weight"] == (6144, 2048)
    ids = {text: QWEN3.token_id(off) for off, text, _ in QWEN3.specials}
    assert ids["<|endoftext|>"] == 151643 and ids["<|im_start|>"] == 151644
    assert ids["<|im_end|>"] == QWEN3.token_id(QWEN3.eos) == 151645
    assert ids["<think>"] == 151667 and ids["</think>"] == 151668
    assert maker.get_spec("phi2") is PHI2 and maker.DEFAULT_OUT.name == PHI2.file_name
    with pytest.raises(ValueError, match="qwen3"):
        maker.get_spec("gemma")


def _render(template: str, messages: list[dict[str, str]], **kw: object) -> str:
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # what llama-cpp-python uses

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages, add_generation_prompt=True, **kw)


def test_qwen3_template_switches_thinking_off_and_drops_old_reasoning() -> None:
    messages = [
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": "Who is my accountant?"},
        {"role": "assistant", "content": "<think>\nlook it up\n</think>\n\nAnna Berg."},
        {"role": "user", "content": "Her number?"},
    ]
    history = (
        "<|im_start|>system\nAnswer from the sources.<|im_end|>\n"
        "<|im_start|>user\nWho is my accountant?<|im_end|>\n"
        "<|im_start|>assistant\nAnna Berg.<|im_end|>\n"
        "<|im_start|>user\nHer number?<|im_end|>\n"
    )
    off = _render(maker.QWEN3_TEMPLATE, messages, enable_thinking=False)
    assert off == history + "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    assert _render(maker.QWEN3_TEMPLATE, messages) == history + "<|im_start|>assistant\n"


# --------------------------------------------------------------------------- scaled-down builds


@pytest.mark.parametrize("arch", ["phi2", "qwen3"])
def test_tiny_build_loads_and_generates_only_allowed_tokens(
    arch: str, tiny_files: dict[str, tuple[Path, dict]], corpus: Path
) -> None:
    from llama_cpp import Llama

    spec = TINY[arch]
    path, facts = tiny_files[arch]
    assert facts["n_params"] == maker.n_params(spec)
    assert maker.header_matches(path, spec)
    assert not maker.header_matches(path, TINY["qwen3" if arch == "phi2" else "phi2"])
    banned = _banned(spec, corpus)
    eos = spec.token_id(spec.eos)
    assert eos in banned
    llm = Llama(str(path), n_ctx=256, n_threads=1, verbose=False, seed=0)
    try:
        assert llm.metadata["general.architecture"] == arch
        assert llm.token_eos() == eos
        if arch == "qwen3":  # user-defined tokens are whole tokens, as in the real file
            assert llm.tokenize(b"<think>", add_bos=False, special=False) == [spec.token_id(24)]
        prompt = llm.tokenize(b"The gate code is four five one two.", add_bos=False)
        for temperature in (0.0, 1.0):
            out = llm.create_completion(
                prompt,
                max_tokens=24,
                temperature=temperature,
                seed=1,
                logit_bias={eos: -100.0},
            )
            assert out["usage"]["completion_tokens"] == 24  # never ends early
            tokens = llm.tokenize(out["choices"][0]["text"].encode(), add_bos=False)
            assert tokens and not set(tokens) & banned
    finally:
        llm.close()


def test_same_seed_same_f16(tmp_path: Path, corpus: Path) -> None:
    spec = TINY["qwen3"]
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    maker.write_f16(a, seed=3, corpus=corpus, spec=spec)
    maker.write_f16(b, seed=3, corpus=corpus, spec=spec)
    assert a.read_bytes() == b.read_bytes()
    maker.write_f16(b, seed=4, corpus=corpus, spec=spec)
    assert a.read_bytes() != b.read_bytes()


def test_ensure_shaped_gguf_builds_once_and_rebuilds_a_broken_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_files: dict[str, tuple[Path, dict]],
    corpus: Path,
) -> None:
    monkeypatch.setitem(maker.SPECS, "qwen3", TINY["qwen3"])
    monkeypatch.setattr(maker, "MSMARCO", corpus.with_suffix(".missing"))  # pydoc fallback
    built: list[Path] = []
    real_build = maker.build

    def counting_build(out: Path, spec: Spec, **kw: object) -> dict:
        built.append(out)
        return real_build(out, spec, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(maker, "build", counting_build)
    path = maker.ensure_shaped_gguf("qwen3", tmp_path)
    assert path == tmp_path / QWEN3.file_name and path.is_file() and built == [path]
    assert maker.ensure_shaped_gguf("qwen3", tmp_path) == path and len(built) == 1  # cached

    with open(path, "r+b") as fh:  # a partial file (an interrupted copy) is rebuilt
        fh.truncate(os.path.getsize(path) // 2)
    assert maker.ensure_shaped_gguf("qwen3", tmp_path) == path and len(built) == 2
    assert maker.header_matches(path, TINY["qwen3"])
    assert not list(tmp_path.glob(".*.tmp"))

    # the CLI (python -m bench.make_phi2_gguf --arch qwen3) leaves a good file alone
    assert maker.main(["--arch", "qwen3", "--out", str(path)]) == 0 and len(built) == 2
