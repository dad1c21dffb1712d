"""Tiny, deterministic models for unit tests, benchmarks and the app's self-test.

Two writers, both fast (well under a second) and reproducible byte for byte:

``write_tiny_gguf(path)``
    A random-weight GGUF (llama architecture by default, phi2 on request: 2 layers,
    hidden 64, 4 heads, FFN 128, float32, about 600 KB) that llama-cpp-python loads in
    a few milliseconds. Its SentencePiece-style vocabulary holds the 256 byte-fallback
    tokens ``<0x00>``…``<0xFF>`` (so any text tokenizes), the control tokens ``<s>``,
    ``</s>``, ``<unk>``, ``<|im_start|>``, ``<|im_end|>`` and a few hundred plain
    pieces (``▁the``, ``▁gate``, letters…). ``eos`` is ``<|im_end|>``. The weights
    are biased so that generation never picks a control or byte token: a stream always
    runs to ``max_tokens`` in readable pieces, which makes cancellation and streaming
    tests deterministic in length (and, with a fixed sampling seed, in text).

``write_tiny_embedding_model(folder)``
    A BERT-shaped ONNX graph plus a WordPiece ``tokenizer.json`` and the JSON files
    FastEmbed wants. The graph only looks token vectors up in a fixed seeded random
    table (special tokens map to zero vectors), so FastEmbed's mean pooling plus
    normalisation gives the normalised sum of the word vectors: a bag of words.
    Texts that share words are close, texts that share none are nearly orthogonal,
    so retrieval tests can predict rankings ("gate code" finds "the gate code is
    4512", not "my cat is blue"). Frequent function words ("the", "is", "my"…) get
    vectors a quarter as long, so they barely move a ranking.

The heavy libraries (``gguf``, ``numpy``, ``onnx``, ``tokenizers``, ``fastembed``) are
imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CHATML",
    "TINY_EMBEDDING_DIM",
    "TINY_EMBEDDING_MIN_SCORE",
    "TINY_EMBEDDING_NAME",
    "TINY_EMBEDDING_WORDS",
    "TINY_GGUF_WORDS",
    "load_tiny_embedding",
    "register_tiny_embedding",
    "tiny_embedding_name",
    "write_tiny_embedding_model",
    "write_tiny_gguf",
]

# --------------------------------------------------------------------------- shared

#: ChatML, the same template SmolLM2/Qwen/dolphin models ship (Jinja, as in GGUF files).
CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: Words the tests talk about; both tiny models know them as whole tokens.
_TEST_WORDS = (
    "gate code cat dog paris france capital blue color colour sky favourite favorite "
    "birthday password meeting tuesday monday wednesday thursday friday saturday sunday "
    "remember tera note doctor appointment wifi car key keys door garden mother father "
    "sister brother wife husband friend phone number address street city london berlin "
    "book train flight hotel pizza coffee tea red green yellow black white kitten rug mat "
    "stock market markets fell price bank account pin"
)

#: Frequent function words; in the embedding model their vectors are scaled by 1/4.
_STOPWORDS = (
    "the a an is are was were be been my your his her its our their of to in on at for "
    "with by from and or but not no it this that these those what which who when where "
    "how why i you he she we they me him us them do does did has have had will would "
    "can could should as so if then than there here"
)

_COMMON_WORDS = (
    "time year people way day man woman child world life hand part place case week "
    "company system program question work government home room house school water "
    "family name word story fact month lot right study job money point night thing "
    "food music movie game team member group problem service area country state "
    "new old good bad big small long short high low first last next early late "
    "great little own other same able best better sure free full hot cold warm cool "
    "say said get got make made go went know knew take took see saw come came think "
    "look want give use find tell ask seem feel try leave call keep let begin help "
    "show hear play run move live believe hold bring write sit sits stand lose pay "
    "meet include set learn change lead understand watch follow stop create speak "
    "read spend grow open walk win offer love buy wait serve die send expect build "
    "stay fall cut reach kill remain one two three four five six seven eight nine ten "
    "hundred thousand today tomorrow yesterday morning evening afternoon noon hour "
    "minute always never often sometimes again also just only very really well still "
    "all some any every each many much more most few less up down out over under "
    "about after before into through between during without again against near "
    "email message letter file document report project plan list idea answer "
    "january february march april may june july august september october november "
    "december summer winter spring autumn rain snow sun moon star tree flower river "
    "sea mountain island beach road bridge office shop store market restaurant "
    "birthday party gift cake dinner lunch breakfast bread milk cheese apple orange "
    "wine beer bus bike plane ship computer laptop screen"
)


def _words(*groups: str) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for word in group.split():
            seen.setdefault(word, None)
    return list(seen)


#: The whole words of the tiny embedding model's vocabulary.
TINY_EMBEDDING_WORDS: tuple[str, ...] = tuple(_words(_TEST_WORDS, _STOPWORDS, _COMMON_WORDS))

#: The whole words of the tiny GGUF's vocabulary (each as ``▁word`` plus its prefixes).
TINY_GGUF_WORDS: tuple[str, ...] = tuple(
    _words(
        "the a is my of to and what code gate cat dog blue sky paris capital france "
        "remember answer question tera you it in"
    )
)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- GGUF

_GGUF_HIDDEN = 64
_GGUF_LAYERS = 2
_GGUF_HEADS = 4
_GGUF_FFN = 128
_GGUF_CONTEXT = 2048
_GGUF_CONTROL = ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")


def _gguf_vocab() -> tuple[list[str], list[float], list[int]]:
    """Token strings, SentencePiece scores and token types (gguf.TokenType values)."""
    normal, unknown, control, byte = 1, 2, 3, 6
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []
    for tok in _GGUF_CONTROL:
        tokens.append(tok)
        scores.append(0.0)
        types.append(unknown if tok == "<unk>" else control)
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(byte)
    # Plain pieces: "▁", the letters with and without "▁", digits, some punctuation, and
    # every prefix of "▁word" so SentencePiece's pairwise merges can reach whole words.
    pieces: dict[str, None] = {"▁": None}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789":
        pieces.setdefault(ch, None)
        pieces.setdefault("▁" + ch, None)
    for ch in ".,?!:'-":
        pieces.setdefault(ch, None)
    for word in TINY_GGUF_WORDS:
        full = "▁" + word
        for end in range(2, len(full) + 1):
            pieces.setdefault(full[:end], None)
    for piece in pieces:
        tokens.append(piece)
        # Longer pieces score higher, so merges prefer whole words.
        scores.append(-10.0 + len(piece))
        types.append(normal)
    return tokens, scores, types


def write_tiny_gguf(
    path: Path,
    *,
    seed: int = 0,
    arch: str = "llama",
    chat_template: str | None = CHATML,
) -> Path:
    """Write a tiny random-weight GGUF chat model to ``path`` and return ``path``.

    ``arch`` is ``"llama"`` (RMSNorm, SwiGLU; the default) or ``"phi2"`` (LayerNorm,
    GELU, fused ``attn_qkv``, partial rotary, biases). ``chat_template`` goes into
    ``tokenizer.chat_template``; ``None`` leaves the key out (to test a ChatML
    fallback). The same arguments give a byte-identical file. The file is written to
    a temporary name and renamed, so a reader never sees half a model.

    Generation never emits a control token (so never ``<|im_end|>``) nor a byte token:
    llama gets one residual dimension that every token embedding sets to a large
    constant and the output rows of those tokens weight it strongly negative; phi2
    gets a large negative output bias on those rows. A stream therefore runs to
    ``max_tokens`` and every piece is plain text (word pieces such as " gate", "que").
    """
    import gguf
    import numpy as np

    if arch not in ("llama", "phi2"):
        raise ValueError(f"arch must be 'llama' or 'phi2', not {arch!r}")
    path = Path(path)
    rng = np.random.default_rng(seed)
    tokens, scores, types = _gguf_vocab()
    n_vocab, d, f = len(tokens), _GGUF_HIDDEN, _GGUF_FFN
    # Never generated: control tokens (so generation never ends early) and byte tokens
    # (so every streamed piece is readable text, never a stray or broken UTF-8 byte).
    banned_ids = [i for i, t in enumerate(types) if t in (2, 3, 6)]
    path.parent.mkdir(parents=True, exist_ok=True)

    def rand(*shape: int, std: float = 0.02) -> Any:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def ones(n: int) -> Any:
        return np.ones(n, dtype=np.float32)

    def zeros(n: int) -> Any:
        return np.zeros(n, dtype=np.float32)

    tensors: list[tuple[str, Any]] = []
    embd = rand(n_vocab, d, std=1.0)
    output = rand(n_vocab, d, std=1.0)
    if arch == "llama":
        # Dimension 0 carries a large constant through the (small) layers; after the
        # final RMSNorm it is still strongly positive, so a very negative weight on it
        # keeps the control tokens' logits far below every plain token's.
        embd[:, 0] = 8.0
        output[:, 0] = 0.0
        output[banned_ids, 0] = -100.0
    tensors.append(("token_embd.weight", embd))

    tmp_fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(tmp_fd)
    try:
        writer = gguf.GGUFWriter(tmp_name, arch)
        writer.add_name(f"tera-tiny-{arch}")
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        writer.add_context_length(_GGUF_CONTEXT)
        writer.add_embedding_length(d)
        writer.add_block_count(_GGUF_LAYERS)
        writer.add_feed_forward_length(f)
        writer.add_head_count(_GGUF_HEADS)
        writer.add_head_count_kv(_GGUF_HEADS)
        if arch == "llama":
            writer.add_rope_dimension_count(d // _GGUF_HEADS)
            writer.add_layer_norm_rms_eps(1e-5)
        else:
            writer.add_rope_dimension_count(d // _GGUF_HEADS // 2)
            writer.add_layer_norm_eps(1e-5)

        writer.add_tokenizer_model("llama")
        writer.add_token_list(tokens)
        writer.add_token_scores(scores)
        writer.add_token_types(types)
        writer.add_unk_token_id(tokens.index("<unk>"))
        writer.add_bos_token_id(tokens.index("<s>"))
        writer.add_eos_token_id(tokens.index("<|im_end|>"))
        writer.add_pad_token_id(tokens.index("</s>"))
        writer.add_add_bos_token(False)
        writer.add_add_eos_token(False)
        if chat_template is not None:
            writer.add_chat_template(chat_template)

        for i in range(_GGUF_LAYERS):
            b = f"blk.{i}"
            if arch == "llama":
                tensors += [
                    (f"{b}.attn_norm.weight", ones(d)),
                    (f"{b}.attn_q.weight", rand(d, d)),
                    (f"{b}.attn_k.weight", rand(d, d)),
                    (f"{b}.attn_v.weight", rand(d, d)),
                    (f"{b}.attn_output.weight", rand(d, d)),
                    (f"{b}.ffn_norm.weight", ones(d)),
                    (f"{b}.ffn_gate.weight", rand(f, d)),
                    (f"{b}.ffn_up.weight", rand(f, d)),
                    (f"{b}.ffn_down.weight", rand(d, f)),
                ]
            else:
                tensors += [
                    (f"{b}.attn_norm.weight", ones(d)),
                    (f"{b}.attn_norm.bias", zeros(d)),
                    (f"{b}.attn_qkv.weight", rand(3 * d, d)),
                    (f"{b}.attn_qkv.bias", zeros(3 * d)),
                    (f"{b}.attn_output.weight", rand(d, d)),
                    (f"{b}.attn_output.bias", zeros(d)),
                    (f"{b}.ffn_up.weight", rand(f, d)),
                    (f"{b}.ffn_up.bias", zeros(f)),
                    (f"{b}.ffn_down.weight", rand(d, f)),
                    (f"{b}.ffn_down.bias", zeros(d)),
                ]
        tensors.append(("output_norm.weight", ones(d)))
        if arch == "phi2":
            tensors.append(("output_norm.bias", zeros(d)))
        tensors.append(("output.weight", output))
        if arch == "phi2":
            out_bias = zeros(n_vocab)
            out_bias[banned_ids] = -1000.0
            tensors.append(("output.bias", out_bias))

        for name, data in tensors:
            writer.add_tensor(name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- ONNX embedding

#: The name the tiny embedding model registers under in FastEmbed.
TINY_EMBEDDING_NAME = "tera-tiny-bow"
#: Width of its vectors.
TINY_EMBEDDING_DIM = 64
#: Cosine below which a hit is noise for this model (random 64-d vectors: std 0.125).
TINY_EMBEDDING_MIN_SCORE = 0.2
_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def tiny_embedding_name() -> str:
    """The model name of the tiny embedding model (``tera_embedding.json``'s ``name``)."""
    return TINY_EMBEDDING_NAME


def _wordpiece_vocab(words: Sequence[str]) -> list[str]:
    vocab: dict[str, None] = dict.fromkeys(_SPECIALS)
    chars = "abcdefghijklmnopqrstuvwxyz0123456789" + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    for ch in chars:
        vocab.setdefault(ch, None)
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789":
        vocab.setdefault("##" + ch, None)
    for suffix in ("s", "es", "ed", "ing", "er", "ly", "ion", "al", "en", "est"):
        vocab.setdefault("##" + suffix, None)
    for word in words:
        vocab.setdefault(word.lower(), None)
    return list(vocab)


def write_tiny_embedding_model(
    folder: Path,
    *,
    vocab_words: Sequence[str] | None = None,
    seed: int = 0,
    dim: int = TINY_EMBEDDING_DIM,
) -> Path:
    """Write the tiny bag-of-words embedding model into ``folder``; return ``folder``.

    Files: ``model.onnx`` (opset 17; inputs ``input_ids``, ``attention_mask``,
    ``token_type_ids``: int64 ``[batch, seq]``; output ``last_hidden_state``: float32
    ``[batch, seq, dim]``), ``tokenizer.json`` (BERT WordPiece, lower-casing, about 500
    entries: ``[PAD] [UNK] [CLS] [SEP] [MASK]``, single characters, ``##`` pieces and
    ``vocab_words``, by default :data:`TINY_EMBEDDING_WORDS`), ``tokenizer_config.json``
    (``model_max_length`` 512), ``special_tokens_map.json``, ``config.json`` and
    ``tera_embedding.json`` (name, dim, pooling "mean", normalize, query_prefix "",
    min_score, model_file), which describes how to load it.

    Graph: ``last_hidden_state = (E[input_ids] + T[token_type_ids]) * attention_mask``
    where ``E`` is a seeded random table with unit rows (stop-words' rows 1/4 long,
    special tokens' rows zero) and ``T`` is zero. Mean pooling + L2 normalisation (what
    FastEmbed does for a MEAN custom model) therefore give the normalised sum of the
    word vectors. Load it with :func:`load_tiny_embedding`.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = TINY_EMBEDDING_WORDS if vocab_words is None else tuple(vocab_words)
    vocab = _wordpiece_vocab(words)
    ids = {tok: i for i, tok in enumerate(vocab)}

    # Tokenizer (the same shape as bert-base-uncased's tokenizer.json).
    tok = Tokenizer(WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(list(_SPECIALS))

    # Weights: seeded random unit rows; stop-words short; specials zero.
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((len(vocab), dim))
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    stop = set(_STOPWORDS.split())
    for token, i in ids.items():
        if token in _SPECIALS:
            table[i] = 0.0
        elif token in stop:
            table[i] *= 0.25
    table = table.astype(np.float32)
    token_types = np.zeros((2, dim), dtype=np.float32)

    def int_input(name: str) -> Any:
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])

    nodes = [
        helper.make_node("Gather", ["word_embeddings", "input_ids"], ["words"], axis=0),
        helper.make_node("Gather", ["token_type_embeddings", "token_type_ids"], ["types"], axis=0),
        helper.make_node("Add", ["words", "types"], ["embeddings"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["embeddings", "mask_3d"], ["last_hidden_state"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tera_tiny_bow",
        [int_input("input_ids"), int_input("attention_mask"), int_input("token_type_ids")],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim]
            )
        ],
        initializer=[
            numpy_helper.from_array(table, "word_embeddings"),
            numpy_helper.from_array(token_types, "token_type_embeddings"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="tera_desktop.testing",
        ir_version=8,
    )
    onnx.checker.check_model(model)

    def dump(obj: dict[str, Any]) -> bytes:
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()

    special_map = {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    _atomic_write_bytes(folder / "tokenizer.json", (tok.to_str(pretty=True) + "\n").encode())
    _atomic_write_bytes(
        folder / "tokenizer_config.json",
        dump(
            {
                "tokenizer_class": "BertTokenizer",
                "do_lower_case": True,
                "model_max_length": 512,
                **special_map,
            }
        ),
    )
    _atomic_write_bytes(folder / "special_tokens_map.json", dump(special_map))
    _atomic_write_bytes(
        folder / "config.json",
        dump(
            {
                "model_type": "bert",
                "architectures": ["BertModel"],
                "hidden_size": dim,
                "num_hidden_layers": 0,
                "vocab_size": len(vocab),
                "max_position_embeddings": 512,
                "pad_token_id": ids["[PAD]"],
                "type_vocab_size": 2,
            }
        ),
    )
    _atomic_write_bytes(folder / "model.onnx", model.SerializeToString())
    # Written last: its presence marks a complete folder.
    _atomic_write_bytes(
        folder / "tera_embedding.json",
        dump(
            {
                "name": TINY_EMBEDDING_NAME,
                "dim": dim,
                "pooling": "mean",
                "normalize": True,
                "query_prefix": "",
                "min_score": TINY_EMBEDDING_MIN_SCORE,
                "model_file": "model.onnx",
            }
        ),
    )
    return folder


def register_tiny_embedding(name: str = TINY_EMBEDDING_NAME, dim: int = TINY_EMBEDDING_DIM) -> None:
    """Register the tiny model with FastEmbed once (``add_custom_model`` raises on repeats).

    The source is a placeholder (``hf="local/none"``): the model is always loaded with
    ``specific_model_path``, which makes FastEmbed skip every download.
    """
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    if any(m["model"].lower() == name.lower() for m in TextEmbedding.list_supported_models()):
        return
    TextEmbedding.add_custom_model(
        model=name,
        pooling=PoolingType.MEAN,
        normalization=True,
        sources=ModelSource(hf="local/none"),
        dim=dim,
        model_file="model.onnx",
    )


def load_tiny_embedding(folder: Path, **kwargs: Any) -> Any:
    """A ``fastembed.TextEmbedding`` for a folder written by :func:`write_tiny_embedding_model`.

    Reads ``tera_embedding.json``, registers the model if needed and loads it from
    ``folder`` (``specific_model_path``), so it never touches the network. Extra
    keyword arguments (``threads``…) go to ``TextEmbedding``.
    """
    from fastembed import TextEmbedding

    folder = Path(folder)
    meta = json.loads((folder / "tera_embedding.json").read_text())
    register_tiny_embedding(meta["name"], int(meta["dim"]))
    return TextEmbedding(model_name=meta["name"], specific_model_path=str(folder), **kwargs)
