"""Model catalog, downloads (progress, resume, checksum, cancel) and local GGUF files.

Downloads run against a local HTTP server on 127.0.0.1 that serves a temp folder in the hub's
layout (``/<repo>/resolve/<revision>/<file>``), with Range support and switches to cut the
connection, ignore Range, stall or fail.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import shutil
import threading
import types
from pathlib import Path

import pytest
from hub_server import Hub

from tera_desktop.core import models
from tera_desktop.core.errors import (
    Cancelled,
    ChecksumError,
    DownloadError,
    ModelLoadError,
    ModelMissingError,
    NotFoundError,
)
from tera_desktop.core.models import (
    CATALOG,
    HUB_URL_ENV,
    CatalogModel,
    DownloadProgress,
    ModelFile,
    download,
    get_model,
    import_gguf,
    installed_path,
    list_local_llms,
    model_dir,
    require_installed,
)
from tera_desktop.core.paths import Paths, get_paths
from tera_desktop.core.settings import DEFAULT_EMBEDDING_MODEL, DEFAULT_LLM_MODEL


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return get_paths(tmp_path / "home").ensure()


def _blob(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_llm(
    hub: Hub, size: int = 600_000, *, sha256: str | None = "auto"
) -> tuple[CatalogModel, bytes]:
    data = b"GGUF" + _blob(size - 4, seed=size)
    hub.add("test/tiny-GGUF", "tiny.Q4_K_M.gguf", data)
    digest = _sha(data) if sha256 == "auto" else sha256
    model = CatalogModel(
        name="tiny-llm",
        kind="llm",
        repo="test/tiny-GGUF",
        files=(ModelFile("tiny.Q4_K_M.gguf", size, digest),),
    )
    return model, data


def fake_embedding(hub: Hub) -> tuple[CatalogModel, dict[str, bytes]]:
    blobs = {
        "model.onnx": _blob(300_000, seed=1),
        "tokenizer.json": b'{"version": "1.0"}',
        "onnx/extra.bin": _blob(1000, seed=2),  # a file in a sub-folder of the repo
    }
    for name, data in blobs.items():
        hub.add("test/tiny-embed", name, data)
    model = CatalogModel(
        name="test/tiny-embed",
        kind="embedding",
        repo="test/tiny-embed",
        files=tuple(ModelFile(n, len(d), _sha(d)) for n, d in blobs.items()),
        dim=8,
        model_file="model.onnx",
    )
    return model, blobs


def _write_part(paths: Paths, model: CatalogModel, data: bytes) -> None:
    part = models._part_path(paths, model, model.files[0])
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(data)


def _parts(paths: Paths) -> list[Path]:
    return sorted(paths.downloads.glob("*.part")) if paths.downloads.exists() else []


# --------------------------------------------------------------------------------------------
# catalog


def test_catalog_entries_are_complete_and_pinned() -> None:
    assert DEFAULT_LLM_MODEL in CATALOG and DEFAULT_EMBEDDING_MODEL in CATALOG
    for name, model in CATALOG.items():
        assert model.name == name
        assert re.fullmatch(r"[0-9a-f]{40}", model.revision), name  # a pinned commit
        for f in model.files:
            assert f.size > 0, (name, f.name)
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), (name, f.name)
        if model.kind == "llm":
            assert model.gguf_file.endswith(".gguf")
        elif model.kind == "speech":
            assert "model.bin" in {f.name for f in model.files}
        else:
            assert model.dim == 384 and model.model_file in {f.name for f in model.files}
            assert 0 < model.min_score < 1
    bge = get_model("BAAI/bge-small-en-v1.5")
    assert bge.pooling == "cls" and bge.query_prefix.startswith("Represent this sentence")
    assert get_model("sentence-transformers/all-MiniLM-L6-v2").pooling == "mean"
    assert get_model("dolphin-2.6-phi-2").chat_format == "chatml"


def test_qwen3_answers_without_thinking_and_qwen25_is_gone() -> None:
    qwen3 = get_model("qwen3-1.7b")
    assert qwen3.kind == "llm" and qwen3.license == "apache-2.0"
    assert qwen3.gguf_file == "Qwen3-1.7B-Q4_K_M.gguf" and "Q4_K_M" in qwen3.gguf_file
    assert 1.0e9 < qwen3.size < 1.4e9
    assert qwen3.files[0].sha256 is not None
    assert qwen3.chat_format == ""  # its own template: the one with the enable_thinking switch
    assert qwen3.no_think and qwen3.template_kwargs == {"enable_thinking": False}
    assert "Phi-2" in qwen3.description
    phi2 = get_model("dolphin-2.6-phi-2")
    assert not phi2.no_think and phi2.template_kwargs == {}
    assert not any("qwen2.5" in name.lower() for name in CATALOG)
    llms = [m.name for m in CATALOG.values() if m.kind == "llm"]
    assert llms[:2] == ["dolphin-2.6-phi-2", "qwen3-1.7b"]  # offered beside the default


def test_get_model_unknown_name_lists_known_ones() -> None:
    with pytest.raises(NotFoundError) as info:
        get_model("no-such-model")
    assert "no-such-model" in str(info.value) and DEFAULT_LLM_MODEL in str(info.value)
    assert "\n" not in str(info.value)


def test_model_dir_layout(paths: Paths) -> None:
    assert model_dir(paths, get_model(DEFAULT_LLM_MODEL)) == paths.llm_models
    bge = get_model("BAAI/bge-small-en-v1.5")
    assert model_dir(paths, bge) == paths.embedding_models / "BAAI--bge-small-en-v1.5"


def test_invalid_catalog_model_is_rejected() -> None:
    with pytest.raises(ValueError):
        CatalogModel(name="x", kind="llm", repo="r", files=(ModelFile("a.bin", 1, None),))
    with pytest.raises(ValueError):
        CatalogModel(
            name="x", kind="embedding", repo="r", files=(ModelFile("a.onnx", 1, None),)
        )  # model_file missing


# --------------------------------------------------------------------------------------------
# download


def test_full_download_reports_progress_and_installs(hub: Hub, paths: Paths) -> None:
    model, data = fake_llm(hub)
    assert installed_path(paths, model) is None
    with pytest.raises(ModelMissingError):
        require_installed(paths, model)

    events = list(download(paths, model, base_url=hub.base_url))

    assert events and all(isinstance(e, DownloadProgress) for e in events)
    dones = [e.done for e in events]
    assert dones == sorted(dones) and len(set(dones)) >= 3  # increasing, more than start+end
    assert events[-1].done == events[-1].total == len(data)
    assert all(e.model == "tiny-llm" and e.file == "tiny.Q4_K_M.gguf" for e in events)
    rates = [e.bytes_per_s for e in events] + [e.eta_s for e in events if e.eta_s is not None]
    assert all(math.isfinite(r) and math.copysign(1, r) == 1 for r in rates)  # no negative rate
    target = installed_path(paths, model)
    assert target == paths.llm_models / "tiny.Q4_K_M.gguf"
    assert target.read_bytes() == data
    assert require_installed(paths, model) == target
    assert _parts(paths) == []
    assert hub.ranges() == [None]
    assert list_local_llms(paths) == [target]


def test_installed_files_are_skipped(hub: Hub, paths: Paths) -> None:
    model, _ = fake_llm(hub)
    list(download(paths, model, base_url=hub.base_url))
    hub.requests.clear()
    assert list(download(paths, model, base_url=hub.base_url)) == []
    assert hub.requests == []


def test_embedding_download_installs_a_folder(hub: Hub, paths: Paths) -> None:
    model, blobs = fake_embedding(hub)
    assert installed_path(paths, model) is None
    events = list(download(paths, model, base_url=hub.base_url))
    folder = paths.embedding_models / "test--tiny-embed"
    assert installed_path(paths, model) == folder
    for name, data in blobs.items():
        assert (folder / name).read_bytes() == data
    assert events[-1].done == events[-1].total == sum(len(d) for d in blobs.values())
    assert {e.file for e in events} == set(blobs)
    # a missing file makes it "not installed" again, and only that file is fetched again
    (folder / "tokenizer.json").unlink()
    assert installed_path(paths, model) is None
    hub.requests.clear()
    list(download(paths, model, base_url=hub.base_url))
    assert [r["path"] for r in hub.requests] == ["/test/tiny-embed/resolve/main/tokenizer.json"]
    assert installed_path(paths, model) == folder


def test_interrupted_download_resumes_with_range(hub: Hub, paths: Paths) -> None:
    model, data = fake_llm(hub)
    hub.cut_after = 200_000
    with pytest.raises(DownloadError) as info:
        list(download(paths, model, base_url=hub.base_url))
    assert str(paths.llm_models) in str(info.value)
    (part,) = _parts(paths)
    assert part.stat().st_size == 200_000
    assert installed_path(paths, model) is None
    assert not (paths.llm_models / "tiny.Q4_K_M.gguf").exists()

    events = list(download(paths, model, base_url=hub.base_url))

    assert hub.ranges() == [None, "bytes=200000-"]
    assert events[0].done == 200_000  # the resumed part counts as done from the start
    assert events[-1].done == len(data)
    assert (paths.llm_models / "tiny.Q4_K_M.gguf").read_bytes() == data
    assert _parts(paths) == []


def test_checksum_mismatch_deletes_the_file(hub: Hub, paths: Paths) -> None:
    model, _ = fake_llm(hub, sha256="0" * 64)
    with pytest.raises(ChecksumError) as info:
        list(download(paths, model, base_url=hub.base_url))
    assert "tiny-llm" in str(info.value) and "\n" not in str(info.value)
    assert not (paths.llm_models / "tiny.Q4_K_M.gguf").exists()
    assert _parts(paths) == []
    assert installed_path(paths, model) is None


def test_server_with_a_different_size_is_rejected(hub: Hub, paths: Paths) -> None:
    model, data = fake_llm(hub)
    wrong = CatalogModel(
        name=model.name,
        kind="llm",
        repo=model.repo,
        files=(ModelFile("tiny.Q4_K_M.gguf", len(data) + 10, _sha(data)),),
    )
    with pytest.raises(ChecksumError):
        list(download(paths, wrong, base_url=hub.base_url))
    assert not (paths.llm_models / "tiny.Q4_K_M.gguf").exists()
    assert _parts(paths) == []


@pytest.mark.parametrize("status", [404, 500, 503])
def test_http_errors_name_the_url_and_the_folder(hub: Hub, paths: Paths, status: int) -> None:
    model, _ = fake_llm(hub)
    if status == 404:
        model = CatalogModel(
            name="missing", kind="llm", repo="test/nothing", files=(ModelFile("x.gguf", 10, None),)
        )
    else:
        hub.fail_status = status
    with pytest.raises(DownloadError) as info:
        list(download(paths, model, base_url=hub.base_url))
    message = str(info.value)
    assert str(status) in message and model.name in message
    assert f"{hub.base_url}/{model.repo}/resolve/main/" in message
    assert str(paths.llm_models) in message
    assert "\n" not in message
    assert installed_path(paths, model) is None


def test_unreachable_server_is_a_download_error(paths: Paths) -> None:
    model = CatalogModel(name="m", kind="llm", repo="a/b", files=(ModelFile("m.gguf", 10, None),))
    with pytest.raises(DownloadError) as info:
        list(download(paths, model, base_url="http://127.0.0.1:1", timeout=2))
    assert "http://127.0.0.1:1/a/b/resolve/main/m.gguf" in str(info.value)


def test_timeout_is_a_download_error(hub: Hub, paths: Paths) -> None:
    model, _ = fake_llm(hub)
    hub.stalling = True
    with pytest.raises(DownloadError) as info:
        list(download(paths, model, base_url=hub.base_url, timeout=0.3))
    assert "0.3 s" in str(info.value)


def test_server_ignoring_range_still_gives_the_right_file(hub: Hub, paths: Paths) -> None:
    model, data = fake_llm(hub)
    hub.cut_after = 150_000
    with pytest.raises(DownloadError):
        list(download(paths, model, base_url=hub.base_url))
    hub.ignore_range = True

    list(download(paths, model, base_url=hub.base_url))

    assert hub.ranges() == [None, "bytes=150000-"]  # asked for a range, got the whole file
    assert (paths.llm_models / "tiny.Q4_K_M.gguf").read_bytes() == data
    assert _parts(paths) == []


def test_stale_part_larger_than_the_file_is_discarded(hub: Hub, paths: Paths) -> None:
    model, data = fake_llm(hub)
    _write_part(paths, model, b"x" * (len(data) + 5))
    list(download(paths, model, base_url=hub.base_url))
    assert hub.ranges() == [None]
    assert (paths.llm_models / "tiny.Q4_K_M.gguf").read_bytes() == data


def test_complete_part_of_unknown_size_is_kept_after_416(hub: Hub, paths: Paths) -> None:
    data = b"GGUF" + _blob(50_000, seed=7)
    hub.add("test/u", "u.gguf", data)
    model = CatalogModel(
        name="u", kind="llm", repo="test/u", files=(ModelFile("u.gguf", 0, _sha(data)),)
    )
    _write_part(paths, model, data)
    list(download(paths, model, base_url=hub.base_url))
    assert hub.ranges() == [f"bytes={len(data)}-"]
    assert installed_path(paths, model) == paths.llm_models / "u.gguf"
    assert (paths.llm_models / "u.gguf").read_bytes() == data


def test_cancel_keeps_the_part_and_a_later_call_resumes(hub: Hub, paths: Paths) -> None:
    model, data = fake_llm(hub, size=900_000)
    cancel = threading.Event()
    seen: list[DownloadProgress] = []
    with pytest.raises(Cancelled):
        for event in download(paths, model, cancel=cancel, base_url=hub.base_url):
            seen.append(event)
            if event.done > 0:
                cancel.set()
    (part,) = _parts(paths)
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    assert not (paths.llm_models / "tiny.Q4_K_M.gguf").exists()

    cancel.clear()
    list(download(paths, model, cancel=cancel, base_url=hub.base_url))

    assert hub.ranges() == [None, f"bytes={kept}-"]
    assert (paths.llm_models / "tiny.Q4_K_M.gguf").read_bytes() == data
    assert _parts(paths) == []


def test_cancel_before_start_fetches_nothing(hub: Hub, paths: Paths) -> None:
    model, _ = fake_llm(hub)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        list(download(paths, model, cancel=cancel, base_url=hub.base_url))
    assert hub.requests == []


def test_not_enough_disk_space(hub: Hub, paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = fake_llm(hub)
    monkeypatch.setattr(
        shutil, "disk_usage", lambda _p: types.SimpleNamespace(total=10**9, used=10**9, free=1000)
    )
    with pytest.raises(DownloadError) as info:
        list(download(paths, model, base_url=hub.base_url))
    message = str(info.value)
    assert "disk space" in message and "600.0 KB" in message and "1.0 KB" in message
    assert hub.requests == []


def test_hub_url_comes_from_the_environment(
    hub: Hub, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data = fake_llm(hub)
    monkeypatch.setenv(HUB_URL_ENV, hub.base_url + "/")
    list(download(paths, model))
    assert (paths.llm_models / "tiny.Q4_K_M.gguf").read_bytes() == data


def test_pinned_revision_is_in_the_url(hub: Hub, paths: Paths) -> None:
    data = b"GGUF" + _blob(1000, seed=3)
    rev = "a" * 40
    hub.add("test/pinned", "p.gguf", data, revision=rev)
    model = CatalogModel(
        name="p",
        kind="llm",
        repo="test/pinned",
        revision=rev,
        files=(ModelFile("p.gguf", len(data), _sha(data)),),
    )
    list(download(paths, model, base_url=hub.base_url))
    assert hub.requests[0]["path"] == f"/test/pinned/resolve/{rev}/p.gguf"


def test_two_downloads_of_one_model_at_once_are_refused(hub: Hub, paths: Paths) -> None:
    model, _ = fake_llm(hub, size=900_000)
    first = download(paths, model, base_url=hub.base_url)
    next(first)  # holds the model's claim
    with pytest.raises(DownloadError, match="already being downloaded"):
        list(download(paths, model, base_url=hub.base_url))
    first.close()
    list(download(paths, model, base_url=hub.base_url))  # the claim was released
    assert installed_path(paths, model) is not None


# --------------------------------------------------------------------------------------------
# local GGUF files


def test_import_gguf_copies_a_gguf_file(tmp_path: Path, paths: Paths) -> None:
    source = tmp_path / "My Model.Q4_K_M.gguf"
    source.write_bytes(b"GGUF" + _blob(5000, seed=4))
    dest = import_gguf(paths, source)
    assert dest == paths.llm_models / source.name
    assert dest.read_bytes() == source.read_bytes()
    assert list_local_llms(paths) == [dest]
    assert not [p for p in paths.llm_models.iterdir() if p.name.endswith(".tmp")]
    # importing the same file again reuses it; a different file with that name is not replaced
    assert import_gguf(paths, source) == dest
    other = tmp_path / "other" / source.name
    other.parent.mkdir()
    other.write_bytes(b"GGUF" + _blob(100, seed=5))
    second = import_gguf(paths, other)
    assert second != dest and second.read_bytes() == other.read_bytes()
    assert dest.read_bytes() == source.read_bytes()
    assert list_local_llms(paths) == sorted([dest, second], key=lambda p: p.name.lower())


def test_import_gguf_rejects_a_text_file(tmp_path: Path, paths: Paths) -> None:
    source = tmp_path / "notes.gguf"
    source.write_text("hello, this is not a model\n")
    with pytest.raises(ModelLoadError) as info:
        import_gguf(paths, source)
    assert "notes.gguf" in str(info.value)
    assert list_local_llms(paths) == []
    with pytest.raises(NotFoundError):
        import_gguf(paths, tmp_path / "missing.gguf")


def test_list_local_llms_without_a_folder(tmp_path: Path) -> None:
    assert list_local_llms(get_paths(tmp_path / "empty")) == []
