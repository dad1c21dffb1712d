"""Split text into chunks of at most ``max_tokens`` on paragraph, then sentence, then word
boundaries, with a small overlap of whole sentences between neighbouring chunks."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

from tera_desktop.core.errors import Cancelled

TokenCounter = Callable[[str], int]

_WORDISH = re.compile(r"\w+|[^\w\s]")
_PARAGRAPHS = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? … (optionally followed by quotes/brackets) and whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")
_GROUP = 16  # words counted together while a run is far from full


MAX_CHARS_PER_TOKEN = 12  # prose has 4-5 characters per token: a longer "token" is a blob


def _bounded(count: TokenCounter) -> TokenCounter:
    """``count``, but never fewer than one token per ``MAX_CHARS_PER_TOKEN`` characters: a
    2 MB line of base64 (one "word", two tokens by ``approx_tokens``) is cut into chunk-sized
    slices instead of being stored as one 2,000,000-character chunk."""

    def bounded(text: str) -> int:
        return max(count(text), -(-len(text) // MAX_CHARS_PER_TOKEN))

    return bounded


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (words and punctuation marks; WordPiece/BPE give a few more)."""
    return int(len(_WORDISH.findall(text)) * 1.3) + 1


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _fits(text: str, max_tokens: int, count: TokenCounter) -> bool:
    """Whether ``text`` is at most ``max_tokens``; text with more words than that is too long
    without asking the tokenizer (every word is at least one token)."""
    if len(text) > 64 * max_tokens and len(text.split(None, max_tokens)) > max_tokens:
        return False
    return count(text) <= max_tokens


def _hard_split(word: str, max_tokens: int, count: TokenCounter) -> Iterator[str]:
    """A "word" longer than a chunk (a line of base64, a URL-encoded blob): cut it into slices of
    characters that fit."""
    step = max(16, max_tokens * 2)
    start = 0
    while start < len(word):
        piece = word[start : start + step]
        while len(piece) > 1 and count(piece) > max_tokens:
            piece = piece[: len(piece) // 2]
        yield piece
        start += len(piece)


def _word_runs(sentence: str, max_tokens: int, count: TokenCounter) -> Iterator[str]:
    """Runs of whole words of at most ``max_tokens``, in one pass: each word is counted once and
    the counts are summed (a tokenizer splits at spaces first, so the sum is the run's count; each
    run is checked once more before it is given out)."""
    run: list[str] = []
    size = 0

    def close() -> Iterator[str]:
        text = " ".join(run)
        if len(run) > 1 and count(text) > max_tokens:  # a tokenizer that merges across spaces
            half = len(run) // 2
            yield from _word_runs(" ".join(run[:half]), max_tokens, count)
            yield from _word_runs(" ".join(run[half:]), max_tokens, count)
        else:
            yield text

    words = sentence.split()
    for g in range(0, len(words), _GROUP):
        group = words[g : g + _GROUP]
        n_group = count(" ".join(group))  # one tokenizer call per group of words, not per word
        if size + n_group <= max_tokens:
            run.extend(group)
            size += n_group
            continue
        for word in group:
            n = count(word)
            if n > max_tokens:
                if run:
                    yield from close()
                    run, size = [], 0
                yield from _hard_split(word, max_tokens, count)
                continue
            if run and size + n > max_tokens:
                yield from close()
                run, size = [], 0
            run.append(word)
            size += n
    if run:
        yield from close()


def _pieces(text: str, max_tokens: int, count: TokenCounter) -> Iterator[tuple[str, bool]]:
    """Units no larger than ``max_tokens``: paragraphs, else their sentences, else word runs; each
    with a flag saying whether it starts a new paragraph. Linear in the length of ``text``."""
    for para in _PARAGRAPHS.split(text):
        para = para.strip()
        if not para:
            continue
        if _fits(para, max_tokens, count):
            yield para, True
            continue
        first = True
        for sentence in split_sentences(para):
            if _fits(sentence, max_tokens, count):
                yield sentence, first
                first = False
                continue
            for run in _word_runs(sentence, max_tokens, count):
                yield run, first
                first = False


def chunk_text(
    text: str,
    *,
    max_tokens: int = 256,
    overlap: int = 32,
    count: TokenCounter = approx_tokens,
    prefix: str = "",
    cancel: threading.Event | None = None,
) -> list[str]:
    """Greedy packing of pieces into chunks ≤ ``max_tokens`` (``prefix`` included, e.g. the
    heading path); each chunk after the first starts with the previous chunk's last sentences, up
    to ``overlap`` tokens. Paragraphs stay separated by a blank line, sentences by a space.
    Linear in the length of ``text``; raises ``Cancelled`` soon after ``cancel`` is set."""
    count = _bounded(count)
    head = f"{prefix}\n\n" if prefix else ""
    budget = max(16, max_tokens - (count(head) if head else 0))
    chunks: list[str] = []
    current = ""
    size = 0
    for i, (piece, new_paragraph) in enumerate(_pieces(text, budget, count)):
        if cancel is not None and i % 64 == 0 and cancel.is_set():
            raise Cancelled("Stopped: the files before this one are stored.")
        n = count(piece)
        if current and size + n > budget:
            chunks.append(head + current)
            carry: list[str] = []
            carried = 0
            if overlap > 0:
                for sentence in reversed(split_sentences(current.rsplit("\n\n", 1)[-1])):
                    m = count(sentence)
                    if carried + m > overlap or carried + m + n > budget:
                        break
                    carry.insert(0, sentence)
                    carried += m
            current = " ".join(carry)
            size = carried
        if current:
            current += ("\n\n" if new_paragraph else " ") + piece
        else:
            current = piece
        size += n
    if current:
        chunks.append(head + current)
    return chunks
