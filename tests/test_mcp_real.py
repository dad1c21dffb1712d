"""`tera mcp` with the small real models (issue 23, point 4): ``ask`` through the SDK's own client
answers from memory with its sources, as `tera ask` does on the same memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_mcp import Tera, data

from tera_desktop.core.paths import get_paths
from tera_desktop.core.settings import Settings, save_settings

pytestmark = pytest.mark.integration

FACTS = [
    "The gate code is 4512.",
    "My sister Anna's birthday is on 14 March.",
    "The wifi password is tulip-42.",
]


def test_ask_with_the_small_real_model(real_models: dict[str, Path], tmp_path: Path) -> None:
    tera = Tera(tmp_path / "home", real_models["embedding"], real_models["gguf"])
    paths = get_paths(tera.home).ensure()
    save_settings(
        paths, Settings(max_answer_tokens=60, temperature=0.0, llm_threads=1, llm_threads_batch=2)
    )
    for fact in FACTS:
        assert tera.cli("remember", fact).returncode == 0
    listed = json.loads(tera.cli("list", "--json").stdout)["facts"]
    gate = next(f["id"] for f in listed if f["text"] == FACTS[0])
    cli = json.loads(tera.cli("ask", "What is the gate code?", "--json").stdout)

    async def body(session: Any) -> dict[str, Any]:
        return data(await session.call_tool("ask", {"question": "What is the gate code?"}))

    got = tera.mcp(body)
    assert not got["no_memory"] and not got["stopped"]
    ids = [s["id"] for s in got["sources"]]
    assert ids[0] == gate and got["sources"][0]["label"] == "fact"
    assert ids == [s["id"] for s in cli["sources"]]  # the same sources as `tera ask`
    assert "4512" in got["answer"]
    assert got["answer"] == cli["answer"]  # greedy: the same answer, the same checks
    assert got["checks"] == cli["checks"]
