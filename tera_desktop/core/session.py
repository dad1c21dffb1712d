"""A conversation with Tera: the one conversation engine, shared by the app and the CLI.

``ChatSession`` owns the turns of the open conversation and their persistence, the retrieval for
each turn (``retrieval.retrieve_in_conversation``: a follow-up is searched with its context, and
its sources must still be relevant to the question asked), the prompt (``prompts.plan_prompt``:
earlier turns as the KV-cached prefix, this turn's new references, the question last), reading
the prompt in small cancellable steps with progress, prefill while the user types (``prepare``),
and the answer checks (``checks.check_answer``).

``ask()`` is a generator of events (see ``assistant``), so the CLI prints them, the app turns them
into signals and tests collect them. Its ``finally`` records the turn: whatever happens (an
answer, Stop, an error, the app quitting mid-answer and closing the generator), the question is
kept and an answer is saved only when it has text; nothing empty is saved.

No Qt here. Thread-safety: ``ask`` and ``prepare`` run on worker threads, one ``ask`` at a time;
the conversation is changed under a lock, and readers get copies.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from tera_desktop.core.checks import AnswerCheck, check_answer, missing_answer_kind
from tera_desktop.core.conversations import (
    ROLE_ASSISTANT,
    ROLE_USER,
    ChatMessage,
    Conversation,
    ConversationStore,
    now_iso,
)
from tera_desktop.core.errors import GenerationError, ModelMissingError, TeraError
from tera_desktop.core.generator import GenerationStats, Generator, Sampling, SteppedGenerator
from tera_desktop.core.prompts import (
    NO_MEMORY_ANSWER,
    NO_MODEL_ANSWER,
    QUESTION_MARK,
    AnswerDone,
    AskEvent,
    PromptPlan,
    PromptState,
    PromptTurn,
    Reading,
    Source,
    SourcesFound,
    Token,
    commit_turn,
    not_in_memory_answer,
    plan_prompt,
    select_evidence,
    system_prompt,
    to_source,
)
from tera_desktop.core.redact import Forgotten, redact_conversation
from tera_desktop.core.retrieval import Retrieval, Turn, retrieve_in_conversation

if TYPE_CHECKING:  # the engine does not import sessions: no cycle
    from tera_desktop.core.engine import Engine

log = logging.getLogger("tera.session")

HISTORY_TURNS = 3  # earlier exchanges a follow-up's retrieval looks at
READ_AHEAD_SLACK = 2  # ranks a source read ahead may fall and still be used


class ChatSession:
    def __init__(
        self,
        engine: Engine,
        store: ConversationStore | None = None,
        conversation: Conversation | None = None,
        *,
        persist: bool = True,
    ) -> None:
        self.engine = engine
        # the saved chats (the engine's ``store`` is the memory): the one store of this home
        self.conversations = store or engine.conversations
        self.persist = persist  # False: a one-off question, never written to disk
        self._conversation = conversation or Conversation()
        self._prompt = self._prompt_state_of(self._conversation)
        self._lock = threading.RLock()
        self._asking = threading.Lock()
        self._prepared_order: tuple[str, ...] | None = None  # sources read ahead, in order
        self._prepared_evidence: dict[str, tuple[str, ...]] = {}  # and their sentences
        self._forgotten_meanwhile: list[Forgotten] = []  # forgets during an answer: redact it too
        self._rewritten = False  # the open conversation was redacted as its answer was recorded

    # ---- the open conversation -------------------------------------------------------------------
    @property
    def conversation(self) -> Conversation:
        """A copy of the open conversation (safe to read on any thread)."""
        with self._lock:
            return copy.deepcopy(self._conversation)

    @property
    def conversation_id(self) -> str:
        return self._conversation.id

    @property
    def busy(self) -> bool:
        return self._asking.locked()

    def new_conversation(self) -> Conversation:
        """Start a new, empty conversation (the open one is already saved)."""
        with self._lock:
            self._conversation = Conversation()
            self._prompt = PromptState()
            self._prepared_order, self._prepared_evidence = None, {}
            return copy.deepcopy(self._conversation)

    def open(self, conv_id: str) -> Conversation:
        """Open a saved conversation; it becomes the one the app reopens."""
        conv = self.conversations.load(conv_id)
        with self._lock:
            self._conversation = conv
            self._prompt = self._prompt_state_of(conv)
        self.conversations.set_last(conv.id)
        return copy.deepcopy(conv)

    def restore_last(self) -> Conversation | None:
        """Open the conversation used last, unless a question was already asked in this one
        (a question asked while the memory was opening is never replaced)."""
        with self._lock:
            if self._conversation.messages:
                return None
        last = self.conversations.last()
        if last is None:
            return None
        with self._lock:
            if self._conversation.messages:
                return None
            self._conversation = last
            self._prompt = self._prompt_state_of(last)
            return copy.deepcopy(last)

    def rename_open(self, title: str) -> None:
        """Name the open conversation (saved with its first answer)."""
        with self._lock:
            self._conversation.title = " ".join(title.split())

    def rename(self, conv_id: str, title: str) -> None:
        with self._lock:
            if conv_id == self._conversation.id:
                self._conversation.title = " ".join(title.split())
        self.conversations.rename(conv_id, title)

    def delete(self, conv_id: str) -> bool:
        """Delete a conversation; deleting the open one opens a new, empty one."""
        with self._lock:
            if conv_id == self._conversation.id:
                self._conversation = Conversation()
                self._prompt = PromptState()
        return self.conversations.delete(conv_id)

    def apply_forgotten(self, forgotten: Forgotten) -> bool:
        """Something was forgotten: redact the open conversation in memory as its saved file was
        (``core/redact.py``), so that saving it again never brings the forgotten text back. An
        answer being written now is redacted when it is recorded. True if anything changed."""
        with self._lock:
            if self.busy:
                self._forgotten_meanwhile.append(forgotten)
            changed = redact_conversation(self._conversation, forgotten)
            if changed:
                self._prompt = self._prompt_state_of(self._conversation)
                self._prepared_order, self._prepared_evidence = None, {}
            return bool(changed)

    def take_rewritten(self) -> bool:
        """Whether the answer just recorded was redacted (something it used was forgotten while
        it was written): the front end shows the conversation again. Resets the flag."""
        with self._lock:
            rewritten, self._rewritten = self._rewritten, False
            return rewritten

    @staticmethod
    def saved_sources(message: ChatMessage) -> list[Source]:
        """A saved answer's sources as ``Source`` objects. Tolerant: a missing field gets its
        default and unknown ones are dropped, so an old or redacted chat always loads whole."""
        known = Source.__dataclass_fields__
        sources: list[Source] = []
        for i, saved in enumerate(message.sources, 1):
            fields: dict[str, Any] = {k: v for k, v in saved.items() if k in known}
            fields["evidence"] = tuple(str(e) for e in fields.get("evidence") or ())
            number = fields.get("number")
            fields["number"] = number if isinstance(number, int) and number > 0 else i
            for name in ("id", "kind", "source", "text", "created_at"):
                fields[name] = str(fields.get(name) or "")
            score = fields.get("score")
            fields["score"] = float(score) if isinstance(score, int | float) else 0.0
            sources.append(Source(**fields))
        return sources

    @staticmethod
    def _prompt_state_of(conv: Conversation) -> PromptState:
        """The prompt of a conversation loaded from disk: its exchanges as plain text (their
        references were not kept, so numbering starts again)."""
        state = PromptState()
        question: str | None = None
        for m in conv.messages:
            if m.role == ROLE_USER:
                question = m.text
            elif question is not None and m.text and not m.no_memory and not m.error:
                state.turns.append(PromptTurn(f"{QUESTION_MARK} {question}", m.text))
                question = None
        return state

    def history(self) -> list[Turn]:
        """The recent exchanges, as follow-up retrieval sees them."""
        with self._lock:
            messages = list(self._conversation.messages)
        turns: list[Turn] = []
        question: ChatMessage | None = None
        for m in messages:
            if m.role == ROLE_USER:
                if question is not None:
                    turns.append(Turn(question.text, "", question.query))
                question = m
            elif question is not None:
                texts = tuple(str(s.get("text", "")) for s in m.sources)
                answer = "" if (m.no_memory or m.error) else m.text
                turns.append(Turn(question.text, answer, question.query, texts))
                question = None
        return turns[-HISTORY_TURNS:]

    # ---- retrieval -------------------------------------------------------------------------------
    def find(
        self,
        question: str,
        *,
        top_k: int | None = None,
        today: date | None = None,
        history: list[Turn] | None = None,
    ) -> Retrieval:
        """The memories for ``question`` in the context of this conversation."""
        engine = self.engine
        s = engine.settings
        return retrieve_in_conversation(
            question,
            self.history() if history is None else history,
            engine.embedder,
            engine.store,
            top_k=top_k or s.top_k,
            min_score=s.min_score,
            mode=s.retrieval,
            today=today,
        )

    # ---- asking ----------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        cancel: threading.Event | None = None,
        sampling: Sampling | None = None,
        top_k: int | None = None,
        search_only: bool = False,
        today: date | None = None,
    ) -> Iterator[AskEvent]:
        """Answer ``question`` as the next turn of the conversation (see the module doc)."""
        question = question.strip()
        if not question:
            raise GenerationError("The question is empty.")
        if not self._asking.acquire(blocking=False):
            raise GenerationError("Tera is still answering the previous question.")
        cancel = cancel or threading.Event()
        user = ChatMessage(role=ROLE_USER, text=question, created_at=now_iso())
        with self._lock:  # the turn belongs to this conversation even if another is opened
            conv, prompt = self._conversation, self._prompt
            history = self.history()
            conv.add(user)  # at once: a conversation with a question is never replaced
        state: dict[str, Any] = {
            "parts": [], "done": None, "sources": [], "error": "", "conv": conv, "prompt": prompt,
            "history": history,
        }  # fmt: skip
        try:
            yield from self._answer(
                question, user, cancel, sampling, top_k, search_only, today, state
            )
        except GeneratorExit:
            state["stopped"] = True
            raise
        except TeraError as exc:
            state["error"] = str(exc)
            state["limit"] = getattr(exc, "reason", "") in ("timeout", "deadline", "too-long")
            raise
        except Exception as exc:
            state["error"] = f"Something went wrong: {exc!r}"
            raise
        finally:
            try:
                self._record(user, state)
            finally:
                self._asking.release()

    def _answer(
        self,
        question: str,
        user: ChatMessage,
        cancel: threading.Event,
        sampling: Sampling | None,
        top_k: int | None,
        search_only: bool,
        today: date | None,
        state: dict[str, Any],
    ) -> Iterator[AskEvent]:
        engine = self.engine
        k = top_k or engine.settings.top_k
        prepared = self._prepared_order
        # with a prompt read ahead while typing, look a little deeper: when the sources it read
        # are all still among the best, they are kept, so what was read stays valid
        found = self.find(
            question, top_k=k + READ_AHEAD_SLACK if prepared else k, today=today,
            history=state["history"],
        )  # fmt: skip
        user.query = found.query
        hits = found.hits[:k]
        if prepared and len(prepared) <= k and {h.id for h in found.hits} >= set(prepared):
            hits = [h for h in found.hits if h.id in set(prepared)]
        if not hits:
            state["done"] = done = AnswerDone(
                NO_MEMORY_ANSWER, [], no_memory=True, retrieval_s=found.elapsed_s, query=found.query
            )
            yield SourcesFound([], found.query)
            yield Token(NO_MEMORY_ANSWER)
            yield done
            return
        # instant evidence: the best sentences of each source, before any model work
        evidence_query = f"{question} {found.query}"
        sources = [
            to_source(i, h, select_evidence(evidence_query, h.text)) for i, h in enumerate(hits, 1)
        ]
        state["sources"] = sources
        yield SourcesFound(sources, found.query)
        texts = [h.text for h in hits]
        missing = missing_answer_kind(question, texts)
        if missing or search_only:
            text = not_in_memory_answer(missing, sources) if missing else NO_MODEL_ANSWER
            state["done"] = done = AnswerDone(
                text, sources, retrieval_s=found.elapsed_s, query=found.query
            )
            yield Token(text)
            yield done
            return
        generator: Generator = engine.generator
        if generator is None:  # pragma: no cover - engine raises ModelMissingError itself
            raise ModelMissingError("No language model is loaded, so Tera cannot answer.")
        sampling = sampling or engine.sampling()
        history = state["prompt"] if generator.follows_conversations else None
        with self._lock:
            plan = plan_prompt(
                question,
                hits,
                generator,
                history if history is not None else PromptState(),
                max_answer_tokens=sampling.max_tokens,
                today=today,
                focus=evidence_query,
                order=self._prepared_order,
                evidence=self._prepared_evidence,
            )
            self._prepared_order, self._prepared_evidence = None, {}
        state["plan"] = plan
        if [s.number for s in plan.sources] != [s.number for s in sources] or len(
            plan.sources
        ) != len(sources):
            sources = plan.sources
            state["sources"] = sources
            yield SourcesFound(sources, found.query)
        stats = GenerationStats()
        state["stats"] = stats
        t0 = time.perf_counter()
        if generator.capabilities.reads_in_steps:
            stepped = cast(SteppedGenerator, generator)
            tokens = stepped.tokens_for(plan.messages)
            for done_n, total in stepped.prefill_steps(tokens, cancel=cancel, stats=stats):
                if total:
                    yield Reading(done_n, total, len(sources))
                if cancel.is_set():
                    state["stopped"] = True
                    state["done"] = self._finish(question, plan, [], stats, found, cancel=True)
                    yield state["done"]
                    return
        stream = generator.stream(plan.messages, sampling, cancel=cancel, stats=stats)
        try:
            for piece in stream:
                state["parts"].append(piece)
                yield Token(piece)
                if cancel.is_set():
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        stats.timings["prompt_read_s"] = time.perf_counter() - t0
        state["done"] = self._finish(
            question, plan, state["parts"], stats, found, cancel=cancel.is_set()
        )
        yield state["done"]

    def _finish(
        self,
        question: str,
        plan: PromptPlan,
        parts: list[str],
        stats: GenerationStats,
        found: Retrieval,
        *,
        cancel: bool,
    ) -> AnswerDone:
        raw = "".join(parts).strip()
        cut = stats.finish_reason == "length" and not cancel
        by_number = {s.number: s for s in plan.sources}
        valid = set(by_number)  # the sources shown with this answer
        text, check = check_answer(
            raw,
            valid_citations=valid,
            source_texts=[s.text for s in plan.sources],
            question=question,
            instructions=system_prompt(),
            cut=cut,
            superseded_texts=[h.text for h in found.superseded],
        )
        stopped = cancel or stats.stopped
        return AnswerDone(
            text,
            list(plan.sources),
            stopped=stopped,
            stats=stats,
            retrieval_s=found.elapsed_s,
            query=found.query,
            checks=check,
            cut=cut,
            raw_text=raw,
        )

    def _record(self, user: ChatMessage, state: dict[str, Any]) -> None:
        """Keep the turn: the question always; the answer when it has text (or an error)."""
        done: AnswerDone | None = state.get("done")
        conv: Conversation = state["conv"]
        with self._lock:
            if not any(m is user for m in conv.messages):
                conv.add(user)
            if done is not None:
                text, sources, stopped = done.text, done.sources, done.stopped
                checks, cut, no_memory = done.checks, done.cut, done.no_memory
                raw = done.raw_text
            else:  # closed mid-answer (Stop, quitting) or failed
                raw = "".join(state["parts"]).strip()
                text, sources = raw, state.get("sources") or []
                # a limit that cut a started answer (a stalling server…) stops it, with the reason
                stopped = (
                    bool(state.get("stopped"))
                    or not state["error"]
                    or bool(raw and state.get("limit"))
                )
                checks, cut, no_memory = AnswerCheck(), False, False
            if text or state["error"]:
                conv.add(
                    ChatMessage(
                        role=ROLE_ASSISTANT,
                        text=text,
                        created_at=now_iso(),
                        sources=[asdict(s) for s in sources],
                        stopped=stopped,
                        no_memory=no_memory,
                        error=state["error"],
                        cut=cut,
                        checks=checks.as_json(),
                    )
                )
                plan = state.get("plan")
                if plan is not None and raw:
                    commit_turn(state["prompt"], plan, raw)
            forgotten, self._forgotten_meanwhile = self._forgotten_meanwhile, []
            for what in forgotten:  # forgotten while this answer was written: not saved again
                if redact_conversation(conv, what) and conv is self._conversation:
                    self._prompt = self._prompt_state_of(conv)
                    self._rewritten = True
            snapshot = copy.deepcopy(conv)
        if not self.persist:
            return
        try:
            self.conversations.save(snapshot)
        except (OSError, TeraError) as exc:  # a full disk must not lose the answer on screen
            log.error("cannot save the conversation: %s", exc)
            state["save_error"] = str(exc)

    # ---- reading ahead while the user types ------------------------------------------------------
    def prepare(
        self,
        partial: str,
        *,
        cancel: threading.Event | None = None,
        top_k: int | None = None,
        today: date | None = None,
    ) -> Iterator[Reading]:
        """Read ahead for a question being typed: retrieve with what is typed so far and evaluate
        the prompt up to the question in small batches (cancel between batches). When the final
        question finds the same sources, only the question is left to read after Enter."""
        partial = " ".join(partial.split())
        if len(partial) < 3 or self._asking.locked():
            return
        engine = self.engine
        if not engine.generator_loaded:
            return
        generator = engine.generator
        if not generator.capabilities.reuses_prefix:
            return  # nothing read ahead would be kept
        stepped = cast(SteppedGenerator, generator)
        found = self.find(partial, top_k=top_k, today=today)
        if not found.hits or (cancel is not None and cancel.is_set()):
            return
        query = f"{partial} {found.query}"
        with self._lock:  # a draft: nothing is committed while typing
            state = (
                copy.deepcopy(self._prompt) if generator.follows_conversations else PromptState()
            )
        plan = plan_prompt(
            partial,
            found.hits,
            generator,
            state,
            max_answer_tokens=engine.settings.max_answer_tokens,
            today=today,
            focus=query,
        )
        tokens = stepped.prefix_tokens(plan.messages, QUESTION_MARK)
        self._prepared_order = tuple(s.id for s in sorted(plan.sources, key=lambda s: s.number))
        self._prepared_evidence = {s.id: s.evidence for s in plan.sources}
        for done_n, total in stepped.prefill_steps([*tokens, 0], cancel=cancel):
            yield Reading(done_n, total, len(plan.sources))


def ask_once(
    engine: Engine,
    question: str,
    *,
    cancel: threading.Event | None = None,
    sampling: Sampling | None = None,
    top_k: int | None = None,
    search_only: bool = False,
) -> Iterator[AskEvent]:
    """One question asked alone (not kept): a fresh, unsaved session."""
    session = ChatSession(engine, persist=False)
    yield from session.ask(
        question, cancel=cancel, sampling=sampling, top_k=top_k, search_only=search_only
    )


def answer_json(done: AnswerDone | None, sources: list[Source]) -> dict[str, Any]:
    """The stable JSON shape of an answer (``tera ask --json``)."""
    return {
        "answer": done.text if done else "",
        "query": done.query if done else "",
        "no_memory": bool(done and done.no_memory),
        "stopped": bool(done and done.stopped),
        "cut": bool(done and done.cut),
        "checks": (done.checks if done else AnswerCheck()).as_json(),
        "sources": [
            {
                "n": s.number,
                "id": s.id,
                "kind": s.kind,
                "source": s.source,
                "label": s.label,
                "score": round(s.score, 6),
                "text": s.text,
                "evidence": list(s.evidence),
                "created_at": s.created_at,
            }
            for s in sources
        ],
    }
