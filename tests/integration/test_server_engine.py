"""Answering through a real OpenAI-compatible server: llama-cpp-python's server on 127.0.0.1 with
the small real GGUF (SmolLM2-135M-Instruct), the same answering tests as with the local engine
(stream, sources, cancel mid-answer, the honest "nothing in memory"), and proof that no socket goes
anywhere but the configured server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ServerError
from tera_desktop.core.generator import Sampling
from tera_desktop.core.openai_generator import OpenAIGenerator, estimate_tokens
from tera_desktop.core.paths import get_paths
from tera_desktop.core.prompts import AnswerDone, SourcesFound, Token, system_prompt
from tera_desktop.core.session import ask_once
from tera_desktop.core.settings import Settings
from tera_desktop.testing.model_server import LlamaServer, llama_server

pytestmark = pytest.mark.integration

FACTS = [
    "The gate code is 4512.",
    "My sister Anna's birthday is on 14 March.",
    "The wifi password is tulip-42.",
    "I parked the car on level 3 of the airport garage.",
]
PROJECT_MD = (
    "# Project Falcon\n\n## Budget\n\nThe Falcon project budget is 2.3 million euros, approved by "
    "Maria Lopez in June.\n\n## Team\n\nThe team has five engineers based in Lisbon.\n"
)
GREEDY = Sampling(max_tokens=60, temperature=0.0, seed=0)
API_KEY = "tera-test-key"


@pytest.fixture(scope="module")
def server(
    real_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    pytest.importorskip("fastapi", reason="needs llama-cpp-python[server]")
    log = tmp_path_factory.mktemp("server") / "llama-server.log"
    with llama_server(real_models["gguf"], n_ctx=2048, api_key=API_KEY, log=log) as running:
        yield running


def server_settings(models: dict[str, Path], url: str) -> Settings:
    return Settings(
        embedding_model=str(models["embedding"]),
        llm_model="",  # no local language model at all: the server answers
        llm_url=url,
        llm_api_key=API_KEY,
        max_answer_tokens=60,
    )


@pytest.fixture(scope="module")
def memory(
    real_models: dict[str, Path], server: LlamaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("server-home")
    docs = tmp_path_factory.mktemp("docs")
    (docs / "project.md").write_text(PROJECT_MD)
    engine = Engine(get_paths(home).ensure(), server_settings(real_models, server.url))
    ids = {fact: engine.remember(fact).id for fact in FACTS}
    assert [e.status for e in engine.upload([docs]) if hasattr(e, "status")] == ["added"]
    yield engine, ids, docs
    engine.close()


def ask(engine: Engine, question: str, **kw: object) -> tuple[list[object], str, AnswerDone]:
    events = list(ask_once(engine, question, sampling=GREEDY, **kw))  # type: ignore[arg-type]
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    done = events[-1]
    assert isinstance(events[0], SourcesFound) and isinstance(done, AnswerDone)
    return events, streamed, done


def test_the_server_is_the_engine(
    memory: tuple[Engine, dict[str, str], Path], server: LlamaServer
) -> None:
    engine, _, _ = memory
    generator = engine.generator
    assert isinstance(generator, OpenAIGenerator)
    assert generator.model == str(server.model) and generator.name == server.model.name
    assert generator.n_ctx == 2048


@pytest.mark.parametrize(
    ("question", "fact", "answer_has"),
    [
        ("What is the gate code?", "The gate code is 4512.", "4512"),
        ("What is the wifi password?", "The wifi password is tulip-42.", "tulip-42"),
    ],
)
def test_answers_stream_and_cite_the_right_fact(
    memory: tuple[Engine, dict[str, str], Path], question: str, fact: str, answer_has: str
) -> None:
    engine, ids, _ = memory
    events, streamed, done = ask(engine, question)
    assert len([e for e in events if isinstance(e, Token)]) > 1  # it streamed, piece by piece
    first = done.sources[0]
    assert (first.id, first.kind, first.text) == (ids[fact], "fact", fact)  # ranked first
    assert answer_has in streamed and done.text == streamed.strip()
    stats = done.stats
    assert stats.first_token_s is not None and stats.completion_tokens > 1
    assert 0 < stats.prompt_tokens < engine.generator.n_ctx


def test_answers_from_an_uploaded_document(memory: tuple[Engine, dict[str, str], Path]) -> None:
    engine, _, docs = memory
    _, streamed, done = ask(engine, "What is the budget of the Falcon project?")
    first = done.sources[0]
    assert first.kind == "document" and first.source == str((docs / "project.md").resolve())
    assert "2.3 million" in streamed


def test_unknown_topic_is_answered_honestly(memory: tuple[Engine, dict[str, str], Path]) -> None:
    engine, _, _ = memory
    _, streamed, done = ask(engine, "Who won the 1998 football world cup?")
    assert done.no_memory and done.sources == [] and "don't have anything" in streamed


def test_cancel_mid_answer_then_ask_again(memory: tuple[Engine, dict[str, str], Path]) -> None:
    engine, _, _ = memory
    cancel = threading.Event()
    long = Sampling(max_tokens=200, temperature=0.0, seed=0)
    tokens = 0
    done = None
    for event in ask_once(engine, "Where did I park the car?", sampling=long, cancel=cancel):
        if isinstance(event, Token):
            tokens += 1
            if tokens == 3:
                cancel.set()
        done = event
    assert isinstance(done, AnswerDone) and done.stopped and tokens == 3
    _, streamed, done = ask(engine, "What is the gate code?")  # the server is fine after it
    assert not done.stopped and "4512" in streamed


def test_a_wrong_api_key_is_refused_with_advice(
    real_models: dict[str, Path], server: LlamaServer, tmp_path: Path
) -> None:
    settings = replace(server_settings(real_models, server.url), llm_api_key="wrong")
    with (
        Engine(get_paths(tmp_path / "home").ensure(), settings) as engine,
        pytest.raises(ServerError) as info,
    ):
        _ = engine.generator
    assert info.value.reason == "auth" and "refused the API key" in info.value.message


def test_the_token_estimate_never_undercounts_the_real_tokenizer(
    real_models: dict[str, Path],
) -> None:
    from llama_cpp import Llama

    vocab = Llama(model_path=str(real_models["gguf"]), vocab_only=True, verbose=False)
    texts = [
        *FACTS,
        PROJECT_MD,
        system_prompt(),
        "Grandma's pancake recipe: two eggs, one cup of flour, a pinch of salt.",
        "Die Besprechung mit Frau Müller ist am Dienstag um 14:30 Uhr in Zürich.",
        "会议在星期二下午两点半举行。",
        "def f(x):\n    return {'a': [1, 2, 3], 'b': x ** 2}  # 0xFF, 3.14159",
        "https://example.org/path?q=tera&id=12345 — call +41 44 123 45 67!",
        "2024-03-14 09:30 | 4512 | tulip-42 | INV-2024-00017",
    ]
    for text in texts:
        real = len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        assert estimate_tokens(text) >= real, (text, real)


NO_SOCKET_SCRIPT = """
import json, sys
connects, lookups = [], []
def audit(event, args):
    if event == "socket.connect":
        connects.append(list(args[1][:2]))
    elif event == "socket.getaddrinfo":
        lookups.append([args[0], args[1]])
sys.addaudithook(audit)

from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import get_paths
from tera_desktop.core.session import ask_once
from tera_desktop.core.settings import Settings
from tera_desktop.core.generator import Sampling
home, emb, url, key = sys.argv[1:5]
engine = Engine(get_paths(home).ensure(), Settings(embedding_model=emb, llm_model="",
                llm_url=url, llm_api_key=key))
engine.remember("The gate code is 4512.")
events = [type(e).__name__ for e in ask_once(engine, "What is the gate code?",
          sampling=Sampling(max_tokens=8, temperature=0.0))]
engine.close()
print(json.dumps({"connects": connects, "lookups": lookups, "events": events[:1] + events[-1:]}))
"""


def test_no_socket_goes_anywhere_but_the_configured_server(
    real_models: dict[str, Path], server: LlamaServer, tmp_path: Path
) -> None:
    """An audit hook records every connection and name lookup of a whole run (remember, ask):
    each one is to the model server's address."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(NO_SOCKET_SCRIPT),
            str(tmp_path / "home"),
            str(real_models["embedding"]),
            server.url,
            API_KEY,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["events"] == ["SourcesFound", "AnswerDone"]
    assert report["connects"] and report["lookups"]
    assert all(address == ["127.0.0.1", server.port] for address in report["connects"]), report
    assert all(lookup == ["127.0.0.1", server.port] for lookup in report["lookups"]), report
