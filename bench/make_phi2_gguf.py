"""Random-weight GGUFs in a real model's exact shapes, quantized to Q4_K_M: stand-ins for speed.

    python -m bench.make_phi2_gguf [--arch phi2|qwen3] [--out FILE] [--seed 0] [--threads 0]
                                   [--corpus FILE] [--force]

    from bench.make_phi2_gguf import ensure_shaped_gguf
    path = ensure_shaped_gguf("qwen3")  # cached in .cache/bench-models/, built when missing

The catalog's language models cannot be downloaded on the build machines. Speed depends on
shapes and quantization types, not on what the weights say, so this writes the same network with
random weights and measures the same thing. Two shapes (``--arch``, default ``phi2``):

``phi2``: dolphin-2.6-phi-2 Q4_K_M (the default model, 1,789,240,608 bytes), exactly as llama.cpp
  loads it: n_vocab 51200, n_ctx_train 2048, n_embd 2560, 32 layers, 32 heads (head_dim 80), n_ff
  10240, partial rotary (32 of 80 dimensions), LayerNorm eps 1e-5, fused ``attn_qkv`` (as in the
  published dolphin GGUF; llama.cpp 0.3.36's Q4_K_M makes it Q6_K in half the layers and Q4_K in
  the rest, like ``attn_v``), biases everywhere, output head with bias: 325 tensors, 2,779,683,840
  parameters. Tokens: ids 0…50255 byte-level BPE, 50256 ``<|endoftext|>`` (bos), 50295
  ``<|im_end|>`` (eos), 50296 ``<|im_start|>``, the rest unused ``[PADn]`` as in phi-2's GGUF.
  Measured (2-core build machine, shared): F16 ~70 s, quantizing ~205 s, result 1,791,528,352
  bytes (the real file + 0.13 %).

``qwen3``: Qwen3-1.7B Q4_K_M (unsloth's GGUF, 1,107,409,472 bytes), from Qwen/Qwen3-1.7B's
  config.json: architecture ``qwen3``, n_vocab 151936, n_ctx_train 40960, n_embd 2048, 28 layers,
  16 query heads and 8 KV heads of head_dim 128, n_ff 6144 (SwiGLU: gate, up, down), RMSNorm eps
  1e-6, rope theta 1e6, per-head RMSNorm on q and k (``attn_q_norm``/``attn_k_norm``), no biases,
  tied embeddings (no ``output.weight``: llama.cpp's Q4_K_M then stores ``token_embd`` as Q6_K, as
  in the real file): 310 tensors, 1,720,574,976 parameters. Tokens: ids 0…151642 byte-level BPE
  split with Qwen2's pre-tokenizer regex, 151643 ``<|endoftext|>`` (bos, pad), 151644
  ``<|im_start|>``, 151645 ``<|im_end|>`` (eos), … 151667 ``<think>``, 151668 ``</think>`` (the
  26 added tokens of Qwen3, control or user-defined as there), the rest unused ``[PADn]``. Its
  chat template behaves as Qwen3's for system/user/assistant turns: earlier answers are rendered
  without their reasoning, and ``enable_thinking=False`` ends the generation prompt with an empty
  ``<think>\\n\\n</think>\\n\\n`` block.

Both: a GPT-2-style byte-level BPE vocabulary (``tokenizer.ggml.model="gpt2"``) whose merges are
learned with ``tokenizers`` from English text (the MS MARCO passages in ``shared/benchmarks`` when
present, else Python's own pydoc topics; padded with unused ``[PADn]`` entries if the text yields
fewer), so any text tokenizes, English at a realistic number of tokens per word; generation never
picks a control, unused, user-defined or not-whole-UTF-8 token, so it never ends early and streams
readable pieces (the benchmark also bans end-of-text with ``logit_bias``). Phi-2 has an output
bias, set to -1000 on those tokens. Qwen3 has none and ties its output head to the embeddings, so
one "guard" dimension does it: column ``GUARD_DIM`` of the embeddings is +1 for allowed tokens and
-1 for the others, no layer writes to it (that row of ``attn_output`` and ``ffn_down`` is zero),
and ``output_norm`` scales it by 1000: every allowed token's logit gains what every banned one
loses. The matrices keep their shapes and types, so speed is unchanged.

Steps: write an F16 GGUF with ``gguf.GGUFWriter`` (tensor infos first, then each tensor
generated from a seeded numpy generator, written and freed: under 2 GB of RAM), quantize it with
llama.cpp's own quantizer through ``llama_cpp.llama_model_quantize``
(``LLAMA_FTYPE_MOSTLY_Q4_K_M``), delete the F16 file, rename the result into place. The same seed
and corpus give the same file. When ``--out`` already exists and loads as this model, nothing is
done.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tera_desktop.testing.tiny_models import CHATML

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".cache" / "bench-models"
MSMARCO = ROOT.parent / "shared" / "benchmarks" / "msmarco-5k" / "corpus.jsonl"

TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 1, 3, 4, 5
WEIGHT_STD = 0.02
BANNED_BIAS = -1000.0  # phi2: output.bias on banned tokens
GUARD_EMBD = 1.0  # qwen3: guard column of token_embd, + for allowed tokens, - for banned
GUARD_NORM = 1000.0  # qwen3: output_norm weight of the guard dimension
LLAMA_FTYPE_MOSTLY_Q4_K_M = 15

#: Qwen3's chat template for system/user/assistant turns (no tools): the same text for them.
QWEN3_TEMPLATE = (
    "{%- if messages and messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- set ns = namespace(last_query_index=messages|length - 1) %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' %}{%- set ns.last_query_index = loop.index0 %}{%- endif %}"
    "{%- endfor %}"
    "{%- for message in messages %}"
    "{%- set content = message.content if message.content is string else '' %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{%- set reasoning = '' %}"
    "{%- if '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1]"
    ".lstrip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{%- if loop.index0 > ns.last_query_index and (loop.last or reasoning) %}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n'"
    " + content.lstrip('\\n') }}"
    "{%- else %}"
    "{{- '<|im_start|>assistant\\n' + content }}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)

#: llama.cpp's "qwen2" pre-tokenizer (Qwen2/2.5/3): words, single digits, punctuation runs.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_C, _U = TOKEN_CONTROL, TOKEN_USER_DEFINED
#: Qwen3's added tokens, in id order from 151643 (control = "special": true in its tokenizer).
_QWEN3_ADDED = (
    ("<|endoftext|>", _C),
    ("<|im_start|>", _C),
    ("<|im_end|>", _C),
    ("<|object_ref_start|>", _C),
    ("<|object_ref_end|>", _C),
    ("<|box_start|>", _C),
    ("<|box_end|>", _C),
    ("<|quad_start|>", _C),
    ("<|quad_end|>", _C),
    ("<|vision_start|>", _C),
    ("<|vision_end|>", _C),
    ("<|vision_pad|>", _C),
    ("<|image_pad|>", _C),
    ("<|video_pad|>", _C),
    ("<tool_call>", _U),
    ("</tool_call>", _U),
    ("<|fim_prefix|>", _C),
    ("<|fim_middle|>", _C),
    ("<|fim_suffix|>", _C),
    ("<|fim_pad|>", _C),
    ("<|repo_name|>", _C),
    ("<|file_sep|>", _C),
    ("<tool_response>", _U),
    ("</tool_response>", _U),
    ("<think>", _U),
    ("</think>", _U),
)


@dataclass(frozen=True)
class Spec:
    """One real model's shapes and token layout."""

    arch: str  # llama.cpp architecture
    title: str  # the model this stands in for
    file_name: str  # default output name in CACHE_DIR
    real_bytes: int  # size of the real Q4_K_M file
    n_vocab: int
    n_ctx_train: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    norm_eps: float
    n_bpe: int  # ids 0..n_bpe-1: byte tokens + learned merges (+ [PADn] if the text is short)
    specials: tuple[tuple[int, str, int], ...]  # (offset from n_bpe, text, token type)
    bos: int  # offsets from n_bpe
    eos: int
    pad: int
    chat_template: str
    tokenizer_pre: str
    split_regex: str = ""  # "" = GPT-2's (ByteLevel's own regex)
    n_rot: int = 0  # phi2: rotary dimensions
    rope_base: float = 0.0  # qwen3: rope theta

    def token_id(self, offset: int) -> int:
        return self.n_bpe + offset


PHI2 = Spec(
    arch="phi2",
    title="Phi-2",
    file_name="phi2-random-Q4_K_M.gguf",
    real_bytes=1_789_240_608,
    n_vocab=51200,
    n_ctx_train=2048,
    n_embd=2560,
    n_layer=32,
    n_head=32,
    n_head_kv=32,
    head_dim=80,
    n_ff=10240,
    norm_eps=1e-5,
    n_bpe=50256,
    specials=((0, "<|endoftext|>", _C), (39, "<|im_end|>", _C), (40, "<|im_start|>", _C)),
    bos=0,
    eos=39,
    pad=0,
    chat_template=CHATML,
    tokenizer_pre="phi-2",
    n_rot=32,  # partial_rotary_factor 0.4 of head_dim 80
)

QWEN3 = Spec(
    arch="qwen3",
    title="Qwen3-1.7B",
    file_name="qwen3-1.7b-random-Q4_K_M.gguf",
    real_bytes=1_107_409_472,
    n_vocab=151936,
    n_ctx_train=40960,
    n_embd=2048,
    n_layer=28,
    n_head=16,
    n_head_kv=8,
    head_dim=128,
    n_ff=6144,
    norm_eps=1e-6,
    n_bpe=151643,
    specials=tuple((i, text, ty) for i, (text, ty) in enumerate(_QWEN3_ADDED)),
    bos=0,
    eos=2,
    pad=0,
    chat_template=QWEN3_TEMPLATE,
    tokenizer_pre="qwen2",
    split_regex=QWEN2_SPLIT,
    rope_base=1_000_000.0,
)

SPECS = {s.arch: s for s in (PHI2, QWEN3)}
DEFAULT_OUT = CACHE_DIR / PHI2.file_name
#: Size of TheBloke's dolphin-2_6-phi-2.Q4_K_M.gguf, the file the phi2 one stands in for.
REAL_Q4_K_M_BYTES = PHI2.real_bytes


def get_spec(arch: str) -> Spec:
    try:
        return SPECS[arch]
    except KeyError:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(sorted(SPECS))}") from None


def log(msg: str) -> None:
    print(msg, flush=True)


def gb(n: int) -> str:
    return f"{n / 1e9:.3f} GB"


# --------------------------------------------------------------------------- tokenizer


def corpus_texts(corpus: Path | None) -> tuple[list[str], str]:
    """English text to learn merges from, and a word saying where it came from."""
    path = corpus if corpus is not None else (MSMARCO if MSMARCO.is_file() else None)
    if path is None:
        import pydoc_data.topics

        topics = pydoc_data.topics.topics
        return [topics[k] for k in sorted(topics)], "python-pydoc-topics"
    texts: list[str] = []
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        for line in raw.split("\n"):
            if line.strip():
                row = json.loads(line)
                text = " ".join(str(row.get(k) or "") for k in ("title", "text")).strip()
                if text:
                    texts.append(text)
    else:
        texts = [p for p in raw.split("\n\n") if p.strip()]
    return texts, path.name


def build_vocab(texts: list[str], spec: Spec = PHI2) -> tuple[list[str], list[int], list[str], int]:
    """Token strings, token types, merges ("a b") and the number of learned BPE tokens."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    if spec.split_regex:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(spec.split_regex), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=spec.n_bpe,
        min_frequency=0,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(texts, trainer)
    model = json.loads(tok.to_str())["model"]
    learned = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    if len(learned) > spec.n_bpe:
        raise RuntimeError(f"BPE trainer gave {len(learned)} tokens, more than {spec.n_bpe}")
    n_bpe = spec.n_bpe
    tokens = learned + [f"[PAD{i}]" for i in range(len(learned), n_bpe)]
    types = [TOKEN_NORMAL] * len(learned) + [TOKEN_UNUSED] * (n_bpe - len(learned))
    special = {spec.token_id(off): (text, ty) for off, text, ty in spec.specials}
    for i in range(n_bpe, spec.n_vocab):
        text, ty = special.get(i, (f"[PAD{i}]", TOKEN_UNUSED))
        tokens.append(text)
        types.append(ty)
    assert len(tokens) == len(set(tokens)) == spec.n_vocab
    return tokens, types, merges, len(learned)


def banned_ids(tokens: list[str], types: list[int]) -> list[int]:
    """Control, user-defined and unused tokens, and BPE tokens that are not whole UTF-8 text."""
    dec = _byte_decoder()
    out = []
    for i, (t, ty) in enumerate(zip(tokens, types, strict=True)):
        if ty != TOKEN_NORMAL:
            out.append(i)
            continue
        try:
            bytes(dec[c] for c in t).decode("utf-8")
        except UnicodeDecodeError:
            out.append(i)
    return out


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet: printable character -> byte."""
    bs = list(range(ord("!"), ord("~") + 1))
    bs += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


# --------------------------------------------------------------------------- weights

#: (name, numpy shape (out, in), kind). Kinds: rand, ones, zeros, out_bias (phi2), and for
#: qwen3's guard dimension: embd_guard, rand_guard (row GUARD_DIM zero), norm_guard.
Plan = list[tuple[str, tuple[int, ...], str]]


def guard_dim(spec: Spec) -> int:
    return spec.n_embd - 1


def tensor_plan(spec: Spec = PHI2) -> Plan:
    """The tensors in the order convert_hf_to_gguf writes them."""
    if spec.arch == "phi2":
        return _phi2_plan(spec)
    if spec.arch == "qwen3":
        return _qwen3_plan(spec)
    raise ValueError(f"no tensor plan for {spec.arch!r}")


def _phi2_plan(spec: Spec) -> Plan:
    d, f, v = spec.n_embd, spec.n_ff, spec.n_vocab
    plan: Plan = [("token_embd.weight", (v, d), "rand")]
    for i in range(spec.n_layer):
        b = f"blk.{i}"
        plan += [
            (f"{b}.attn_norm.weight", (d,), "ones"),
            (f"{b}.attn_norm.bias", (d,), "zeros"),
            (f"{b}.attn_qkv.weight", (3 * d, d), "rand"),
            (f"{b}.attn_qkv.bias", (3 * d,), "zeros"),
            (f"{b}.attn_output.weight", (d, d), "rand"),
            (f"{b}.attn_output.bias", (d,), "zeros"),
            (f"{b}.ffn_up.weight", (f, d), "rand"),
            (f"{b}.ffn_up.bias", (f,), "zeros"),
            (f"{b}.ffn_down.weight", (d, f), "rand"),
            (f"{b}.ffn_down.bias", (d,), "zeros"),
        ]
    plan += [
        ("output_norm.weight", (d,), "ones"),
        ("output_norm.bias", (d,), "zeros"),
        ("output.weight", (v, d), "rand"),
        ("output.bias", (v,), "out_bias"),
    ]
    return plan


def _qwen3_plan(spec: Spec) -> Plan:
    d, f, hd = spec.n_embd, spec.n_ff, spec.head_dim
    q, kv = spec.n_head * hd, spec.n_head_kv * hd
    plan: Plan = [("token_embd.weight", (spec.n_vocab, d), "embd_guard")]
    for i in range(spec.n_layer):
        b = f"blk.{i}"
        plan += [
            (f"{b}.attn_norm.weight", (d,), "ones"),
            (f"{b}.attn_q.weight", (q, d), "rand"),
            (f"{b}.attn_q_norm.weight", (hd,), "ones"),
            (f"{b}.attn_k.weight", (kv, d), "rand"),
            (f"{b}.attn_k_norm.weight", (hd,), "ones"),
            (f"{b}.attn_v.weight", (kv, d), "rand"),
            (f"{b}.attn_output.weight", (d, q), "rand_guard"),
            (f"{b}.ffn_norm.weight", (d,), "ones"),
            (f"{b}.ffn_gate.weight", (f, d), "rand"),
            (f"{b}.ffn_up.weight", (f, d), "rand"),
            (f"{b}.ffn_down.weight", (d, f), "rand_guard"),
        ]
    plan.append(("output_norm.weight", (d,), "norm_guard"))
    return plan  # no output.weight: tied to token_embd


def n_params(spec: Spec) -> int:
    total = 0
    for _, shape, _ in tensor_plan(spec):
        n = 1
        for s in shape:
            n *= s
        total += n
    return total


def _add_metadata(writer: Any, spec: Spec, *, seed: int, source: str) -> None:
    import gguf

    writer.add_name(f"tera-random-{spec.arch}")
    writer.add_description(
        f"Random weights (seed {seed}) in {spec.title}'s exact shapes, for speed benchmarks only; "
        f"synthetic BPE vocabulary learned from {source}."
    )
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(spec.n_ctx_train)
    writer.add_embedding_length(spec.n_embd)
    writer.add_block_count(spec.n_layer)
    writer.add_feed_forward_length(spec.n_ff)
    writer.add_head_count(spec.n_head)
    writer.add_head_count_kv(spec.n_head_kv)
    if spec.arch == "phi2":
        writer.add_rope_dimension_count(spec.n_rot)
        writer.add_layer_norm_eps(spec.norm_eps)
    else:
        writer.add_rope_freq_base(spec.rope_base)
        writer.add_layer_norm_rms_eps(spec.norm_eps)
        writer.add_key_length(spec.head_dim)
        writer.add_value_length(spec.head_dim)


def _add_tokenizer(
    writer: Any, spec: Spec, tokens: list[str], types: list[int], merges: list[str]
) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(spec.tokenizer_pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(spec.token_id(spec.bos))
    writer.add_eos_token_id(spec.token_id(spec.eos))
    if spec.arch == "phi2":
        writer.add_unk_token_id(spec.token_id(spec.bos))
    writer.add_pad_token_id(spec.token_id(spec.pad))
    writer.add_add_bos_token(False)
    if spec.arch == "phi2":
        writer.add_add_eos_token(False)
    writer.add_chat_template(spec.chat_template)


def write_f16(path: Path, *, seed: int, corpus: Path | None, spec: Spec = PHI2) -> dict[str, Any]:
    """Write the F16 GGUF (2-D weights F16, 1-D norms/biases F32, as llama.cpp converts)."""
    import gguf
    import numpy as np

    t0 = time.perf_counter()
    texts, source = corpus_texts(corpus)
    tokens, types, merges, n_learned = build_vocab(texts, spec)
    banned = banned_ids(tokens, types)
    log(
        f"vocab: {spec.n_vocab} tokens ({n_learned} byte-level BPE learned from {source}, "
        f"{len(merges)} merges), {len(banned)} banned from generation "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    plan = tensor_plan(spec)
    writer = gguf.GGUFWriter(path, spec.arch)
    _add_metadata(writer, spec, seed=seed, source=source)
    _add_tokenizer(writer, spec, tokens, types, merges)

    for name, shape, _ in plan:
        dt = np.dtype(np.float16 if len(shape) == 2 else np.float32)
        writer.add_tensor_info(name, shape, dt, int(np.prod(shape)) * dt.itemsize)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()

    rng = np.random.default_rng(seed)
    g = guard_dim(spec)

    def rand16(shape: tuple[int, ...]) -> Any:
        """Normal(0, WEIGHT_STD) as float16, drawn in row blocks (same numbers, less RAM)."""
        out = np.empty(shape, dtype=np.float16)
        step = max(1, (1 << 24) // shape[1])
        for r in range(0, shape[0], step):
            a = rng.standard_normal((min(step, shape[0] - r), shape[1]), dtype=np.float32)
            a *= WEIGHT_STD
            out[r : r + len(a)] = a
        return out

    def generate() -> Iterator[tuple[str, Any]]:
        for name, shape, kind in plan:
            if kind == "rand":
                yield name, rand16(shape)
            elif kind == "embd_guard":
                a = rand16(shape)
                a[:, g] = GUARD_EMBD
                a[banned, g] = -GUARD_EMBD
                yield name, a
            elif kind == "rand_guard":
                a = rand16(shape)
                a[g, :] = 0
                yield name, a
            elif kind == "ones":
                yield name, np.ones(shape, dtype=np.float32)
            elif kind == "norm_guard":
                a = np.ones(shape, dtype=np.float32)
                a[g] = GUARD_NORM
                yield name, a
            elif kind == "zeros":
                yield name, np.zeros(shape, dtype=np.float32)
            elif kind == "out_bias":
                a = np.zeros(shape, dtype=np.float32)
                a[banned] = BANNED_BIAS
                yield name, a
            else:
                raise ValueError(f"unknown tensor kind {kind!r}")

    last_of_block = {}
    for name, _, _ in plan:
        if name.startswith("blk."):
            last_of_block[int(name.split(".")[1])] = name
    t1 = time.perf_counter()
    for name, arr in generate():
        writer.write_tensor_data(arr)
        if name.startswith("blk."):
            i = int(name.split(".")[1])
            if last_of_block[i] == name and ((i + 1) % 8 == 0 or i + 1 == spec.n_layer):
                log(f"  wrote up to blk.{i} ({time.perf_counter() - t1:.0f} s)")
        del arr
    writer.close()
    return {
        "vocab_source": source,
        "bpe_learned": n_learned,
        "merges": len(merges),
        "banned": len(banned),
        "f16_bytes": path.stat().st_size,
        "f16_write_s": round(time.perf_counter() - t0, 1),
    }


# --------------------------------------------------------------------------- quantize, check


def quantize(src: Path, dst: Path, threads: int, verbose: bool) -> float:
    import llama_cpp
    from llama_cpp._logger import set_verbose

    set_verbose(verbose)  # llama.cpp prints one line per tensor otherwise
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = threads
    t0 = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize returned {rc}")
    return time.perf_counter() - t0


def expected_meta(spec: Spec = PHI2) -> dict[str, str]:
    """GGUF metadata (as llama-cpp-python's ``Llama.metadata`` strings) that identifies the file."""
    a = spec.arch
    meta = {
        "general.architecture": a,
        f"{a}.context_length": str(spec.n_ctx_train),
        f"{a}.embedding_length": str(spec.n_embd),
        f"{a}.block_count": str(spec.n_layer),
        f"{a}.feed_forward_length": str(spec.n_ff),
        f"{a}.attention.head_count": str(spec.n_head),
        "general.file_type": str(LLAMA_FTYPE_MOSTLY_Q4_K_M),
    }
    if a == "phi2":
        meta[f"{a}.rope.dimension_count"] = str(spec.n_rot)
    else:
        meta[f"{a}.attention.head_count_kv"] = str(spec.n_head_kv)
        meta[f"{a}.attention.key_length"] = str(spec.head_dim)
    return meta


EXPECTED_META = expected_meta(PHI2)


def check(path: Path, spec: Spec = PHI2) -> dict[str, Any] | None:
    """Load ``path`` with llama-cpp-python; its facts if it is this model, else None."""
    import llama_cpp
    from llama_cpp import Llama

    try:
        t0 = time.perf_counter()
        llm = Llama(str(path), n_ctx=256, n_threads=1, n_threads_batch=1, verbose=False)
        load_s = time.perf_counter() - t0
    except Exception as e:  # any failure means "rebuild"
        log(f"{path} does not load: {e}")
        return None
    try:
        meta = dict(llm.metadata)
        want = expected_meta(spec)
        wrong = {k: (meta.get(k), v) for k, v in want.items() if meta.get(k) != v}
        if llm.n_vocab() != spec.n_vocab:
            wrong["n_vocab"] = (str(llm.n_vocab()), str(spec.n_vocab))
        if wrong:
            log(f"{path} is not the expected model: {wrong}")
            return None
        desc = ctypes.create_string_buffer(128)
        llama_cpp.llama_model_desc(llm.model, desc, len(desc))
        return {
            "load_s": round(load_s, 2),
            "desc": desc.value.decode(),
            "n_params": llama_cpp.llama_model_n_params(llm.model),
        }
    finally:
        llm.close()


def header_matches(path: Path, spec: Spec) -> bool:
    """A cheap check (GGUF header only, no model load) that ``path`` is this model, complete."""
    try:
        import gguf

        reader = gguf.GGUFReader(path)
        meta: dict[str, str] = {}
        for key in expected_meta(spec):
            field = reader.get_field(key)
            if field is None:
                return False
            value = field.contents()
            meta[key] = str(value)
        n_tensors = len(reader.tensors)
        last = reader.tensors[-1]
        complete = int(last.data_offset) + int(last.n_bytes) <= path.stat().st_size
    except Exception:
        return False
    return meta == expected_meta(spec) and n_tensors == len(tensor_plan(spec)) and complete


# --------------------------------------------------------------------------- build


def build(
    out: Path,
    spec: Spec = PHI2,
    *,
    seed: int = 0,
    corpus: Path | None = None,
    threads: int = 0,
    verbose: bool = False,
) -> dict[str, Any]:
    """Write ``out`` (F16, quantize, check, rename into place); its facts. Raises on failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    f16 = out.with_name(f".{out.stem}.F16.gguf.tmp")
    q_tmp = out.with_name(f".{out.name}.tmp")
    t0 = time.perf_counter()
    try:
        log(f"writing F16 {f16} ({spec.arch}, {n_params(spec):,} parameters)")
        info = write_f16(f16, seed=seed, corpus=corpus, spec=spec)
        log(f"F16: {gb(info['f16_bytes'])} in {info['f16_write_s']} s")
        log(f"quantizing to Q4_K_M (threads {threads or os.cpu_count()})")
        q_s = quantize(f16, q_tmp, threads, verbose)
        log(f"Q4_K_M: {gb(q_tmp.stat().st_size)} in {q_s:.1f} s")
    except BaseException:
        q_tmp.unlink(missing_ok=True)
        raise
    finally:
        f16.unlink(missing_ok=True)
    os.chmod(q_tmp, 0o644)
    os.replace(q_tmp, out)
    facts = check(out, spec)
    if facts is None:
        raise RuntimeError(f"{out} was written but does not load as {spec.title}")
    size = out.stat().st_size
    log(
        f"{out}: {size:,} bytes ({gb(size)}; real {spec.title} Q4_K_M {spec.real_bytes:,}, "
        f"ratio {size / spec.real_bytes:.3f}); loads in {facts['load_s']} s; "
        f"{facts['n_params']:,} parameters; total {time.perf_counter() - t0:.0f} s"
    )
    return {**info, **facts, "bytes": size, "quantize_s": round(q_s, 1)}


@contextlib.contextmanager
def _build_lock(out: Path) -> Iterator[None]:
    """One builder per output file across processes (two benchmarks may ask at once)."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(f".{out.name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_shaped_gguf(arch: str, out_dir: Path | None = None) -> Path:
    """The random-weight Q4_K_M GGUF in ``arch``'s real shapes ("phi2" or "qwen3"), built into
    ``out_dir`` (default ``.cache/bench-models``) only when it is missing or not this model.
    Building takes minutes (qwen3 ~3-5, phi2 ~5 on 2 cores) and ~3 GB of RAM."""
    spec = get_spec(arch)
    out = Path(out_dir or CACHE_DIR) / spec.file_name
    if out.is_file() and header_matches(out, spec):
        return out
    with _build_lock(out):
        if not (out.is_file() and header_matches(out, spec)):
            build(out, spec)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arch", choices=sorted(SPECS), default="phi2", help="shapes (default phi2)")
    p.add_argument("--out", type=Path, default=None, help="default .cache/bench-models/<arch>…")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="quantizer threads (0: all cores)")
    p.add_argument("--corpus", type=Path, default=None, help="text or jsonl to learn merges from")
    p.add_argument("--force", action="store_true", help="rebuild even if --out loads")
    p.add_argument("--verbose", action="store_true", help="show llama.cpp's quantizer log")
    args = p.parse_args(argv)
    spec = get_spec(args.arch)
    out: Path = args.out or CACHE_DIR / spec.file_name
    try:
        with _build_lock(out):  # another process may be building it: wait, then look
            if out.is_file() and not args.force:
                facts = check(out, spec)
                if facts is not None:
                    size = gb(out.stat().st_size)
                    log(f"{out} exists and loads ({size}, {facts}); nothing to do")
                    return 0
            build(
                out,
                spec,
                seed=args.seed,
                corpus=args.corpus,
                threads=args.threads,
                verbose=args.verbose,
            )
    except RuntimeError as e:
        log(str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
