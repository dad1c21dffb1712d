"""Embeddings: local folders load offline; catalog models download with progress or explain where
their files go; BGE's query instruction is applied to queries only."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hub_server import Hub

from tera_desktop.core import models
from tera_desktop.core.embedder import (
    BGE_QUERY_PREFIX,
    FastEmbedEmbedder,
    resolve_embedding,
    spec_from_folder,
)
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ConfigError, ModelLoadError, ModelMissingError
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings


def test_local_folder_loads_without_network(tiny_embedding: Path, no_network: list[object]) -> None:
    emb = FastEmbedEmbedder(spec_from_folder(tiny_embedding))
    vectors = emb.embed_documents(["the gate code is 4512", "my cat is blue", "paris"])
    assert vectors.shape == (3, emb.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert emb.embed_documents([]).shape == (0, emb.dim)
    assert emb.count_tokens("the gate code") == 3
    assert no_network == []


def test_query_instruction_applies_to_queries_only(tiny_embedding: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with-prefix"
    shutil.copytree(tiny_embedding, folder)
    spec = json.loads((folder / "tera_embedding.json").read_text())
    (folder / "tera_embedding.json").write_text(json.dumps({**spec, "query_prefix": "gate: "}))
    emb = FastEmbedEmbedder(spec_from_folder(folder))
    q = emb.embed_query("my cat")
    assert np.allclose(q, emb.embed_documents(["gate: my cat"])[0], atol=1e-6)
    assert not np.allclose(q, emb.embed_documents(["my cat"])[0], atol=1e-3)


def test_spec_is_inferred_for_a_bge_folder(tiny_embedding: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bge"
    shutil.copytree(tiny_embedding, folder)
    (folder / "tera_embedding.json").unlink()
    (folder / "config.json").write_text(
        json.dumps({"_name_or_path": "BAAI/bge-small-en-v1.5", "hidden_size": 64})
    )
    spec = spec_from_folder(folder)
    assert (spec.pooling, spec.query_prefix, spec.dim) == ("cls", BGE_QUERY_PREFIX, 64)
    assert spec.model_file == "model.onnx"


def test_bad_folders_and_names(tmp_path: Path, paths: Paths) -> None:
    with pytest.raises(ModelMissingError, match="does not exist"):
        resolve_embedding(paths, str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelMissingError, match="No ONNX model file"):
        resolve_embedding(paths, str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="Unknown embedding model"):
        resolve_embedding(paths, "no-such-model")


def test_corrupt_model_file_is_a_load_error(tiny_embedding: Path, tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    shutil.copytree(tiny_embedding, folder)
    (folder / "model.onnx").write_bytes(b"this is not onnx")
    with pytest.raises(ModelLoadError, match="corrupt or incomplete"):
        FastEmbedEmbedder(spec_from_folder(folder))


def test_missing_catalog_model_names_its_folder(paths: Paths) -> None:
    with pytest.raises(ModelMissingError) as err:
        resolve_embedding(paths, "BAAI/bge-small-en-v1.5")
    text = str(err.value)
    assert "BAAI/bge-small-en-v1.5" in text and "tera models download" in text
    assert str(models.model_dir(paths, models.get_model("BAAI/bge-small-en-v1.5"))) in text


@pytest.fixture
def fake_catalog_embedding(
    hub: Hub, tiny_embedding: Path, monkeypatch: pytest.MonkeyPatch
) -> models.CatalogModel:
    """A catalog entry whose files (the tiny model's) are served by the local fake hub."""
    files = []
    for f in sorted(p for p in tiny_embedding.iterdir() if p.name != "tera_embedding.json"):
        data = f.read_bytes()
        hub.add("tera-test/tiny-embedding", f.name, data)
        files.append(models.ModelFile(f.name, len(data), hashlib.sha256(data).hexdigest()))
    entry = models.CatalogModel(
        name="tera-test/tiny-embedding",
        kind="embedding",
        repo="tera-test/tiny-embedding",
        files=tuple(files),
        dim=64,
        pooling="mean",
        min_score=0.2,
        model_file="model.onnx",
    )
    monkeypatch.setitem(models.CATALOG, entry.name, entry)
    monkeypatch.setenv("TERA_HUB_URL", hub.base_url)
    return entry


def test_missing_catalog_model_is_downloaded_with_progress(
    paths: Paths, fake_catalog_embedding: models.CatalogModel
) -> None:
    engine = Engine(paths, Settings(embedding_model=fake_catalog_embedding.name))
    seen: list[models.DownloadProgress] = []
    try:
        spec = engine.ensure_embedding_model(on_progress=seen.append)
        assert spec.folder == models.model_dir(paths, fake_catalog_embedding)
        assert seen and seen[-1].done == seen[-1].total == fake_catalog_embedding.size
        engine.remember("the gate code is 4512")
        assert "4512" in engine.search("gate code", 1)[0].text
    finally:
        engine.close()


def test_download_impossible_says_which_model_and_where(
    paths: Paths, fake_catalog_embedding: models.CatalogModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERA_HUB_URL", "http://127.0.0.1:9")  # nothing listens there
    engine = Engine(paths, Settings(embedding_model=fake_catalog_embedding.name))
    with pytest.raises(ModelMissingError) as err:
        engine.ensure_embedding_model()
    text = str(err.value)
    assert fake_catalog_embedding.name in text and "could not be downloaded" in text
    assert str(models.model_dir(paths, fake_catalog_embedding)) in text
