"""`tera doctor`: each check on real parts (tiny models, the embedded store, the real llama.cpp)."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple
from dataclasses import replace
from pathlib import Path

import pytest

from tera_desktop import cli
from tera_desktop.core import doctor
from tera_desktop.core.doctor import FAIL, OK, STATUSES, WARN, Check
from tera_desktop.core.engine import Engine
from tera_desktop.core.instance import InstanceLock
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings, save_settings
from tera_desktop.core.store import open_store

NAMES = [
    "Settings",
    "Python",
    "Libraries",
    "Desktop app (Qt)",
    "llama.cpp build",
    "Embedding model",
    "Language model",
    "Memory store",
    "Free disk space",
    "Data folder",
]


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_a_healthy_install_with_tiny_models(paths: Paths, tiny_settings: Settings) -> None:
    save_settings(paths, tiny_settings)
    with Engine(paths, tiny_settings) as engine:
        engine.remember("The gate code is 4512")
    checks = list(doctor.run_checks(paths))
    assert [c.name for c in checks] == NAMES
    assert all(c.status in STATUSES for c in checks)
    found = _by_name(checks)
    for name in ("Settings", "Python", "Libraries", "Embedding model", "Language model"):
        assert found[name].status == OK, found[name]
    assert "loads and embeds" in found["Embedding model"].detail
    assert "loads" in found["Language model"].detail
    assert found["Memory store"].status == OK
    assert "1 memories" in found["Memory store"].detail
    assert "llama-cpp-python" in found["Libraries"].detail
    assert str(paths.data) in found["Data folder"].detail
    assert "memory" in found["Data folder"].detail
    assert doctor.overall(checks) != FAIL


def test_missing_models_say_how_to_get_them(paths: Paths) -> None:
    found = _by_name(list(doctor.run_checks(paths)))  # defaults: catalog models, not downloaded
    emb, llm = found["Embedding model"], found["Language model"]
    assert emb.status == FAIL
    assert "tera models download BAAI/bge-small-en-v1.5" in emb.fix
    assert llm.status == WARN  # Tera still remembers and searches without it
    assert "still remembers" in llm.detail
    assert "tera models download dolphin-2.6-phi-2" in llm.fix
    assert found["Memory store"].status == OK  # nothing stored yet: nothing to open
    assert "empty" in found["Memory store"].detail


def test_corrupt_models_fail_with_their_reason(
    paths: Paths, tmp_path: Path, tiny_embedding: Path
) -> None:
    bad_gguf = tmp_path / "broken.gguf"
    bad_gguf.write_bytes(b"GGUF" + b"\0" * 64)
    bad_emb = tmp_path / "broken-embedding"
    shutil.copytree(tiny_embedding, bad_emb)
    (bad_emb / "model.onnx").write_bytes(b"not an onnx model")
    settings = Settings(embedding_model=str(bad_emb), llm_model=str(bad_gguf))
    emb = doctor.check_embedding_model(paths, settings)
    llm = doctor.check_language_model(paths, settings)
    assert (emb.status, llm.status) == (FAIL, FAIL)
    assert "does not load" in emb.detail and emb.fix
    assert "does not load" in llm.detail and llm.fix


def test_a_memory_held_by_a_running_tera_is_a_state_not_a_crash(
    paths: Paths, tiny_settings: Settings
) -> None:
    with Engine(paths, tiny_settings) as engine:
        engine.remember("a fact")
    # the desktop app holds the instance lock
    with InstanceLock.for_paths(paths):
        check = doctor.check_store(paths, tiny_settings)
    assert check.status == WARN
    assert "in use by a running Tera" in check.detail
    assert "Nothing is wrong" in check.fix
    # a `tera` command holds the store itself (no instance lock)
    spec_dim = Engine(paths, tiny_settings).embedding_spec()
    store = open_store(folder=paths.store, dim=spec_dim.dim, embedding_model=spec_dim.name)
    try:
        check = doctor.check_store(paths, tiny_settings)
    finally:
        store.close()
    assert check.status == WARN
    assert "in use by another Tera command" in check.detail
    # and once free, it opens
    assert doctor.check_store(paths, tiny_settings).status == OK


def test_the_apps_engine_is_reused_not_opened_twice(paths: Paths, tiny_settings: Settings) -> None:
    with Engine(paths, tiny_settings) as engine, InstanceLock.for_paths(paths):
        engine.remember("one")
        engine.remember("two")
        found = _by_name(list(doctor.run_checks(paths, engine=engine)))
        assert found["Memory store"].status == OK
        assert "open in this window, 2 memories" in found["Memory store"].detail
        assert found["Embedding model"].status == OK


def test_the_apps_engine_without_its_embedding_model(paths: Paths) -> None:
    with Engine(paths, Settings()) as engine:  # the catalog model, not downloaded
        check = doctor.check_store(paths, engine.settings, engine)
    assert check.status == WARN
    assert "needs the embedding model" in check.detail


def test_llama_build_flags_against_the_cpu() -> None:
    info = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | AVX512 = 0 |"
    assert doctor.parse_system_info(info)["AVX2"] is True
    portable = doctor.check_llama_build(info, cpu={"AVX", "AVX2", "AVX512"})
    assert portable.status == OK
    assert "uses AVX, AVX2, FMA, F16C" in portable.detail
    assert "AVX-512, which it does not use" in portable.detail
    assert "GGML_NATIVE=ON" in portable.fix
    old = doctor.check_llama_build("CPU : SSE3 = 1 |", cpu={"AVX", "AVX2"})
    assert old.status == WARN and "GGML_NATIVE=ON" in old.fix
    assert doctor.check_llama_build(info, cpu={"AVX", "AVX2"}).detail.endswith("matches this CPU")


def test_the_real_llama_cpp_reports_its_build() -> None:
    check = doctor.check_llama_build()
    assert check.status in (OK, WARN)
    assert check.detail.startswith("uses ")


def test_a_library_that_does_not_load_is_named() -> None:
    def importer(name: str) -> object:
        if name == "lxml":
            raise ImportError("libxml2.so.2: cannot open shared object file")
        return object()

    check = doctor.check_libraries(importer)
    assert check.status == FAIL
    assert "lxml" in check.detail and "libxml2" in check.detail
    assert "install.sh" in check.fix


def test_a_broken_settings_file_is_a_finding_and_the_rest_still_runs(paths: Paths) -> None:
    paths.settings_file.write_text("{ not json", encoding="utf-8")
    checks = list(doctor.run_checks(paths))
    assert [c.name for c in checks] == NAMES
    assert checks[0].status == FAIL
    assert str(paths.settings_file) in checks[0].detail
    assert checks[0].fix


def test_environment_overrides_are_named(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, tiny_gguf: Path
) -> None:
    monkeypatch.setenv("TERA_LLM_MODEL", str(tiny_gguf))
    check, settings = doctor.check_settings(paths)
    assert check.status == OK
    assert "TERA_LLM_MODEL" in check.detail and "never saved" in check.detail
    assert settings.llm_model == str(tiny_gguf)


def test_disk_space_thresholds(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = namedtuple("usage", "total used free")
    settings = Settings()  # both catalog models missing: ~1.9 GB to download

    def free(n: int) -> Check:
        monkeypatch.setattr(doctor.shutil, "disk_usage", lambda _p: usage(10**12, 0, n))
        return doctor.check_disk(paths, settings)

    assert free(100 * 10**9).status == OK
    low = free(2 * 10**9)
    assert low.status == WARN and "missing models need" in low.detail
    assert free(50 * 10**6).status == FAIL


def test_data_folder_size(paths: Paths) -> None:
    (paths.data / "conversations").mkdir(parents=True)
    chat = paths.data / "conversations" / "c.json"
    chat.write_bytes(b"x" * 5000)
    check = doctor.check_data_folder(paths)
    assert check.status == OK
    on_disk = doctor.format_bytes(doctor.disk_bytes(chat.stat()))  # whole blocks, as du
    assert f"conversations {on_disk}" in check.detail


def test_data_folder_size_counts_blocks_not_the_length_of_sparse_files(paths: Paths) -> None:
    """Issue 24.5: the store's preallocated (sparse) files made 45 memories "245 MB"."""
    store = paths.data / "store"
    store.mkdir(parents=True)
    with (store / "segment.bin").open("wb") as fh:
        fh.write(b"x" * 4096)
        fh.truncate(200 * 10**6)  # 200 MB long, one block written
    size = doctor.folder_size(paths.data)
    assert size < 10**6, size
    assert size == sum(doctor.disk_bytes(p.stat()) for p in store.iterdir())
    assert doctor.format_bytes(size) in doctor.check_data_folder(paths).detail


def test_report_text_and_json() -> None:
    checks = [
        Check("A", OK, "fine"),
        Check("B", WARN, "meh", "do this"),
        Check("C", FAIL, "x", "y"),
    ]
    text = doctor.format_report(checks)
    assert "[ ok ] A" in text and "[warn] B" in text and "[FAIL] C" in text
    assert "fix: do this" in text
    assert text.rstrip().endswith("1 problem to fix and 1 warning.")
    data = doctor.report_json(checks)
    assert data["status"] == FAIL
    assert data["checks"][1] == {"name": "B", "status": WARN, "detail": "meh", "fix": "do this"}
    assert doctor.summary(checks[:1]) == "Everything checked is healthy."


def test_cli_doctor(
    paths: Paths, tiny_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(paths.data.parent)
    assert cli.main(["--home", home, "doctor", "--json"]) == 1  # default models: not installed
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == FAIL
    assert [c["name"] for c in data["checks"]] == NAMES
    save_settings(paths, replace(tiny_settings))
    assert cli.main(["--home", home, "doctor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tera ") and "installation check" in out
    for name in NAMES:
        assert name in out
