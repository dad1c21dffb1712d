"""A random-weight GGUF in Phi-2's exact shapes, quantized to Q4_K_M: a stand-in for speed.

    python -m bench.make_phi2_gguf [--out .cache/bench-models/phi2-random-Q4_K_M.gguf]
                                   [--seed 0] [--threads 0] [--corpus FILE] [--force]

The app's default model, dolphin-2.6-phi-2 Q4_K_M (1,789,240,608 bytes), cannot be downloaded
on the build machines. Speed depends on shapes and quantization types, not on what the weights
say, so this writes the same network with random weights and measures the same thing:

- architecture ``phi2`` exactly as llama.cpp loads dolphin-2.6-phi-2: n_vocab 51200,
  n_ctx_train 2048, n_embd 2560, 32 layers, 32 heads (head_dim 80), n_ff 10240, partial
  rotary (32 of 80 dimensions), LayerNorm eps 1e-5, fused ``attn_qkv`` (as in the
  published dolphin GGUF; llama.cpp 0.3.36's Q4_K_M makes it Q6_K in half the layers and
  Q4_K in the rest, like ``attn_v``), biases everywhere, output head with bias: 325
  tensors, 2,779,683,840 parameters;
- a GPT-2-style byte-level BPE tokenizer (``tokenizer.ggml.model="gpt2"``, pre-tokenizer
  ``phi-2``) of exactly 51200 entries, laid out like dolphin's: ids 0…50255 hold the 256
  GPT-2 byte tokens and merges learned with ``tokenizers`` from English text (the MS MARCO
  passages in ``shared/benchmarks`` when present, else Python's own pydoc topics; padded
  with unused ``[PADn]`` entries if the text yields fewer), 50256 ``<|endoftext|>`` (bos),
  50295 ``<|im_end|>`` (eos), 50296 ``<|im_start|>``, the rest unused ``[PADn]`` as in
  phi-2's GGUF; so any text tokenizes, English at a realistic number of tokens per word;
- a ChatML chat template;
- ``output.bias`` of -1000 on control and unused tokens and on tokens that are not whole
  UTF-8 text, so greedy or sampled generation never ends early and streams readable
  pieces (the benchmark also bans end-of-text with ``logit_bias``).

Steps: write an F16 GGUF with ``gguf.GGUFWriter`` (tensor infos first, then each tensor
generated from a seeded numpy generator, written and freed: 5.56 GB on disk, under 1 GB
of RAM), quantize it with llama.cpp's own quantizer through ``llama_cpp.llama_model_quantize``
(``LLAMA_FTYPE_MOSTLY_Q4_K_M``; peak RSS ~2.9 GB), delete the F16 file, rename the result
into place. The same seed and corpus give the same file. When ``--out`` already exists and
loads as this model, nothing is done. Measured on the 2-core build machine (shared): F16
~70 s, quantizing ~205 s, result 1,791,528,352 bytes (the real file + 0.13 %).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / ".cache" / "bench-models" / "phi2-random-Q4_K_M.gguf"
MSMARCO = ROOT.parent / "shared" / "benchmarks" / "msmarco-5k" / "corpus.jsonl"
#: Size of TheBloke's dolphin-2_6-phi-2.Q4_K_M.gguf, the file this stands in for.
REAL_Q4_K_M_BYTES = 1_789_240_608

# Phi-2 (microsoft/phi-2 config.json; dolphin-2.6-phi-2 is a fine-tune of it).
N_VOCAB = 51200
N_CTX_TRAIN = 2048
N_EMBD = 2560
N_LAYER = 32
N_HEAD = 32
N_FF = 10240
N_ROT = 32  # partial_rotary_factor 0.4 of head_dim 80
LN_EPS = 1e-5

# Token layout of dolphin-2.6-phi-2.
N_BPE = 50256  # ids 0..50255: byte tokens + merges
ENDOFTEXT_ID = 50256
IM_END_ID = 50295
IM_START_ID = 50296

TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_UNUSED = 1, 3, 5
WEIGHT_STD = 0.02
BANNED_BIAS = -1000.0


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


def build_vocab(texts: list[str]) -> tuple[list[str], list[int], list[str], int]:
    """Token strings, token types, merges ("a b") and the number of learned BPE tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=N_BPE,
        min_frequency=0,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(texts, trainer)
    model = json.loads(tok.to_str())["model"]
    learned = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    if len(learned) > N_BPE:
        raise RuntimeError(f"BPE trainer gave {len(learned)} tokens, more than {N_BPE}")
    tokens = learned + [f"[PAD{i}]" for i in range(len(learned), N_BPE)]
    types = [TOKEN_NORMAL] * len(learned) + [TOKEN_UNUSED] * (N_BPE - len(learned))
    for i in range(N_BPE, N_VOCAB):
        special = {
            ENDOFTEXT_ID: "<|endoftext|>",
            IM_END_ID: "<|im_end|>",
            IM_START_ID: "<|im_start|>",
        }
        tokens.append(special.get(i, f"[PAD{i}]"))
        types.append(TOKEN_CONTROL if i in special else TOKEN_UNUSED)
    assert len(tokens) == len(set(tokens)) == N_VOCAB
    return tokens, types, merges, len(learned)


def banned_ids(tokens: list[str], types: list[int]) -> list[int]:
    """Control and unused tokens, and BPE tokens whose bytes are not whole UTF-8 text."""
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


def tensor_plan() -> list[tuple[str, tuple[int, ...], str]]:
    """(name, numpy shape (out, in), kind) in the order convert_hf_to_gguf writes phi2."""
    d, f = N_EMBD, N_FF
    plan: list[tuple[str, tuple[int, ...], str]] = [("token_embd.weight", (N_VOCAB, d), "rand")]
    for i in range(N_LAYER):
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
        ("output.weight", (N_VOCAB, d), "rand"),
        ("output.bias", (N_VOCAB,), "out_bias"),
    ]
    return plan


def write_f16(path: Path, *, seed: int, corpus: Path | None) -> dict[str, Any]:
    """Write the F16 GGUF (2-D weights F16, 1-D norms/biases F32, as llama.cpp converts)."""
    import gguf
    import numpy as np

    from tera_desktop.testing.tiny_models import CHATML

    t0 = time.perf_counter()
    texts, source = corpus_texts(corpus)
    tokens, types, merges, n_learned = build_vocab(texts)
    banned = banned_ids(tokens, types)
    log(
        f"vocab: {N_VOCAB} tokens ({n_learned} byte-level BPE learned from {source}, "
        f"{len(merges)} merges), {len(banned)} banned from generation "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    plan = tensor_plan()
    writer = gguf.GGUFWriter(path, "phi2")
    writer.add_name("tera-random-phi-2")
    writer.add_description(
        f"Random weights (seed {seed}) in Phi-2's exact shapes, for speed benchmarks only; "
        f"synthetic BPE vocabulary learned from {source}."
    )
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_ROT)
    writer.add_layer_norm_eps(LN_EPS)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("phi-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(ENDOFTEXT_ID)
    writer.add_eos_token_id(IM_END_ID)
    writer.add_unk_token_id(ENDOFTEXT_ID)
    writer.add_pad_token_id(ENDOFTEXT_ID)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHATML)

    def dtype_of(shape: tuple[int, ...]) -> Any:
        return np.float16 if len(shape) == 2 else np.float32

    for name, shape, _ in plan:
        dt = np.dtype(dtype_of(shape))
        writer.add_tensor_info(name, shape, dt, int(np.prod(shape)) * dt.itemsize)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()

    rng = np.random.default_rng(seed)

    def generate() -> Iterator[tuple[str, Any]]:
        for name, shape, kind in plan:
            if kind == "rand":
                a = rng.standard_normal(shape, dtype=np.float32)
                a *= WEIGHT_STD
                yield name, a.astype(np.float16)
            elif kind == "ones":
                yield name, np.ones(shape, dtype=np.float32)
            elif kind == "zeros":
                yield name, np.zeros(shape, dtype=np.float32)
            else:  # out_bias
                a = np.zeros(shape, dtype=np.float32)
                a[banned] = BANNED_BIAS
                yield name, a

    t1 = time.perf_counter()
    for name, arr in generate():
        writer.write_tensor_data(arr)
        if name.endswith("ffn_down.bias") and (int(name.split(".")[1]) + 1) % 8 == 0:
            block = name.rsplit(".", 2)[0]
            log(f"  wrote up to {block} ({time.perf_counter() - t1:.0f} s)")
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


EXPECTED_META = {
    "general.architecture": "phi2",
    "phi2.context_length": str(N_CTX_TRAIN),
    "phi2.embedding_length": str(N_EMBD),
    "phi2.block_count": str(N_LAYER),
    "phi2.feed_forward_length": str(N_FF),
    "phi2.attention.head_count": str(N_HEAD),
    "phi2.rope.dimension_count": str(N_ROT),
    "general.file_type": "15",  # LLAMA_FTYPE_MOSTLY_Q4_K_M
}


def check(path: Path) -> dict[str, Any] | None:
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
        wrong = {k: (meta.get(k), v) for k, v in EXPECTED_META.items() if meta.get(k) != v}
        if llm.n_vocab() != N_VOCAB:
            wrong["n_vocab"] = (str(llm.n_vocab()), str(N_VOCAB))
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="quantizer threads (0: all cores)")
    p.add_argument("--corpus", type=Path, default=None, help="text or jsonl to learn merges from")
    p.add_argument("--force", action="store_true", help="rebuild even if --out loads")
    p.add_argument("--verbose", action="store_true", help="show llama.cpp's quantizer log")
    args = p.parse_args(argv)
    out: Path = args.out
    if out.is_file() and not args.force:
        facts = check(out)
        if facts is not None:
            log(f"{out} exists and loads ({gb(out.stat().st_size)}, {facts}); nothing to do")
            return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    f16 = out.with_name(f".{out.stem}.F16.gguf.tmp")
    q_tmp = out.with_name(f".{out.name}.tmp")
    t0 = time.perf_counter()
    try:
        log(f"writing F16 {f16}")
        info = write_f16(f16, seed=args.seed, corpus=args.corpus)
        log(f"F16: {gb(info['f16_bytes'])} in {info['f16_write_s']} s")
        log(f"quantizing to Q4_K_M (threads {args.threads or os.cpu_count()})")
        q_s = quantize(f16, q_tmp, args.threads, args.verbose)
        log(f"Q4_K_M: {gb(q_tmp.stat().st_size)} in {q_s:.1f} s")
    except BaseException:
        q_tmp.unlink(missing_ok=True)
        raise
    finally:
        f16.unlink(missing_ok=True)
    os.chmod(q_tmp, 0o644)
    os.replace(q_tmp, out)
    facts = check(out)
    if facts is None:
        return 1
    size = out.stat().st_size
    log(
        f"{out}: {size:,} bytes ({gb(size)}; real dolphin-2.6-phi-2 Q4_K_M "
        f"{REAL_Q4_K_M_BYTES:,}, ratio {size / REAL_Q4_K_M_BYTES:.3f}); "
        f"loads in {facts['load_s']} s; {facts['n_params']:,} parameters; "
        f"total {time.perf_counter() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
