"""The `tera` CLI end to end with tiny models: the seed's commands, stable JSON, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tera_desktop import __version__
from tera_desktop.cli import main


@pytest.fixture(autouse=True)
def tiny_env(monkeypatch: pytest.MonkeyPatch, tiny_gguf: Path, tiny_embedding: Path) -> None:
    monkeypatch.setenv("TERA_EMBEDDING_MODEL", str(tiny_embedding))
    monkeypatch.setenv("TERA_LLM_MODEL", str(tiny_gguf))
    monkeypatch.setenv("TERA_LLM_CONTEXT", "512")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_remember_search_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "remember", "the", "gate", "code", "is", "4512")
    assert code == 0 and out.startswith("Remembered (")
    code, out, _ = run(capsys, "remember", "the gate code is 4512")
    assert code == 0 and out.startswith("Already remembered on ")
    run(capsys, "remember", "my cat is blue")
    code, out, _ = run(capsys, "search", "gate code", "-k", "2", "--json")
    hits = json.loads(out)
    assert code == 0 and 1 <= len(hits) <= 2  # only relevant memories: the same as `ask` uses
    assert all(set(h) == {"id", "score", "kind", "source", "text", "created_at"} for h in hits)
    assert hits[0]["text"] == "the gate code is 4512" and hits[0]["kind"] == "fact"
    assert all(hits[0]["score"] >= h["score"] for h in hits)


def test_search_ranks_like_ask(capsys: pytest.CaptureFixture[str]) -> None:
    for fact in ("the gate code is 4512", "my cat is blue", "the wifi password is tulip"):
        run(capsys, "remember", fact)
    _, out, _ = run(capsys, "search", "what is the gate code", "--json")
    searched = [h["id"] for h in json.loads(out)]
    _, out, _ = run(capsys, "ask", "what is the gate code", "--json")
    asked = [s["id"] for s in json.loads(out)["sources"]]
    assert searched == asked
    _, out, _ = run(capsys, "search", "zzzz qqqq", "--json")
    assert json.loads(out) == []  # below the relevance threshold, as for a question


def test_ask_chat_continues_a_named_conversation(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "remember", "My accountant is Maria Keller.")
    run(capsys, "remember", "Maria Keller's office number is 030 5551234.")
    run(capsys, "remember", "The plumber's office number is 0171 5559876.")
    code, out, _ = run(capsys, "ask", "--chat", "Taxes", "who is my accountant?", "--json")
    first = json.loads(out)
    assert code == 0 and first["query"] == "who is my accountant?"
    code, out, _ = run(capsys, "ask", "--chat", "taxes", "what is her office number?", "--json")
    second = json.loads(out)
    assert "Keller" in second["query"]  # searched with the conversation's context
    assert second["sources"] and second["answer"]
    assert set(second["checks"]) >= {"unsupported", "removed_citations", "cut"}
    code, out, _ = run(capsys, "chats", "--json")
    chats = json.loads(out)
    assert code == 0 and len(chats) == 1
    assert chats[0]["title"] == "Taxes" and chats[0]["messages"] == 4
    code, out, _ = run(capsys, "chats")
    assert "Taxes" in out and chats[0]["id"][:8] in out
    run(capsys, "ask", "what is her office number?", "--json")  # alone: not kept
    _, out, _ = run(capsys, "chats", "--json")
    assert len(json.loads(out)) == 1


def test_upload_list_forget(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "trip.md").write_text("# Trip\n\nWe fly to paris, the capital of france, in may.\n")
    (docs / "empty.txt").write_text("")
    code, out, _ = run(capsys, "upload", str(docs))
    assert code == 2  # one file failed
    assert "added      " in out and "trip.md (1 chunk)" in out
    assert "failed     " in out and "empty.txt: The file is empty." in out
    code, out, _ = run(capsys, "upload", str(docs / "trip.md"))
    assert code == 0 and "unchanged" in out
    run(capsys, "remember", "my cat is blue")
    code, out, _ = run(capsys, "list", "--json")
    listing = json.loads(out)
    assert [f["text"] for f in listing["facts"]] == ["my cat is blue"]
    assert listing["documents"][0]["source"] == str((docs / "trip.md").resolve())
    assert listing["documents"][0]["chunks"] == 1
    fact_id = listing["facts"][0]["id"]
    code, out, _ = run(capsys, "forget", fact_id)
    assert code == 0 and "Forgot" in out
    code, out, _ = run(capsys, "forget", "--source", str(docs / "trip.md"))
    assert code == 0
    code, out, _ = run(capsys, "list")
    assert "remembers nothing" in out


def test_ask_streams_then_prints_numbered_sources(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "remember", "the gate code is 4512")
    code, out, _ = run(capsys, "ask", "what", "is", "the", "gate", "code?")
    assert code == 0
    answer, _, sources = out.partition("\nSources:\n")
    assert answer.strip()
    assert sources.startswith("[1] fact · ") and "the gate code is 4512" in sources
    code, out, _ = run(capsys, "ask", "--json", "gate code?")
    data = json.loads(out)
    assert data["sources"][0]["n"] == 1 and data["sources"][0]["text"] == "the gate code is 4512"


def test_ask_with_nothing_relevant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "zzzz qqqq?")
    assert code == 0 and "I don't have anything in my memory about that" in out


def test_forget_all_needs_confirmation(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "remember", "my cat is blue")
    code, out, err = run(capsys, "forget", "--all")
    assert code == 1 and "Nothing forgotten" in err and "--yes" in err
    code, out, _ = run(capsys, "forget", "--all", "--yes")
    assert code == 0 and "Forgot everything (1 chunk)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forget", "123e4567-e89b-12d3-a456-426614174000"], "Nothing in memory has the id"),
        (["forget", "--source", "/no/such/file.md"], "No document from"),
        (["remember", "   "], "nothing to remember"),
        (["models", "download", "no-such-model"], "Unknown model"),
        (["models", "import", "/no/such/model.gguf"], "no file at"),
    ],
)
def test_errors_are_one_line_with_non_zero_exit(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, *args)
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("tera: ") and message.lower() in err.lower()
    assert "Traceback" not in err


def test_missing_llm_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERA_LLM_MODEL", "dolphin-2.6-phi-2")
    run(capsys, "remember", "the gate code is 4512")
    code, _, err = run(capsys, "ask", "gate code?")
    assert code == 1 and "tera models download dolphin-2.6-phi-2" in err and err.count("\n") == 1


def test_models_list_and_import(
    capsys: pytest.CaptureFixture[str], tiny_gguf: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "models", "list", "--json")
    data = json.loads(out)
    names = {m["name"] for m in data["catalog"]}
    assert {"dolphin-2.6-phi-2", "BAAI/bge-small-en-v1.5"} <= names
    assert all(m["size"] > 0 for m in data["catalog"])
    code, out, _ = run(capsys, "models", "import", str(tiny_gguf), "--use")
    assert code == 0 and "Imported tiny.gguf" in out
    code, out, _ = run(capsys, "models", "list")
    assert "tiny.gguf" in out


def test_home_option_keeps_everything_in_one_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TERA_HOME")
    home = tmp_path / "portable"
    code, _, _ = run(capsys, "--home", str(home), "remember", "my cat is blue")
    assert code == 0
    assert (home / "data" / "memory").is_dir() and (home / "logs" / "tera.log").exists()
    code, out, _ = run(capsys, "--home", str(home), "info")
    assert str(home) in out


def test_console_script_runs_in_a_fresh_process(tmp_path: Path) -> None:
    exe = shutil.which("tera", path=os.path.dirname(sys.executable)) or shutil.which("tera")
    assert exe, "the `tera` console script is not installed (pip install -e .)"
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"tera {__version__}"
    result = subprocess.run(
        [exe, "remember", "the gate code is 4512"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
