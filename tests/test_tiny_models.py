"""The tiny deterministic test models (tera_desktop.testing.tiny_models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tera_desktop.testing.tiny_models import (
    CHATML,
    TINY_EMBEDDING_DIM,
    load_tiny_embedding,
    register_tiny_embedding,
    tiny_embedding_name,
    write_tiny_embedding_model,
    write_tiny_gguf,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def tiny_embedding_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_embedding_model(tmp_path_factory.mktemp("embedding"))


def _llama(path: Path):  # type: ignore[no-untyped-def]
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(path), n_ctx=256, n_threads=1, n_threads_batch=1, seed=1, verbose=False
    )


# --------------------------------------------------------------------------- GGUF


def test_gguf_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=3)
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=3)
    c = write_tiny_gguf(tmp_path / "c.gguf", seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_gguf_is_small_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "sub" / "tiny.gguf")
    assert path == tmp_path / "sub" / "tiny.gguf"
    assert 200_000 < path.stat().st_size < 1_000_000
    assert [p.name for p in path.parent.iterdir()] == ["tiny.gguf"]


def test_gguf_rejects_unknown_arch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="arch"):
        write_tiny_gguf(tmp_path / "x.gguf", arch="mamba")


def test_gguf_streams_to_max_tokens(tiny_gguf: Path) -> None:
    llm = _llama(tiny_gguf)
    chunks = list(llm.create_completion("the gate code is", stream=True, max_tokens=20))
    texts = [c["choices"][0]["text"] for c in chunks if c["choices"][0]["text"]]
    assert len(texts) == 20  # never stops early on an end/control token
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all(t.isprintable() for t in texts)  # byte tokens are never generated


def test_gguf_chat_template_present_and_eos_is_im_end(tiny_gguf: Path) -> None:
    llm = _llama(tiny_gguf)
    assert llm.metadata["tokenizer.chat_template"] == CHATML
    assert llm.detokenize([llm.token_eos()], special=True) == b"<|im_end|>"
    im_start = llm.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert len(im_start) == 1
    reply = llm.create_chat_completion([{"role": "user", "content": "hi"}], max_tokens=8)
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 8


def test_gguf_without_chat_template_omits_the_key(tmp_path: Path) -> None:
    llm = _llama(write_tiny_gguf(tmp_path / "plain.gguf", chat_template=None))
    assert "tokenizer.chat_template" not in llm.metadata
    assert len(list(llm.create_completion("hello", stream=True, max_tokens=5))) >= 5


def test_gguf_tokenizes_any_text_and_knows_words(tiny_gguf: Path) -> None:
    llm = _llama(tiny_gguf)
    text = "Grüße, 東京 🎉 — the gate code"
    ids = llm.tokenize(text.encode(), add_bos=False)
    assert llm.detokenize(ids).decode().strip() == text
    words = [llm.detokenize([t]) for t in llm.tokenize(b"the gate code", add_bos=False)]
    assert words == [b" the", b" gate", b" code"]


def test_gguf_phi2_arch_loads_and_streams(tmp_path: Path) -> None:
    llm = _llama(write_tiny_gguf(tmp_path / "phi2.gguf", arch="phi2"))
    assert llm.metadata["general.architecture"] == "phi2"
    chunks = list(llm.create_completion("hello", stream=True, max_tokens=10))
    assert sum(1 for c in chunks if c["choices"][0]["text"]) == 10


# --------------------------------------------------------------------------- ONNX embedding


def test_embedding_folder_layout(tiny_embedding_dir: Path) -> None:
    names = {p.name for p in tiny_embedding_dir.iterdir()}
    assert names == {
        "model.onnx",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "config.json",
        "tera_embedding.json",
    }
    meta = json.loads((tiny_embedding_dir / "tera_embedding.json").read_text())
    assert meta == {
        "name": tiny_embedding_name(),
        "dim": TINY_EMBEDDING_DIM,
        "pooling": "mean",
        "normalize": True,
        "query_prefix": "",
        "min_score": 0.2,
        "model_file": "model.onnx",
    }
    config = json.loads((tiny_embedding_dir / "tokenizer_config.json").read_text())
    assert config["model_max_length"] == 512 and config["pad_token"] == "[PAD]"
    vocab = json.loads((tiny_embedding_dir / "tokenizer.json").read_text())["model"]["vocab"]
    assert 400 <= len(vocab) <= 700
    for word in ("gate", "code", "cat", "paris", "password", "tuesday", "##s", "[CLS]"):
        assert word in vocab


def test_embedding_files_are_deterministic(tiny_embedding_dir: Path, tmp_path: Path) -> None:
    again = write_tiny_embedding_model(tmp_path / "again")
    for path in tiny_embedding_dir.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_embedding_onnx_signature(tiny_embedding_dir: Path) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(tiny_embedding_dir / "model.onnx"))
    inputs = {i.name: i for i in session.get_inputs()}
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(i.type == "tensor(int64)" and len(i.shape) == 2 for i in inputs.values())
    (output,) = session.get_outputs()
    assert output.name == "last_hidden_state" and output.shape[-1] == TINY_EMBEDDING_DIM
    ids = np.array([[2, 10, 11, 3, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1, 0]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (hidden,) = session.run(None, feed)
    assert hidden.shape == (1, 5, TINY_EMBEDDING_DIM) and hidden.dtype == np.float32
    assert not hidden[0, 0].any() and not hidden[0, 3].any()  # [CLS], [SEP] rows are zero
    assert not hidden[0, 4].any()  # masked padding is zero


def test_embedding_loads_in_fastembed_offline(
    tiny_embedding_dir: Path, no_network: list[object], tmp_path: Path
) -> None:
    model = load_tiny_embedding(tiny_embedding_dir, cache_dir=str(tmp_path / "cache"))
    vectors = np.array(list(model.embed(["the gate code is 4512", "my cat is blue"])))
    assert vectors.shape == (2, TINY_EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert no_network == []
    # Registering again is a no-op, not FastEmbed's "already registered" error.
    register_tiny_embedding()
    load_tiny_embedding(tiny_embedding_dir, cache_dir=str(tmp_path / "cache"))
    assert no_network == []


def test_embedding_is_a_bag_of_words(tiny_embedding_dir: Path, tmp_path: Path) -> None:
    model = load_tiny_embedding(tiny_embedding_dir, cache_dir=str(tmp_path / "cache"))
    docs = [
        "my cat is blue",
        "the gate code is 4512",
        "Paris is the capital of France",
        "the sky is blue",
    ]
    doc_vecs = np.array(list(model.embed(docs)))

    def ranking(query: str) -> list[str]:
        q = np.array(list(model.query_embed(query)))[0]
        return [docs[i] for i in np.argsort(-(doc_vecs @ q))]

    assert ranking("gate code")[0] == "the gate code is 4512"
    assert ranking("What is the capital of France?")[0] == "Paris is the capital of France"
    assert ranking("blue sky")[0] == "the sky is blue"
    q = np.array(list(model.query_embed("gate code")))[0]
    scores = dict(zip(docs, doc_vecs @ q, strict=True))
    assert scores["the gate code is 4512"] > 0.5
    assert scores["my cat is blue"] < 0.2  # below the model's min_score
    # Word order and case do not matter.
    a, b = model.embed(["Code GATE", "gate code"])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-5)


def test_embedding_custom_vocabulary(tmp_path: Path) -> None:
    folder = write_tiny_embedding_model(tmp_path / "custom", vocab_words=["zebra", "quokka"])
    vocab = json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
    assert "zebra" in vocab and "quokka" in vocab and "gate" not in vocab
