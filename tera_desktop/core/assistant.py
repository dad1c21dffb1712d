"""Answering: retrieve the relevant memories, build a grounded prompt, stream the answer.

``ask()`` is a generator of events: ``SourcesFound`` first (the numbered memories the answer may
use), then ``Token``s as the model writes, then ``AnswerDone``. When no memory is relevant enough it
says so plainly instead of letting the model invent an answer, and the model is not run at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tera_desktop.core.embedder import Embedder
from tera_desktop.core.errors import GenerationError, ModelMissingError
from tera_desktop.core.generator import GenerationStats, Generator, Message, Sampling
from tera_desktop.core.query_filters import distinctive_terms, extract_filters, mentions
from tera_desktop.core.store import KIND_DOCUMENT, Hit, MemoryStore

SYSTEM_PROMPT = (
    "You are a friendly and helpful AI assistant named Tera. Today is {today}. "
    "Answer the user's question using only the numbered references from their memory. "
    "Cite the references you use like [1]. If the references do not contain the answer, "
    "say that you don't know. Be very concise and to the point; "
    "do not repeat the question or the references."
)
NO_MEMORY_ANSWER = (
    "I don't have anything in my memory about that. "
    "Teach me with “Remember…” or add a document, then ask again."
)
_TEMPLATE_MARGIN = 48  # tokens the chat template adds around the messages


@dataclass(frozen=True)
class Source:
    number: int
    id: str
    kind: str
    source: str
    score: float
    text: str
    created_at: str
    title: str = ""
    page: int | None = None

    @property
    def label(self) -> str:
        if self.kind == KIND_DOCUMENT:
            name = Path(self.source).name or self.title
            return f"{name} (p. {self.page})" if self.page else name
        return "fact"


@dataclass(frozen=True)
class SourcesFound:
    sources: list[Source]


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class AnswerDone:
    text: str
    sources: list[Source]
    no_memory: bool = False
    stopped: bool = False
    stats: GenerationStats = field(default_factory=GenerationStats)
    retrieval_s: float = 0.0


AskEvent = SourcesFound | Token | AnswerDone


def system_prompt(today: date | None = None) -> str:
    day = today or date.today()
    return SYSTEM_PROMPT.format(today=day.strftime("%A, %d %B %Y"))


def _reference(source: Source, text: str) -> str:
    if source.kind == KIND_DOCUMENT:
        return f"[{source.number}] (from {source.label}) {text}"
    return f"[{source.number}] (remembered {source.created_at[:10]}) {text}"


def _truncate(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    if count(text) <= max_tokens:
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # the longest word prefix that fits
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + " …"


def to_source(number: int, hit: Hit) -> Source:
    page = hit.extra.get("page")
    return Source(
        number=number,
        id=hit.id,
        kind=hit.kind,
        source=hit.source,
        score=hit.score,
        text=hit.text,
        created_at=hit.created_at,
        title=str(hit.extra.get("title") or ""),
        page=int(page) if isinstance(page, int) else None,
    )


def build_messages(
    question: str,
    hits: Sequence[Hit],
    generator: Generator,
    *,
    max_answer_tokens: int,
    today: date | None = None,
) -> tuple[list[Message], list[Source]]:
    """The chat messages, with as many numbered sources as fit the context window."""
    system = system_prompt(today)
    count = generator.count_tokens
    # Room kept for the answer: all of it in a big context; in a small one at most a quarter, so
    # the sources always get space (the answer may then use whatever the prompt leaves free).
    answer_room = min(max_answer_tokens, max(64, generator.n_ctx // 4))
    budget = generator.n_ctx - answer_room - count(system) - count(question) - _TEMPLATE_MARGIN
    sources: list[Source] = []
    refs: list[str] = []
    for hit in hits:
        source = to_source(len(sources) + 1, hit)
        ref = _reference(source, hit.text)
        need = count(ref) + 2
        if need > budget:
            if sources:  # keep the best ones whole; cut only a lone first one
                break
            if budget < 48:
                raise GenerationError(
                    f"The model's context ({generator.n_ctx} tokens) is too small for this "
                    "question and its sources.",
                    "Ask a shorter question or raise the context size in Settings.",
                )
            ref = _reference(source, _truncate(hit.text, budget - 32, count))
            need = budget
        sources.append(source)
        refs.append(ref)
        budget -= need
    user = "References:\n" + "\n".join(refs) + f"\n\nQuestion: {question.strip()}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], sources


def retrieve(
    question: str,
    embedder: Embedder,
    store: MemoryStore,
    top_k: int,
    min_score: float | None,
    today: date | None = None,
    mode: str = "dense",
) -> list[Hit]:
    """The top-k relevant memories. ``mode``: "dense", "keyword", "hybrid" or "expanded" (see
    ``MemoryStore.search``). A memory counts as relevant when its similarity reaches
    ``min_score`` or, in the modes that use keywords, when it contains an exact name, number or ID
    from the question. When the question names chat senders or a period, chunks matching those
    filters come first; an unfiltered search fills the rest."""
    vector = embedder.embed_query(question)
    filters = extract_filters(question, store.senders(), today)
    terms = distinctive_terms(question) if mode != "dense" else []

    def relevant(hit: Hit) -> bool:
        if min_score is None or mode == "dense":
            return True  # dense mode applies the threshold in the store
        if mode == "keyword":
            return mentions(hit.text, terms) or (hit.score > 0 and not terms)
        return hit.score >= min_score or mentions(hit.text, terms)

    def search(**kw: object) -> list[Hit]:
        found = store.search(
            vector,
            top_k,
            min_score=min_score,
            text=question,
            mode=mode,
            **kw,  # type: ignore[arg-type]
        )
        return [h for h in found if relevant(h)]

    hits: list[Hit] = []
    if filters:
        hits = search(
            senders=filters.senders or None, date_from=filters.date_from, date_to=filters.date_to
        )
        if len(hits) >= top_k:
            return hits
    seen = {h.id for h in hits}
    for hit in search():
        if hit.id not in seen and len(hits) < top_k:
            hits.append(hit)
    return hits


def ask(
    question: str,
    *,
    embedder: Embedder,
    store: MemoryStore,
    generator: Generator | Callable[[], Generator] | None,
    sampling: Sampling,
    top_k: int = 4,
    min_score: float | None = None,
    cancel: threading.Event | None = None,
    today: date | None = None,
    mode: str = "dense",
) -> Iterator[AskEvent]:
    """Retrieve, then stream a grounded answer. ``generator`` may be a loader called only when the
    model is needed (so "nothing in memory" never waits for a model to load), or None when there is
    no model (then it raises ``ModelMissingError`` if an answer needs one)."""
    question = question.strip()
    if not question:
        raise GenerationError("The question is empty.")
    t0 = time.perf_counter()
    threshold = embedder.min_score if min_score is None else min_score
    hits = retrieve(question, embedder, store, top_k, threshold, today, mode)
    retrieval_s = time.perf_counter() - t0
    if not hits:
        yield SourcesFound([])
        yield Token(NO_MEMORY_ANSWER)
        yield AnswerDone(NO_MEMORY_ANSWER, [], no_memory=True, retrieval_s=retrieval_s)
        return
    if callable(generator) and not isinstance(generator, Generator):
        generator = generator()
    if generator is None:
        raise ModelMissingError(
            "No language model is loaded, so Tera cannot answer.",
            "Download one with `tera models download dolphin-2.6-phi-2` or import a .gguf file.",
        )
    messages, sources = build_messages(
        question, hits, generator, max_answer_tokens=sampling.max_tokens, today=today
    )
    yield SourcesFound(sources)
    stats = GenerationStats()
    parts: list[str] = []
    stream = generator.stream(messages, sampling, cancel=cancel, stats=stats)
    try:
        for piece in stream:
            parts.append(piece)
            yield Token(piece)
            if cancel is not None and cancel.is_set():
                break
    finally:
        if hasattr(stream, "close"):
            stream.close()
    stopped = stats.stopped or bool(cancel is not None and cancel.is_set())
    yield AnswerDone(
        "".join(parts).strip(), sources, stopped=stopped, stats=stats, retrieval_s=retrieval_s
    )
