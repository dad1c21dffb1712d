"""The application core under sequences no one wrote (issue 19, point 6).

A Hypothesis state machine drives one ``TeraApp`` (real parts: the tiny embedding model, the
embedded Qdrant engine, the tiny GGUF answering, the conversation store on disk) with random
sequences of remember / upload / forget / forget everything / ask / new chat / switch chat /
restart, and after every step checks what a user relies on:

- every saved chat loads (and none had to be set aside);
- the list, the count and search agree, and nothing acknowledged is lost;
- forgotten text is in no file under the data folder (store, logs of the engine, chats);
- a restart reaches ready.

The budget of examples is fixed (``derandomize``: the same sequences in every run), so it runs
in CI within a known time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from test_safety_forget import files_holding

from tera_desktop.core.app import READY, TeraApp
from tera_desktop.core.conversations import ConversationStore
from tera_desktop.core.paths import get_paths
from tera_desktop.core.prompts import AnswerDone
from tera_desktop.core.settings import Settings
from tera_desktop.testing.tiny_models import write_tiny_embedding_model, write_tiny_gguf

_MODELS: dict[str, Path] = {}


def _tiny_models() -> dict[str, Path]:
    if not _MODELS:
        folder = Path(tempfile.mkdtemp(prefix="tera-stateful-models-"))
        write_tiny_gguf(folder / "tiny.gguf")
        write_tiny_embedding_model(folder / "tiny-embedding")
        _MODELS["gguf"] = folder / "tiny.gguf"
        _MODELS["embedding"] = folder / "tiny-embedding"
    return _MODELS


WORDS = st.sampled_from(["alpaca", "bison", "camel", "dingo", "egret", "ferret", "gecko"])


class AppMachine(RuleBasedStateMachine):
    facts = Bundle("facts")
    documents = Bundle("documents")

    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(prefix="tera-stateful-"))
        self.paths = get_paths(self.home / "tera-home").ensure()
        models = _tiny_models()
        self.settings = Settings(
            embedding_model=str(models["embedding"]),
            llm_model=str(models["gguf"]),
            llm_context=512,
            max_answer_tokens=8,
            llm_threads=1,
            llm_threads_batch=1,
        )
        self.app: TeraApp | None = None
        self.n = 0
        self.kept: dict[str, str] = {}  # token → fact id, acknowledged and not forgotten
        self.kept_docs: dict[str, Path] = {}  # token → file
        self.forgotten: set[str] = set()

    def token(self, word: str) -> str:
        self.n += 1
        return f"{word}q{self.n}z"

    def start(self) -> TeraApp:
        app = TeraApp(self.paths, self.settings)
        opened = app.open()
        assert app.embedding_state == READY
        assert opened.problems == []  # nothing the app saved had to be set aside
        app.load_llm()
        return app

    @initialize()
    def open_app(self) -> None:
        self.app = self.start()

    # ---- rules -------------------------------------------------------------------------------
    @rule(target=facts, word=WORDS)
    def remember(self, word: str) -> str:
        assert self.app is not None
        token = self.token(word)
        done = self.app.remember(f"{token} is a word I made up for {word}")
        assert done.result is not None and not done.waiting
        self.kept[token] = done.result.id
        return token

    @rule(target=documents, word=WORDS)
    def upload(self, word: str) -> str:
        assert self.app is not None
        token = self.token(word)
        path = self.home / "docs" / f"{token}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"Notes about the {word}: the {token} lives in the hills.\n")
        assert self.app.add([str(path)]) == "start"
        events = list(self.app.ingest())
        assert any(getattr(e, "status", "") == "added" for e in events)
        self.kept_docs[token] = path
        return token

    @rule(token=consumes(facts))
    def forget_fact(self, token: str) -> None:
        assert self.app is not None
        if token not in self.kept:
            return  # already gone with "forget everything"
        self.app.forget(self.kept.pop(token))
        self.forgotten.add(token)

    @rule(token=consumes(documents))
    def forget_document(self, token: str) -> None:
        assert self.app is not None
        if token not in self.kept_docs:
            return
        self.app.forget_source(str(self.kept_docs.pop(token)))
        self.forgotten.add(token)

    @rule()
    def forget_everything(self) -> None:
        assert self.app is not None
        self.app.forget_all()
        self.forgotten |= set(self.kept) | set(self.kept_docs)
        self.kept.clear()
        self.kept_docs.clear()

    @rule(word=WORDS)
    def ask(self, word: str) -> None:
        assert self.app is not None
        events = list(self.app.ask(f"what do you know about the {word}?"))
        assert isinstance(events[-1], AnswerDone)

    @rule()
    def new_chat(self) -> None:
        assert self.app is not None
        self.app.session.new_conversation()

    @rule(pick=st.integers(min_value=0, max_value=5))
    def switch_chat(self, pick: int) -> None:
        assert self.app is not None
        chats = self.app.conversations.list()
        if chats:
            self.app.session.open(chats[pick % len(chats)].id)

    @rule()
    def restart(self) -> None:
        assert self.app is not None
        self.app.close()
        self.app = self.start()

    # ---- invariants --------------------------------------------------------------------------
    @invariant()
    def every_saved_chat_loads(self) -> None:
        store = ConversationStore(self.paths)
        for summary in store.list():
            store.load(summary.id)
        folder = self.paths.data / "conversations"
        files = [p for p in folder.glob("*.json") if p.stem != "state"] if folder.is_dir() else []
        assert len(files) == len(store.list())

    @invariant()
    def list_count_and_search_agree(self) -> None:
        if self.app is None:
            return
        listing = self.app.listing()
        assert {f.id for f in listing.facts} >= set(self.kept.values())  # nothing acknowledged lost
        texts = " ".join(f.text for f in listing.facts)
        for token in self.kept:
            assert token in texts
        sources = {d.source for d in listing.documents}
        assert {str(p) for p in self.kept_docs.values()} <= sources
        chunks = sum(d.chunks for d in listing.documents)
        assert listing.count == len(listing.facts) + chunks
        for token in list(self.kept)[-2:]:  # the newest ones are found by their own word
            assert any(token in h.text for h in self.app.engine.search(token, 10))

    @invariant()
    def forgotten_text_is_in_no_file(self) -> None:
        for token in self.forgotten:
            assert files_holding(self.paths.data, token) == [], token

    def teardown(self) -> None:
        if self.app is not None:
            self.app.close()
        shutil.rmtree(self.home, ignore_errors=True)


AppMachine.TestCase.settings = settings(
    max_examples=3 if os.environ.get("TERA_FAST_LANE") else 10,  # scripts/test.sh --fast: a taste
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
test_app_state_machine = AppMachine.TestCase
