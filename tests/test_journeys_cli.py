"""Journeys through the `tera` command, each crossing features (issue 19, point 5), and a forget
killed at each of its steps (issue 26, point 1).

Every command is a real `tera` process on the tiny models, sharing one Tera home, as a person
typing in a terminal would run them one after the other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_safety_forget import files_holding

from tera_desktop.core import forgetting
from tera_desktop.core.conversations import ConversationStore
from tera_desktop.core.paths import get_paths
from tera_desktop.core.redact import REDACTED_ANSWER
from tera_desktop.core.saved_state import DAMAGED_TAG

pytestmark = pytest.mark.slow  # many `tera` processes: the full lane (CI) runs them

WAIT = 120  # seconds: a bound for each process, never asserted as a timing
PLUMBER = "My plumber is Bob Fixit, phone 0171 5559876."
ACCOUNTANT = "My accountant is Maria Keller, phone 030 5551234."


@pytest.fixture
def tera(tmp_path: Path, tiny_embedding: Path, tiny_gguf: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    env = {
        **os.environ,
        "TERA_HOME": str(home),
        "TERA_EMBEDDING_MODEL": str(tiny_embedding),
        "TERA_LLM_MODEL": str(tiny_gguf),
        "TERA_LLM_CONTEXT": "512",
    }
    env.pop(forgetting.CRASH_ENV, None)

    def run(*args: str, crash_at: str = "") -> subprocess.CompletedProcess[str]:
        run_env = {**env, forgetting.CRASH_ENV: crash_at} if crash_at else env
        return subprocess.run(
            [sys.executable, "-m", "tera_desktop.cli", *args],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )

    run.home = home  # type: ignore[attr-defined]
    return run


def fact_id(tera, text: str) -> str:  # type: ignore[no-untyped-def]
    listed = json.loads(tera("list", "--json").stdout)
    return next(f["id"] for f in listed["facts"] if f["text"] == text)


def test_forget_what_a_chat_quoted_then_ask_in_that_chat(tera) -> None:  # type: ignore[no-untyped-def]
    for fact in (ACCOUNTANT, PLUMBER):
        assert tera("remember", fact).returncode == 0
    first = json.loads(tera("ask", "--chat", "Home", "Who is my plumber?", "--json").stdout)
    plumber = fact_id(tera, PLUMBER)
    assert plumber in [s["id"] for s in first["sources"]]
    assert tera("ask", "--chat", "Home", "And his phone number?").returncode == 0

    forgot = tera("forget", plumber)
    assert forgot.returncode == 0 and "Forgot" in forgot.stdout

    store = ConversationStore(get_paths(tera.home))
    (chat,) = store.list()
    conv = store.load(chat.id)  # the redacted chat loads whole
    assert len(conv.messages) == 4 and REDACTED_ANSWER in [m.text for m in conv.messages]
    again = json.loads(tera("ask", "--chat", "Home", "Who is my plumber?", "--json").stdout)
    fresh = json.loads(tera("ask", "Who is my plumber?", "--json").stdout)
    assert again["no_memory"] == fresh["no_memory"]  # the chat answers as a new one would
    assert {s["id"] for s in again["sources"]} == {s["id"] for s in fresh["sources"]}
    assert "Fixit" not in tera("list").stdout
    assert files_holding(get_paths(tera.home).data, "Fixit") == []


@pytest.mark.parametrize("step", ["intent-written", "deleted", "scrubbed", "redacted"])
def test_a_forget_killed_at_each_step_is_finished_by_the_next_command(tera, step: str) -> None:  # type: ignore[no-untyped-def]
    token = "quokka7319"
    assert tera("remember", f"The spare key code is {token}.").returncode == 0
    assert tera("remember", "The bike lock code is 0451.").returncode == 0
    assert tera("ask", "--chat", "Keys", "What is the spare key code?").returncode == 0
    the_id = fact_id(tera, f"The spare key code is {token}.")
    data = get_paths(tera.home).data

    killed = tera("forget", the_id, crash_at=step)
    assert killed.returncode == -signal.SIGKILL  # kill -9, mid-forget
    assert list((data / forgetting.FOLDER_NAME).glob("*.json"))  # the intent survived it

    again = tera("forget", the_id)  # the user tries again: it finishes the job
    assert again.returncode == 0, again.stderr
    assert files_holding(data, token) == []  # not in the store, not in the chat
    assert not list((data / forgetting.FOLDER_NAME).glob("*.json"))
    listed = tera("list", "--json")
    assert token not in listed.stdout and "0451" in listed.stdout  # the rest is all there
    (chat,) = ConversationStore(get_paths(tera.home)).list()
    assert ConversationStore(get_paths(tera.home)).load(chat.id).messages


def test_a_killed_forget_is_finished_by_any_command(tera) -> None:  # type: ignore[no-untyped-def]
    token = "wombat4402"
    tera("remember", f"The attic box is labelled {token}.")
    the_id = fact_id(tera, f"The attic box is labelled {token}.")
    assert tera("forget", the_id, crash_at="deleted").returncode == -signal.SIGKILL
    found = tera("search", "attic box", "--json")  # not a forget: it finishes it all the same
    assert found.returncode == 0 and token not in found.stdout
    assert files_holding(get_paths(tera.home).data, token) == []


def test_a_damaged_chat_among_good_ones_in_the_terminal(tera) -> None:  # type: ignore[no-untyped-def]
    tera("remember", "The boat is called Seabird.")
    assert tera("ask", "--chat", "Boat", "What is the boat called?").returncode == 0
    assert tera("ask", "--chat", "Other", "What is the boat called?").returncode == 0
    folder = get_paths(tera.home).data / "conversations"
    (folder / ("e" * 32 + ".json")).write_bytes(b"\xff\xfe not json")
    listed = tera("chats", "--json")
    assert listed.returncode == 0
    assert sorted(c["title"] for c in json.loads(listed.stdout)) == ["Boat", "Other"]
    assert "Could not load a saved chat" in listed.stderr  # said once…
    assert list(folder.glob(f"*{DAMAGED_TAG}*"))  # …and kept aside, untouched
    assert "Could not load" not in tera("chats").stderr
    assert tera("ask", "--chat", "Boat", "And its colour?").returncode == 0


def test_waiting_facts_file_damaged_does_not_stop_a_command(tera) -> None:  # type: ignore[no-untyped-def]
    paths = get_paths(tera.home).ensure()
    paths.waiting_file.write_text("{ cut off", encoding="utf-8")
    done = tera("remember", "The gate code is 4512.")
    assert done.returncode == 0 and "Could not load the facts and files that wait" in done.stderr
    assert "4512" in tera("list").stdout
    assert list(paths.data.glob(f"pending-facts{DAMAGED_TAG}*"))


def test_forget_a_document_then_update_a_fact_in_one_chat(tera, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "lease.txt"
    doc.write_text("The lease of the flat ends on 30 June. The rent is 900 euros.")
    assert tera("upload", str(doc)).returncode == 0
    tera("remember", "The car is parked on level 2.")
    assert tera("ask", "--chat", "Flat", "When does the lease end?").returncode == 0
    assert tera("forget", "--source", str(doc)).returncode == 0
    tera("remember", "The car is now parked on level 5.")
    answer = json.loads(tera("ask", "--chat", "Flat", "Where is the car parked?", "--json").stdout)
    texts = [s["text"] for s in answer["sources"]]
    assert texts and texts[0] == "The car is now parked on level 5."
    assert "The car is parked on level 2." not in texts  # only the current value is given
    store = ConversationStore(get_paths(tera.home))
    (chat,) = store.list()
    assert len(store.load(chat.id).messages) == 4
    assert files_holding(get_paths(tera.home).data, "900 euros") == []
