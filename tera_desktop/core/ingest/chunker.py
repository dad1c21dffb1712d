"""Split text into chunks of at most ``max_tokens`` on paragraph, then sentence, then word
boundaries, with a small overlap of whole sentences between neighbouring chunks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

TokenCounter = Callable[[str], int]

_WORDISH = re.compile(r"\w+|[^\w\s]")
_PARAGRAPHS = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? … (optionally followed by quotes/brackets) and whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (words and punctuation marks; WordPiece/BPE give a few more)."""
    return int(len(_WORDISH.findall(text)) * 1.3) + 1


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _pieces(text: str, max_tokens: int, count: TokenCounter) -> Iterator[tuple[str, bool]]:
    """Units no larger than ``max_tokens``: paragraphs, else their sentences, else word runs; each
    with a flag saying whether it starts a new paragraph."""
    for para in _PARAGRAPHS.split(text):
        para = para.strip()
        if not para:
            continue
        if count(para) <= max_tokens:
            yield para, True
            continue
        first = True
        for sentence in split_sentences(para):
            if count(sentence) <= max_tokens:
                yield sentence, first
                first = False
                continue
            run: list[str] = []
            for word in sentence.split():
                if run and count(" ".join([*run, word])) > max_tokens:
                    yield " ".join(run), first
                    first = False
                    run = []
                run.append(word)
            if run:
                yield " ".join(run), first
                first = False


def chunk_text(
    text: str,
    *,
    max_tokens: int = 256,
    overlap: int = 32,
    count: TokenCounter = approx_tokens,
    prefix: str = "",
) -> list[str]:
    """Greedy packing of pieces into chunks ≤ ``max_tokens`` (``prefix`` included, e.g. the
    heading path); each chunk after the first starts with the previous chunk's last sentences, up
    to ``overlap`` tokens. Paragraphs stay separated by a blank line, sentences by a space."""
    head = f"{prefix}\n\n" if prefix else ""
    budget = max(16, max_tokens - (count(head) if head else 0))
    chunks: list[str] = []
    current = ""
    size = 0
    for piece, new_paragraph in _pieces(text, budget, count):
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
