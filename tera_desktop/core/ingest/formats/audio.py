"""Voice notes and recordings → timed transcript chunks (faster-whisper, see ``core.speech``).

A streaming extractor: it reads the file itself, so a long recording is never in memory whole,
reports the minutes transcribed, and stops when the user says Stop. Whisper's segments are
grouped into chunks of at most ``max_tokens`` that never split a segment (unless one segment
alone is longer than a chunk); neighbouring chunks share whole segments, up to ``overlap``
tokens. Each chunk's metadata has ``start_s`` and ``end_s`` (seconds from the start of the file)
and ``language``, so a source reads "standup.m4a 12:31–12:58".

Nothing is stored until the whole file is transcribed and embedded (the pipeline writes a file
in one replacement), so a killed process leaves no half recording, and the next run starts the
file again. Without a speech model, audio files are skipped with a reason that says how to get
one; other files are not affected.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tera_desktop.core.clock import format_clock
from tera_desktop.core.errors import (
    ACTION_SETTINGS,
    ACTION_SETUP_MODELS,
    ConfigError,
    IngestError,
    ModelLoadError,
    ModelMissingError,
    UnsupportedFileError,
)
from tera_desktop.core.ingest.chunker import approx_tokens, chunk_text
from tera_desktop.core.ingest.extractors import (
    ExtractContext,
    Extracted,
    ExtractProgress,
    Section,
    register_stream,
)

# What PyAV's FFmpeg decodes and people keep voice notes in (phones: m4a/aac, opus/ogg in chat
# apps, webm from browser recorders).
AUDIO_SUFFIXES = (
    ".wav",
    ".mp3",
    ".m4a",
    ".aac",
    ".ogg",
    ".oga",
    ".opus",
    ".flac",
    ".webm",
)

NO_SPEECH = "No speech was heard in this recording."
_SILENT: OrderedDict[tuple[str, int, int], None] = OrderedDict()  # files found to hold no speech
_SILENT_MAX = 10_000
_SILENT_LOCK = threading.Lock()


def format_time(seconds: float) -> str:
    """12:31, or 1:02:03 past an hour (``clock.format_clock``)."""
    return format_clock(seconds)


def group_segments(
    segments: Sequence[tuple[float, float, str]],
    *,
    max_tokens: int,
    overlap: int = 0,
    count: Callable[[str], int] = approx_tokens,
    language: str = "",
) -> list[Section]:
    """(start, end, text) segments → chunk sections, in order, each ≤ ``max_tokens`` (joined
    with spaces), never splitting a segment unless it alone is longer than a chunk. A chunk
    after the first starts with the previous chunk's last whole segments, up to ``overlap``
    tokens."""
    sizes = [count(text) for _, _, text in segments]
    sections: list[Section] = []

    def emit(group: list[int]) -> None:
        start, end = segments[group[0]][0], segments[group[-1]][1]
        text = " ".join(segments[i][2] for i in group)
        meta = {"start_s": round(start, 2), "end_s": round(end, 2), "source_type": "audio"}
        if language:
            meta["language"] = language
        sections.append(Section(text=text, meta=meta))

    group: list[int] = []
    size = 0
    fresh = 0  # segments in the group that are not carried over from the previous chunk
    for i, n in enumerate(sizes):
        if n > max_tokens:  # one very long segment: split it, every piece keeps its times
            if fresh:
                emit(group)
            group, size, fresh = [], 0, 0
            start, end, text = segments[i]
            for piece in chunk_text(text, max_tokens=max_tokens, overlap=0, count=count):
                sections.append(
                    Section(
                        text=piece,
                        meta={
                            "start_s": round(start, 2),
                            "end_s": round(end, 2),
                            "source_type": "audio",
                            **({"language": language} if language else {}),
                        },
                    )
                )
            continue
        if group and size + n > max_tokens:
            emit(group)
            carry: list[int] = []
            carried = 0
            for j in reversed(group):
                if carried + sizes[j] > overlap or carried + sizes[j] + n > max_tokens:
                    break
                carry.insert(0, j)
                carried += sizes[j]
            group, size, fresh = carry, carried, 0
        group.append(i)
        size += n
        fresh += 1
    if fresh:
        emit(group)
    return sections


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return str(path), st.st_size, st.st_mtime_ns


@register_stream(*AUDIO_SUFFIXES)
def extract_audio(path: Path, ctx: ExtractContext) -> Iterator[ExtractProgress | Extracted]:
    """Transcribe ``path`` and yield progress (seconds done of total), then the chunks."""
    if ctx.speech is None:
        raise UnsupportedFileError(
            "Speech model missing",
            "Download one with `tera models download whisper-base` (145 MB) or in Settings.",
            action=ACTION_SETUP_MODELS,
        )
    try:
        transcriber = ctx.speech.transcriber()
    except ModelMissingError as exc:  # the CLI's hint keeps which model and where
        hint = f"{exc.message} {exc.hint}" if exc.hint else exc.message
        raise UnsupportedFileError(
            "Speech model missing", hint, action=exc.action or ACTION_SETUP_MODELS
        ) from None
    except ConfigError as exc:
        raise UnsupportedFileError(
            f"Not transcribed: {exc.message}", exc.hint, action=exc.action or ACTION_SETTINGS
        ) from None
    key = _file_key(path)
    with _SILENT_LOCK:
        if key is not None and key in _SILENT:  # a watched folder's music: heard once already
            raise UnsupportedFileError(NO_SPEECH)
    segments: list[tuple[float, float, str]] = []
    language = ""
    total = 0.0
    try:
        for event in transcriber.transcribe(path, cancel=ctx.cancel):
            if hasattr(event, "text"):
                segments.append((event.start, event.end, event.text))
                language = language or event.language
            else:
                total = event.total_s
                yield ExtractProgress(event.done_s, event.total_s, "s")
    except ModelLoadError as exc:  # the model is there but broken: say so, as this file's reason
        raise IngestError(exc.message, exc.hint) from None
    if not segments:
        if key is not None:
            with _SILENT_LOCK:
                _SILENT[key] = None
                while len(_SILENT) > _SILENT_MAX:
                    _SILENT.popitem(last=False)
        raise UnsupportedFileError(NO_SPEECH)
    sections = group_segments(
        segments,
        max_tokens=ctx.max_tokens,
        overlap=ctx.overlap,
        count=ctx.count_tokens or approx_tokens,
        language=language,
    )
    duration = max(total, segments[-1][1])
    return_meta = {"chunked": True, "duration_s": round(duration, 2), "language": language}
    yield Extracted(title=path.name, sections=sections, meta=return_meta)
