"""Getting the models: several models as one download (one progress over all, resumed from a
.part), the words for a failed download (no URL, no errno: what to do), and the facts that wait
on disk for the embedding model. Real downloads from the local fake hub; no Qt."""

from __future__ import annotations

import errno
import hashlib
import json
import random
import socket

import pytest
from hub_server import Hub

from tera_desktop.core import friendly_errors as fe
from tera_desktop.core import model_setup, models
from tera_desktop.core import waiting as waiting_module
from tera_desktop.core.errors import DownloadError
from tera_desktop.core.friendly_errors import friendly_error, technical_detail
from tera_desktop.core.model_setup import (
    ModelDownloaded,
    NotEnoughSpaceError,
    SetupProgress,
    bytes_left,
    bytes_on_disk,
    display_name,
    download_models,
    license_name,
    model_for,
)
from tera_desktop.core.models import CatalogModel, ModelFile
from tera_desktop.core.paths import Paths
from tera_desktop.core.waiting import WaitingList

LLM_SIZE = 600_000
EMB_SIZE = 200_000


def _data(seed: int, size: int, magic: bytes = b"") -> bytes:
    return magic + random.Random(seed).randbytes(size - len(magic))


@pytest.fixture
def two_models(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> tuple[CatalogModel, CatalogModel]:
    """An embedding model (two files) and a language model (one .gguf) on the fake hub."""
    onnx, tok = _data(1, EMB_SIZE - 1000), _data(2, 1000)
    gguf = _data(3, LLM_SIZE, b"GGUF")
    hub.add("test/emb", "model.onnx", onnx)
    hub.add("test/emb", "tokenizer.json", tok)
    hub.add("test/llm", "tiny.gguf", gguf)
    monkeypatch.setenv("TERA_HUB_URL", hub.base_url)

    def file(name: str, data: bytes) -> ModelFile:
        return ModelFile(name, len(data), hashlib.sha256(data).hexdigest())

    emb = CatalogModel(
        name="test/emb",
        kind="embedding",
        repo="test/emb",
        files=(file("model.onnx", onnx), file("tokenizer.json", tok)),
        dim=8,
        model_file="model.onnx",
    )
    llm = CatalogModel(
        name="test-llm", kind="llm", repo="test/llm", files=(file("tiny.gguf", gguf),)
    )
    return emb, llm


# ---- one download for several models ------------------------------------------------------------


def test_two_models_download_as_one_with_one_progress(
    paths: Paths, hub: Hub, two_models: tuple[CatalogModel, CatalogModel]
) -> None:
    emb, llm = two_models
    events = list(download_models(paths, [emb, llm]))
    progress = [e for e in events if isinstance(e, SetupProgress)]
    ready = [e for e in events if isinstance(e, ModelDownloaded)]
    assert [r.model.name for r in ready] == ["test/emb", "test-llm"]
    assert ready[0].path == models.installed_path(paths, emb)
    assert ready[1].path == models.installed_path(paths, llm)
    assert {p.total for p in progress} == {EMB_SIZE + LLM_SIZE}  # one total over both
    dones = [p.done for p in progress]
    assert dones == sorted(dones) and dones[-1] == EMB_SIZE + LLM_SIZE
    assert {p.index for p in progress} == {0, 1} and {p.count for p in progress} == {2}
    # the embedding model is announced ready before the language model's bytes arrive
    first_llm = next(i for i, e in enumerate(events) if getattr(e, "model", None) == "test-llm")
    assert events.index(ready[0]) < first_llm
    assert bytes_left(paths, [emb, llm]) == 0
    assert hub.ranges() == [None, None, None]


def test_a_part_left_by_an_earlier_run_is_counted_and_resumed(
    paths: Paths, hub: Hub, two_models: tuple[CatalogModel, CatalogModel]
) -> None:
    emb, llm = two_models
    data = (hub.root / "test/llm/resolve/main/tiny.gguf").read_bytes()
    part = models._part_path(paths, llm, llm.files[0])
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(data[:250_000])
    assert bytes_on_disk(paths, llm) == 250_000
    assert bytes_left(paths, [emb, llm]) == EMB_SIZE + LLM_SIZE - 250_000

    events = list(download_models(paths, [llm]))
    assert "bytes=250000-" in hub.ranges()
    assert models.installed_path(paths, llm).read_bytes() == data  # type: ignore[union-attr]
    first = next(e for e in events if isinstance(e, SetupProgress))
    assert first.done == 250_000  # the progress starts where the earlier run stopped


def test_not_enough_space_is_said_before_anything_is_fetched(
    paths: Paths,
    hub: Hub,
    two_models: tuple[CatalogModel, CatalogModel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(model_setup, "free_space", lambda _paths: 300_000)
    with pytest.raises(NotEnoughSpaceError) as err:
        list(download_models(paths, list(two_models)))
    assert hub.requests == []
    assert friendly_error(err.value) == (
        "Not enough free disk space: the download needs 800 KB and 300 KB is free. Free some "
        "space, then press Retry."
    )


# ---- failed downloads in plain words ------------------------------------------------------------


def _fail(paths: Paths, model: CatalogModel, **kw: object) -> BaseException:
    with pytest.raises(DownloadError) as err:
        list(models.download(paths, model, **kw))  # type: ignore[arg-type]
    return err.value


def _plain(text: str) -> None:
    for technical in ("http", "127.0.0.1", "Errno", "errno", "HTTP", "URL", "resolve/", "Error:"):
        assert technical not in text, f"{technical!r} shown to the user: {text}"


def test_no_internet(
    paths: Paths, two_models: tuple[CatalogModel, CatalogModel], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    exc = _fail(paths, two_models[1], base_url="https://models.example.invalid")
    assert friendly_error(exc) == (
        "No internet connection: connect and press Retry, or choose model files you already have."
    )
    assert "Name or service not known" in technical_detail(exc)  # the details, for the log


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, fe.NOT_FOUND),
        (403, fe.REFUSED),
        (429, fe.BUSY),
        (503, fe.SERVER_TROUBLE),
        (500, fe.SERVER_TROUBLE),
        (418, fe.HTTP_OTHER),
    ],
)
def test_server_answers(
    paths: Paths,
    hub: Hub,
    two_models: tuple[CatalogModel, CatalogModel],
    status: int,
    expected: str,
) -> None:
    hub.fail_status = status
    exc = _fail(paths, two_models[1])
    text = friendly_error(exc)
    assert text == expected
    _plain(text)
    assert str(status) in technical_detail(exc)


def test_closed_port_timeout_and_a_cut_connection(
    paths: Paths, hub: Hub, two_models: tuple[CatalogModel, CatalogModel]
) -> None:
    llm = two_models[1]
    hub.cut_after = 100_000
    cut = _fail(paths, llm)
    assert friendly_error(cut) == fe.UNFINISHED
    assert "press Retry to continue where it stopped" in fe.UNFINISHED

    refused = _fail(paths, llm, base_url="http://127.0.0.1:9")
    assert friendly_error(refused) == fe.UNREACHABLE

    hub.stalling = True
    hub.stall.clear()
    try:
        slow = _fail(paths, llm, timeout=0.3)
    finally:
        hub.stall.set()
    assert friendly_error(slow) == fe.TIMED_OUT
    for exc in (refused, slow, cut):
        _plain(friendly_error(exc))


def test_a_damaged_file(
    paths: Paths, hub: Hub, two_models: tuple[CatalogModel, CatalogModel]
) -> None:
    llm = two_models[1]
    bad = CatalogModel(
        name="test-llm",
        kind="llm",
        repo="test/llm",
        files=(ModelFile("tiny.gguf", LLM_SIZE, "0" * 64),),
    )
    exc = _fail(paths, bad)
    assert friendly_error(exc) == fe.DAMAGED
    assert models.installed_path(paths, llm) is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [(errno.ENOSPC, fe.DISK_FULL), (errno.EROFS, fe.CANNOT_WRITE), (errno.EACCES, fe.CANNOT_WRITE)],
)
def test_disk_errors(code: int, expected: str) -> None:
    try:
        try:
            raise OSError(code, "disk trouble")
        except OSError as os_error:
            raise DownloadError("Cannot write /x/y.part: disk trouble.") from os_error
    except DownloadError as exc:
        assert friendly_error(exc) == expected


def test_anything_else_is_said_without_its_insides() -> None:
    assert friendly_error(RuntimeError("KeyError in _Meter at 0x7f")) == fe.UNKNOWN
    assert friendly_error(DownloadError("test/emb is already being downloaded.")) == fe.ALREADY


# ---- words about a model ------------------------------------------------------------------------


def test_model_words() -> None:
    phi = models.get_model("dolphin-2.6-phi-2")
    bge = models.get_model("BAAI/bge-small-en-v1.5")
    assert display_name(phi) == "Dolphin 2.6 Phi-2 (2.7B)"
    assert display_name(bge) == "BGE small English v1.5"
    assert license_name(phi) == "Microsoft Research License"
    assert license_name(bge) == "MIT license"
    assert license_name(models.get_model("qwen3-1.7b")) == "Apache 2.0 license"
    assert model_for("llm", "/no/such/model.gguf").name == "dolphin-2.6-phi-2"
    assert model_for("llm", "qwen3-1.7b").name == "qwen3-1.7b"
    assert model_for("embedding", "qwen3-1.7b").name == "BAAI/bge-small-en-v1.5"


# ---- facts that wait for the embedding model ----------------------------------------------------


def test_waiting_facts_keep_their_order_on_disk(paths: Paths) -> None:
    queue = WaitingList(paths.waiting_file)
    assert not queue and not paths.waiting_file.exists()
    queue.add("the gate code is 4512")
    queue.add("Anna's birthday is 14 March ✓")
    queue.add("the gate code is 4512")  # typed twice: kept twice, stored in order

    again = WaitingList(paths.waiting_file)  # as after a restart
    assert again.texts() == [
        "the gate code is 4512",
        "Anna's birthday is 14 March ✓",
        "the gate code is 4512",
    ]
    again.remove_first("the gate code is 4512")
    assert WaitingList(paths.waiting_file).texts() == [
        "Anna's birthday is 14 March ✓",
        "the gate code is 4512",
    ]
    again.remove_first("Anna's birthday is 14 March ✓")
    again.remove_first("the gate code is 4512")
    assert not paths.waiting_file.exists()  # nothing waits: no file
    assert list(paths.data.glob("*.tmp")) == [] and list(paths.data.glob(".*")) == []


def test_waiting_files_are_kept_with_the_facts_and_any_name_round_trips(paths: Paths) -> None:
    queue = WaitingList(paths.waiting_file)
    odd = str(paths.data / "caf\udce9.txt")  # a name that is not valid UTF-8 (surrogateescape)
    queue.add_files(["/home/me/notes", odd, "/home/me/notes"])  # a path already waiting: once
    queue.add("the gate code is 4512")
    again = WaitingList(paths.waiting_file)  # as after a restart
    assert again.files() == ["/home/me/notes", odd] and again.texts() == ["the gate code is 4512"]
    assert len(again) == 1  # len() and truth count the facts
    again.remove_files(["/home/me/notes"])
    assert WaitingList(paths.waiting_file).files() == [odd]
    again.remove_first("the gate code is 4512")
    assert paths.waiting_file.exists()  # a file still waits
    again.clear()
    assert not paths.waiting_file.exists() and WaitingList(paths.waiting_file).files() == []


def test_a_damaged_waiting_file_does_not_stop_tera(paths: Paths) -> None:
    paths.waiting_file.write_text("{not json")
    assert WaitingList(paths.waiting_file).texts() == []
    paths.waiting_file.write_text(json.dumps({"facts": [{"text": "ok"}, {"x": 1}, "bad"]}))
    assert WaitingList(paths.waiting_file).texts() == ["ok"]


def test_a_waiting_fact_is_kept_in_memory_when_the_disk_refuses(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = WaitingList(paths.waiting_file)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(waiting_module, "write_text_atomic", refuse)
    with pytest.raises(OSError):
        queue.add("kept anyway")
    assert queue.texts() == ["kept anyway"]
