"""Prompt building for grounded answers: the sources' evidence, the numbered references, the turns.

The conversation engine (``core/session.py``) uses these pieces; the events it yields are defined
here: ``SourcesFound`` first (the numbered memories, each with the sentences that best match the
question: shown before the model writes), ``Reading`` while the model reads its prompt, ``Token``s
as it writes, then ``AnswerDone`` with the checked answer.

The prompt is built for llama.cpp's KV cache: the system prompt, then the earlier turns exactly as
they were sent, then this turn's references and the question last, so a follow-up evaluates only
its own turn. References are numbered 1..n by rank (small models lean on the first one); a prompt
read ahead while the question was typed keeps its order when the final question finds the same
sources, so what was read stays valid. Each reference carries only the sentences of its chunk that
best match the question (the whole chunk stays one click away in the app).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tera_desktop.core.checks import AnswerCheck
from tera_desktop.core.clock import format_clock
from tera_desktop.core.errors import GenerationError
from tera_desktop.core.generator import GenerationStats, Generator, Message
from tera_desktop.core.retrieval import content_words
from tera_desktop.core.store import KIND_DOCUMENT, Hit
from tera_desktop.core.supersede import is_superseded, status_note

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
NO_MODEL_ANSWER = "No language model is loaded, so here are the memories that match your question."
QUESTION_MARK = "Question:"
_TEMPLATE_MARGIN = 48  # tokens the chat template adds around the messages
EVIDENCE_SENTENCES = 2  # sentences of a chunk sent to the model
EVIDENCE_MAX_CHARS = 240  # ~55 tokens: a reference's evidence, at most


def not_in_memory_answer(words: str, sources: Sequence[Source]) -> str:
    """The honest answer when the sources are on the topic but cannot hold the answer."""
    cites = "".join(f"[{s.number}]" for s in sources[:3])
    return (
        f"My memory has notes on this {cites}, but none of them says {words}. "
        "If you know it, teach me with “Remember…”."
    )


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
    evidence: tuple[str, ...] = ()  # the sentences of ``text`` that best match the question
    start_s: float | None = None  # audio: where the chunk starts and ends in the recording
    end_s: float | None = None
    ocr: bool = False  # the text was read from an image by OCR
    status: str = ""  # a fact's standing: "superseded on …", "current; it replaces …"

    @property
    def label(self) -> str:
        if self.kind == KIND_DOCUMENT:
            name = Path(self.source).name or self.title
            if self.start_s is not None:
                end = f"–{format_clock(self.end_s)}" if self.end_s is not None else ""
                return f"{name} {format_clock(self.start_s)}{end}"
            if self.page:
                return f"{name} (p. {self.page}{', OCR' if self.ocr else ''})"
            return f"{name} (OCR)" if self.ocr else name
        return "fact"


@dataclass(frozen=True)
class SourcesFound:
    sources: list[Source]
    query: str = ""  # the standalone query retrieval used (a follow-up gets its context)


@dataclass(frozen=True)
class Reading:
    """The model is reading its prompt: ``done`` of ``total`` new tokens evaluated."""

    done: int
    total: int
    sources: int = 0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


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
    query: str = ""
    checks: AnswerCheck = field(default_factory=AnswerCheck)
    cut: bool = False
    raw_text: str = ""  # what the model wrote, before the checks


AskEvent = SourcesFound | Reading | Token | AnswerDone


def system_prompt(today: date | None = None) -> str:
    day = today or date.today()
    return SYSTEM_PROMPT.format(today=day.strftime("%A, %d %B %Y"))


_SENTENCE = re.compile(r"(?<=[.!?…])[\"'”)\]]*\s+(?=[^\s])|\n\s*\n|\n(?=\s*[-*•#\d])")


_GOES_ON = re.compile(r"(?:she|he|it|they|this|that|these|those|there|its|their|his|her)\b", re.I)


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (and list items and paragraphs), whitespace collapsed."""
    out = []
    for part in _SENTENCE.split(text):
        part = " ".join(part.split())
        if part:
            out.append(part)
    return out


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word


def select_evidence(
    question: str,
    text: str,
    *,
    max_sentences: int = EVIDENCE_SENTENCES,
    max_chars: int = EVIDENCE_MAX_CHARS,
) -> tuple[str, ...]:
    """The sentences of ``text`` that best match ``question``, in their order in the text.

    Scored by the question's words they share (a crude stem: the first five letters), rarer and
    longer words counting more; ties go to the earlier sentence. A text that already fits is kept
    whole. With no shared word, the first sentences (a chunk's opening names its subject)."""
    parts = sentences(text)
    if not parts:
        return ()
    if len(" ".join(parts)) <= max_chars and len(parts) <= max_sentences + 1:
        return tuple(parts)
    want = {_stem(w) for w in content_words(question)}
    scored = []
    for i, part in enumerate(parts):
        have = {_stem(w) for w in content_words(part)}
        score = sum(1.0 + min(len(w), 8) / 8 for w in want & have)
        scored.append((score, -i))
    best = sorted(range(len(parts)), key=lambda i: scored[i], reverse=True)
    if scored[best[0]][0] == 0:
        best = list(range(len(parts)))
    else:  # only sentences that match; one that goes on about it ("She…", "It…") follows
        best = [i for i in best if scored[i][0] > 0]
        follow = best[0] + 1
        if len(best) < max_sentences and follow < len(parts) and _GOES_ON.match(parts[follow]):
            best.append(follow)
    chosen: list[int] = []
    used = 0
    for i in best[:max_sentences]:
        if chosen and used + len(parts[i]) > max_chars:
            break
        chosen.append(i)
        used += len(parts[i])
    picked = [parts[i] for i in sorted(chosen)]
    if picked and len(picked[0]) > max_chars:
        cut = picked[0][:max_chars].rsplit(" ", 1)[0]
        picked[0] = cut + " …"
    return tuple(picked)


def to_source(number: int, hit: Hit, evidence: Sequence[str] = ()) -> Source:
    page = hit.extra.get("page")
    start, end = hit.extra.get("start_s"), hit.extra.get("end_s")
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
        evidence=tuple(evidence),
        start_s=float(start) if isinstance(start, int | float) else None,
        end_s=float(end) if isinstance(end, int | float) else None,
        ocr=bool(hit.extra.get("ocr")),
        status=status_note(hit),
    )


def reference_line(source: Source, text: str | None = None) -> str:
    """How a source is shown to the model: "[2] dentist.md: …" or "[3] fact (2026-03-01): …"."""
    body = text if text is not None else " ".join(source.evidence) or source.text
    body = " ".join(body.split())
    if source.kind == KIND_DOCUMENT:
        return f"[{source.number}] {source.label}: {body}"
    status = f"; {source.status}" if source.status else ""  # which fact is current, since when
    return f"[{source.number}] fact ({source.created_at[:10]}{status}): {body}"


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


@dataclass
class PromptTurn:
    """One earlier exchange exactly as it was sent (so the KV cache still holds it)."""

    user: str
    answer: str
    numbers: tuple[int, ...] = ()  # the references this turn introduced
    tokens: int = 0


@dataclass
class PromptState:
    """A conversation's prompt so far: its turns exactly as they were sent."""

    turns: list[PromptTurn] = field(default_factory=list)

    def drop_references(self) -> None:
        """Take the earlier turns' references out of the prompt (to make room)."""
        for turn in self.turns:
            if turn.numbers:
                turn.user = turn.user[turn.user.rfind(QUESTION_MARK) :]
                turn.numbers = ()
                turn.tokens = 0


@dataclass(frozen=True)
class PromptPlan:
    messages: list[Message]
    sources: list[Source]  # this turn's sources with their numbers, in rank order
    user: str  # this turn's user content
    numbers: tuple[int, ...]  # the references this turn introduces
    new_refs: dict[tuple[str, str], int]


def number_sources(
    focus: str,
    hits: Sequence[Hit],
    order: Sequence[str] | None = None,
    evidence: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[list[Source], dict[tuple[str, str], int]]:
    """This turn's sources numbered 1..n in the order they are sent: by rank (the best first:
    small models lean on the first reference), or in ``order`` (the ids of a prompt read ahead
    while the question was typed) when it holds exactly these sources, so that prefix stays
    valid; ``evidence`` (id → sentences) then keeps the sentences chosen while typing too.
    Returned in rank order."""
    ranked = list(hits)
    ids = [h.id for h in ranked]
    kept = evidence or {}
    if order is None or sorted(order) != sorted(ids):
        kept = {}
    else:
        position = {hit_id: i for i, hit_id in enumerate(order)}
        ranked.sort(key=lambda h: position[h.id])
    numbered: dict[str, Source] = {}
    new: dict[tuple[str, str], int] = {}
    # "current; it replaces an older fact" only matters next to the older fact: alone, it is
    # noise a small model copies as the answer ("The answer is: current")
    with_older = any(is_superseded(h) for h in ranked)
    for number, hit in enumerate(ranked, 1):
        chosen = kept.get(hit.id) or select_evidence(focus, hit.text)
        source = to_source(number, hit, chosen)
        if not with_older and source.status and not is_superseded(hit):
            source = dataclasses.replace(source, status="")
        numbered[hit.id] = source
        new[(hit.id, " ".join(chosen))] = number
    return [numbered[h.id] for h in hits], new


def plan_prompt(
    question: str,
    hits: Sequence[Hit],
    generator: Generator,
    state: PromptState,
    *,
    max_answer_tokens: int,
    today: date | None = None,
    focus: str | None = None,
    order: Sequence[str] | None = None,
    evidence: Mapping[str, tuple[str, ...]] | None = None,
) -> PromptPlan:
    """The messages for this turn: the earlier turns, then this turn's references and the question.
    ``focus`` (default: the question) picks each source's evidence sentences; a follow-up passes
    the question with its context. ``order``: see ``number_sources``.
    When the context is full, the earlier turns' references leave first, then the oldest turns;
    with no room for any earlier turn, the question goes alone with the sources that fit."""
    system = system_prompt(today)
    count = generator.count_tokens
    question = question.strip()
    answer_room = min(max_answer_tokens, max(64, generator.n_ctx // 4))
    budget = generator.n_ctx - answer_room - count(system) - count(question) - _TEMPLATE_MARGIN
    while True:
        sources, new = number_sources(focus or question, hits, order, evidence)
        lines: list[str] = []
        cost = 0
        for source in sorted(sources, key=lambda s: s.number):
            line = reference_line(source)
            cost += count(line) + 2
            lines.append(line)
        for turn in state.turns:
            if not turn.tokens:
                turn.tokens = count(turn.user) + count(turn.answer) + 8
        if cost + sum(t.tokens for t in state.turns) <= budget:
            break
        if any(t.numbers for t in state.turns):
            state.drop_references()
        elif state.turns:
            state.turns.pop(0)
        else:
            return _fit_alone(question, sources, generator, budget, system)
    user = ("References:\n" + "\n".join(lines) + "\n\n" if lines else "") + (
        f"{QUESTION_MARK} {question}"
    )
    messages: list[Message] = [{"role": "system", "content": system}]
    for turn in state.turns:
        messages.append({"role": "user", "content": turn.user})
        messages.append({"role": "assistant", "content": turn.answer})
    messages.append({"role": "user", "content": user})
    return PromptPlan(messages, sources, user, tuple(sorted(new.values())), new)


def _fit_alone(
    question: str, sources: list[Source], generator: Generator, budget: int, system: str
) -> PromptPlan:
    """The question alone, with the sources that fit (a lone first one is cut, not dropped)."""
    count = generator.count_tokens
    kept: list[Source] = []
    lines: list[str] = []
    for source in sorted(sources, key=lambda s: s.number):
        line = reference_line(source)
        need = count(line) + 2
        if need > budget:
            if kept:
                continue
            if budget < 48:
                raise GenerationError(
                    f"The model's context ({generator.n_ctx} tokens) is too small for this "
                    "question and its sources.",
                    "Ask a shorter question or raise the context size in Settings.",
                )
            body = " ".join(source.evidence) or source.text
            line = reference_line(source, _truncate(body, budget - 32, count))
            need = budget
        lines.append(line)
        budget -= need
        kept.append(source)
    # renumber 1..n in the order sent, so the citations match what the model sees
    renumbered = {s.id: i for i, s in enumerate(kept, 1)}
    lines = [re.sub(r"^\[\d+\]", f"[{i}]", line) for i, line in enumerate(lines, 1)]
    order = {s.id: i for i, s in enumerate(sources)}
    final = sorted((replace_number(s, renumbered[s.id]) for s in kept), key=lambda s: order[s.id])
    user = "References:\n" + "\n".join(lines) + f"\n\n{QUESTION_MARK} {question}"
    messages: list[Message] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    new = {(s.id, " ".join(s.evidence)): s.number for s in final}
    return PromptPlan(messages, final, user, tuple(sorted(new.values())), new)


def replace_number(source: Source, number: int) -> Source:
    from dataclasses import replace

    return replace(source, number=number)


def commit_turn(state: PromptState, plan: PromptPlan, answer: str) -> None:
    """Record a finished turn (its exact user content and the model's raw answer)."""
    state.turns.append(PromptTurn(plan.user, answer, plan.numbers))


def build_messages(
    question: str,
    hits: Sequence[Hit],
    generator: Generator,
    *,
    max_answer_tokens: int,
    today: date | None = None,
) -> tuple[list[Message], list[Source]]:
    """The messages for a question asked alone, with as many numbered sources as fit."""
    plan = plan_prompt(
        question, hits, generator, PromptState(), max_answer_tokens=max_answer_tokens, today=today
    )
    return plan.messages, plan.sources
