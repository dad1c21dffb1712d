"""`tera mcp` (issue 23, points 1-4): the SDK's own client against the real `tera mcp` process.

Each test starts `python -m tera_desktop.cli mcp` on stdio with a Tera home on the tiny models,
talks to it with ``mcp.ClientSession`` over ``mcp.client.stdio.stdio_client``, and closes it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from store_lock import memory_held_open

from tera_desktop.core.instance import InstanceLock
from tera_desktop.core.paths import get_paths

pytestmark = pytest.mark.slow  # real `tera` processes: the full lane (CI) runs them

WAIT = 120  # seconds: a bound for each process, never asserted as a timing
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
READ_TOOLS = {"search", "ask", "list_documents", "get_source"}
WRITE_TOOLS = {"remember", "forget"}
GATE = "The gate code is 4512."
PLUMBER = "My plumber is Bob Fixit, phone 0171 5559876."


def _env(home: Path, embedding: Path, gguf: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERA_")}
    env.update(
        {
            "TERA_HOME": str(home),
            "TERA_EMBEDDING_MODEL": str(embedding),
            "TERA_LLM_MODEL": str(gguf),
            "TERA_LLM_CONTEXT": "512",
            "QT_QPA_PLATFORM": "offscreen",
        }
    )
    return env


class Tera:
    """A Tera home on given models: `tera` commands and `tera mcp` sessions on it."""

    def __init__(self, home: Path, embedding: Path, gguf: Path) -> None:
        self.home = home
        self.env = _env(home, embedding, gguf)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tera_desktop.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )

    def mcp(self, body: Callable[[Any], Awaitable[Any]], *flags: str) -> Any:
        """Run ``body(session)`` against a fresh `tera mcp` process; returns what it returns."""
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "tera_desktop.cli", "mcp", *flags],
            env=self.env,
        )
        out: list[Any] = []

        async def main() -> None:
            with anyio.fail_after(WAIT), open(self.home.parent / "mcp-stderr.txt", "a") as errlog:
                async with (
                    stdio_client(params, errlog=errlog) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    await session.initialize()
                    out.append(await body(session))

        anyio.run(main)
        return out[0]

    def log(self) -> str:
        path = get_paths(self.home).log_file
        return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.fixture
def tera(tmp_path: Path, tiny_embedding: Path, tiny_gguf: Path) -> Tera:
    return Tera(tmp_path / "home", tiny_embedding, tiny_gguf)


def data(result: Any) -> Any:
    """A tool result's JSON (its structured content, else its text)."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def error_text(result: Any) -> str:
    assert result.is_error, result
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_tools_listed_read_only_by_default_and_writes_with_the_flag(tera: Tera) -> None:
    async def names(session: Any) -> tuple[set[str], dict[str, str]]:
        listed = (await session.list_tools()).tools
        return {t.name for t in listed}, {t.name: t.description or "" for t in listed}

    default, descriptions = tera.mcp(names)
    assert default == READ_TOOLS
    for name in READ_TOOLS:
        assert "Returns" in descriptions[name], name  # each says what it returns
    writable, _ = tera.mcp(names, "--allow-writes")
    assert writable == READ_TOOLS | WRITE_TOOLS

    async def hints(session: Any) -> dict[str, Any]:
        return {t.name: t.annotations for t in (await session.list_tools()).tools}

    annotations = tera.mcp(hints, "--allow-writes")
    assert all(annotations[name].read_only_hint for name in READ_TOOLS)
    assert annotations["forget"].destructive_hint and not annotations["remember"].read_only_hint


def test_search_get_source_and_list_documents(tera: Tera, tmp_path: Path) -> None:
    note = tmp_path / "boiler.md"
    note.write_text("# Boiler\n\nThe boiler was serviced by Heatwell in March.\n", "utf-8")
    for fact in (GATE, PLUMBER):
        assert tera.cli("remember", fact).returncode == 0
    assert tera.cli("upload", str(note)).returncode == 0
    cli_hits = json.loads(tera.cli("search", "gate code", "-k", "3", "--json").stdout)

    async def body(session: Any) -> dict[str, Any]:
        found = data(await session.call_tool("search", {"query": "gate code", "k": 3}))
        top = found["results"][0]
        full = data(await session.call_tool("get_source", {"id": top["id"]}))
        docs = data(await session.call_tool("list_documents", {}))
        only_docs = data(
            await session.call_tool("search", {"query": "boiler", "k": 3, "kind": "document"})
        )
        return {"found": found, "full": full, "docs": docs, "only_docs": only_docs}

    got = tera.mcp(body)
    results = got["found"]["results"]
    assert [r["id"] for r in results] == [h["id"] for h in cli_hits]  # the same pipeline
    assert results[0]["text"] == GATE and results[0]["kind"] == "fact"
    assert isinstance(results[0]["score"], float)
    assert got["full"]["id"] == results[0]["id"] and got["full"]["text"] == GATE
    (doc,) = got["docs"]["documents"]
    assert doc["source"] == str(note) and got["docs"]["facts"] == 2
    assert got["only_docs"]["results"]
    assert {r["kind"] for r in got["only_docs"]["results"]} == {"document"}
    assert got["only_docs"]["results"][0]["source"] == str(note)


def test_writes_refused_without_the_flag_and_work_with_it(tera: Tera) -> None:
    async def refused(session: Any) -> tuple[str, str]:
        r = await session.call_tool("remember", {"text": GATE})
        f = await session.call_tool("forget", {"id": "x"})
        return error_text(r), error_text(f)

    remember_error, forget_error = tera.mcp(refused)
    assert "remember" in remember_error and "forget" in forget_error
    assert json.loads(tera.cli("list", "--json").stdout)["facts"] == []  # nothing stored

    async def writes(session: Any) -> dict[str, Any]:
        stored = data(await session.call_tool("remember", {"text": GATE}))
        again = data(await session.call_tool("remember", {"text": GATE}))
        found = data(await session.call_tool("search", {"query": "gate code"}))
        forgot = data(await session.call_tool("forget", {"id": stored["id"]}))
        after = data(await session.call_tool("search", {"query": "gate code"}))
        return {"stored": stored, "again": again, "found": found, "forgot": forgot, "after": after}

    got = tera.mcp(writes, "--allow-writes")
    assert got["stored"]["stored"] and got["stored"]["new"]
    assert got["again"]["id"] == got["stored"]["id"] and not got["again"]["new"]
    assert got["found"]["results"][0]["id"] == got["stored"]["id"]
    assert got["forgot"]["chunks_removed"] == 1
    assert got["stored"]["id"] not in [r["id"] for r in got["after"]["results"]]
    assert json.loads(tera.cli("list", "--json").stdout)["facts"] == []


def test_forget_through_mcp_redacts_a_saved_chat(tera: Tera) -> None:
    assert tera.cli("remember", PLUMBER).returncode == 0
    asked = tera.cli("ask", "--chat", "Home", "Who is my plumber?", "--json")
    assert asked.returncode == 0, asked.stderr
    plumber = json.loads(tera.cli("list", "--json").stdout)["facts"][0]["id"]

    async def forget(session: Any) -> dict[str, Any]:
        return data(await session.call_tool("forget", {"id": plumber}))

    got = tera.mcp(forget, "--allow-writes")
    assert got["conversations_redacted"] == 1
    chats = get_paths(tera.home).data
    saved = "".join(p.read_text("utf-8") for p in chats.rglob("*.json") if "conv" in str(p))
    assert "Bob Fixit" not in saved


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("search", {"query": ""}, "query"),
        ("search", {"query": "gate", "k": 0}, "k must be"),
        ("search", {"query": "gate", "k": "many"}, "k"),
        ("search", {"query": "gate", "kind": "poem"}, "kind"),
        ("search", {}, "query"),
        ("get_source", {"id": "no-such-id"}, "no-such-id"),
        ("ask", {"question": "   "}, "question"),
        ("no_such_tool", {}, "no_such_tool"),
    ],
)
def test_bad_arguments_get_an_error_result_and_the_server_goes_on(
    tera: Tera, tool: str, arguments: dict[str, Any], says: str
) -> None:
    assert tera.cli("remember", GATE).returncode == 0

    async def body(session: Any) -> tuple[str, dict[str, Any]]:
        bad = await session.call_tool(tool, arguments)
        after = data(await session.call_tool("search", {"query": "gate code"}))
        return error_text(bad), after

    message, after = tera.mcp(body)
    assert says in message
    assert after["results"][0]["text"] == GATE  # the same process still answers


def test_ask_answers_with_sources_on_the_tiny_model(tera: Tera) -> None:
    assert tera.cli("remember", GATE).returncode == 0

    async def body(session: Any) -> dict[str, Any]:
        return data(await session.call_tool("ask", {"question": "What is the gate code?"}))

    got = tera.mcp(body)
    assert not got["no_memory"]
    assert got["sources"][0]["text"] == GATE and got["sources"][0]["label"] == "fact"
    assert isinstance(got["answer"], str) and "checks" in got


def test_the_process_exits_cleanly_when_the_client_closes(tera: Tera) -> None:
    async def body(session: Any) -> int:
        return len((await session.list_tools()).tools)

    assert tera.mcp(body) == len(READ_TOOLS)
    log = tera.log()
    assert "mcp server started" in log and "mcp server stopped" in log  # its finally ran
    assert "Traceback" not in log
    # and it let the memory go: a command can open it at once
    assert tera.cli("remember", GATE).returncode == 0


def test_beside_the_open_window_a_call_says_why_and_the_memory_is_let_go(tera: Tera) -> None:
    assert tera.cli("remember", GATE).returncode == 0
    paths = get_paths(tera.home)
    window = InstanceLock.for_paths(paths)
    assert window.acquire()  # as the running window holds it
    try:
        with memory_held_open(paths.store, WAIT):  # the window's process holds it

            async def locked(session: Any) -> str:
                return error_text(await session.call_tool("search", {"query": "gate code"}))

            message = tera.mcp(locked)
            assert "Tera's window has this memory open" in message
    finally:
        window.release()

    async def works(session: Any) -> str:
        return data(await session.call_tool("search", {"query": "gate code"}))["results"][0]["text"]

    assert tera.mcp(works) == GATE  # the window closed: the same calls work


def _readme_mcp_snippets() -> list[dict[str, Any]]:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Use your memory from other assistants (MCP)")
    end = text.find("\n## ", start + 3)
    section = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"```jsonc?\n(.*?)```", section, flags=re.S)
    return [json.loads(b) for b in blocks]


def _servers(snippet: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("mcpServers", "servers"):
        if key in snippet:
            return list(snippet[key].values())
    raise AssertionError(f"no server in {snippet}")


def test_readme_snippets_for_each_client_parse_and_run_tera_mcp() -> None:
    snippets = _readme_mcp_snippets()
    assert len(snippets) >= 4  # Claude Desktop, LM Studio, Jan, VS Code
    text = README.read_text(encoding="utf-8")
    for client in ("Claude Desktop", "LM Studio", "Jan", "VS Code"):
        assert client in text
    for snippet in snippets:
        for server in _servers(snippet):
            assert server["command"].endswith("/.venv/bin/tera")
            assert server["args"][0] == "mcp"
            assert set(server["args"]) <= {"mcp", "--allow-writes"}


def test_sigterm_stops_the_server_cleanly(tera: Tera) -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "tera_desktop.cli", "mcp"],
        env=tera.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + WAIT
        while "mcp server started" not in tera.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "mcp server started" in tera.log()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 130  # stopped as by Ctrl-C, after closing the memory
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stdout is not None and proc.stdout.read() == b""  # nothing but MCP on stdout
    assert "mcp server stopped" in tera.log() and "Traceback" not in tera.log()
