"""Speech to text: which model to use, and a transcriber that streams timed segments.

A speech model is a CTranslate2 Whisper folder (``model.bin``, ``config.json``,
``tokenizer.json``, ``vocabulary.txt`` or ``.json``) as faster-whisper loads it: a catalog entry
(``whisper-base``, ``whisper-small``: downloaded with ``models.download``) or any local folder.

``WhisperTranscriber.transcribe`` never holds a whole recording in memory: it decodes the file
with PyAV in a stream, resampled to 16 kHz mono, and hands faster-whisper one window of a few
minutes at a time, cut at the quietest moment near the window's end so no word is split. (Given
a path, faster-whisper would decode the whole file into an int16 buffer and then a float32 copy
of it, and compute the spectrogram of all of it at once: for one hour, ~350 MB of audio plus the
features.) Timestamps stay relative to the start of the file. The work runs on a helper thread:
the ``cancel`` event stops the transcription at once, even inside one of Whisper's 30-second
decoding steps, which the helper finishes in the background before it ends.

faster-whisper, CTranslate2 and PyAV are imported on first use only.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tera_desktop.core import models
from tera_desktop.core.errors import (
    ACTION_SETTINGS,
    ACTION_SETUP_MODELS,
    Cancelled,
    ConfigError,
    IngestError,
    ModelLoadError,
    ModelMissingError,
)
from tera_desktop.core.paths import Paths

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("tera.speech")

SAMPLE_RATE = 16_000
WINDOW_S = 60.0  # audio handed to Whisper per call: bounds the memory of its features too
SEARCH_S = 12.0  # the window is cut at the quietest 50 ms in its last SEARCH_S seconds
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
VOCABULARY_FILES = ("vocabulary.txt", "vocabulary.json")
_DONE = object()  # the end of a transcription, on the queue from its helper thread
_HELPERS: dict[threading.Thread, threading.Event] = {}  # running helpers and their halt flags
_HELPERS_LOCK = threading.Lock()


@atexit.register
def _finish_helpers() -> None:
    """Let a helper that is still inside a Whisper step (after a Stop) finish it before the
    interpreter goes away: native code running on during shutdown aborts the process."""
    with _HELPERS_LOCK:
        running = list(_HELPERS.items())
    for helper, halt in running:
        halt.set()
        helper.join(timeout=120)


HOW_TO_GET = (
    "Download one with `tera models download whisper-base` (145 MB) or in Settings, or set "
    "TERA_SPEECH_MODEL to a folder holding a faster-whisper (CTranslate2) model."
)


@dataclass(frozen=True)
class Segment:
    """A piece of speech: seconds from the start of the file, its text, its language code."""

    start: float
    end: float
    text: str
    language: str


@dataclass(frozen=True)
class TranscribeProgress:
    """Seconds of the recording transcribed so far, of its total length (0 if unknown)."""

    done_s: float
    total_s: float


class Transcriber(Protocol):
    def transcribe(
        self, path: Path, *, cancel: threading.Event | None = None
    ) -> Iterator[Segment | TranscribeProgress]: ...


# --------------------------------------------------------------------------------------------
# which model


def check_model_dir(folder: Path) -> Path:
    """``folder`` if it holds a faster-whisper model, else ModelLoadError naming what is missing."""
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in VOCABULARY_FILES):
        missing.append("vocabulary.txt")
    if missing:
        raise ModelLoadError(
            f"{folder} is not a faster-whisper speech model: {', '.join(missing)} missing.",
            HOW_TO_GET,
            action=ACTION_SETTINGS,
        )
    return folder


def resolve_speech(paths: Paths, value: str) -> Path:
    """A catalog name (``whisper-base``) or a local model folder → the folder to load.

    Raises ModelMissingError (with how to get a model) when none is set or it is not here."""
    value = value.strip()
    if not value:
        raise ModelMissingError(
            "No speech-to-text model is set.", HOW_TO_GET, action=ACTION_SETUP_MODELS
        )
    entry = models.CATALOG.get(value)
    if entry is not None and entry.kind == models.KIND_SPEECH:
        found = models.installed_path(paths, entry)
        if found is None:
            raise ModelMissingError(
                f"The speech model {entry.name} is not on this computer.",
                f"Run `tera models download {entry.name}` ({entry.size / 1e6:.0f} MB) or "
                f"download it in Settings, or put its files in "
                f"{models.model_dir(paths, entry)}.",
                action=ACTION_SETUP_MODELS,
            )
        return Path(found)
    folder = Path(value).expanduser()
    if folder.is_dir():
        return check_model_dir(folder.resolve())
    if folder.exists() or os.sep in value or value.startswith((".", "~")):
        raise ModelMissingError(
            f"There is no speech model folder at {folder}.", HOW_TO_GET, action=ACTION_SETTINGS
        )
    known = ", ".join(n for n, m in models.CATALOG.items() if m.kind == models.KIND_SPEECH)
    raise ConfigError(
        f"Unknown speech model {value!r}.",
        f"Use one of: {known}; or a local model folder.",
        action=ACTION_SETTINGS,
    )


class SpeechSource:
    """What ingestion asks for a transcriber: resolves and loads the model on first use, once.

    ``transcriber()`` raises ModelMissingError (the reason to skip audio files) when there is no
    model, and keeps the loaded model for later files and later ingestions."""

    def __init__(self, paths: Paths, model: str, language: str = "", threads: int = 0) -> None:
        self.paths = paths
        self.model = model
        self.language = language
        self.threads = threads
        self._lock = threading.Lock()
        self._transcriber: WhisperTranscriber | None = None

    def transcriber(self) -> WhisperTranscriber:
        with self._lock:
            if self._transcriber is None:
                folder = resolve_speech(self.paths, self.model)
                self._transcriber = WhisperTranscriber(
                    folder, language=self.language, threads=self.threads
                )
            return self._transcriber

    @property
    def loaded(self) -> bool:
        return self._transcriber is not None


# --------------------------------------------------------------------------------------------
# decoding


def _audio_error(path: Path, detail: str) -> IngestError:
    return IngestError(
        f"{path.name} cannot be read as audio ({detail[:120]}).",
        "Check that it plays in a media player; convert it to .wav or .mp3 and add that.",
    )


def probe_duration(container: Any, stream: Any) -> float:
    """The length in seconds a container declares (0.0 when it does not say)."""
    try:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return float(container.duration) / 1_000_000  # av.time_base
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return 0.0


def iter_pcm(
    path: Path,
    cancel: threading.Event | None = None,
    *,
    block_samples: int = SAMPLE_RATE * 10,
    info: dict[str, float] | None = None,
) -> Iterator[np.ndarray]:
    """The file's first audio track as 16 kHz mono float32 blocks of about ``block_samples``,
    decoded as a stream (the whole file is never in memory). ``info["duration"]`` is set to the
    declared length in seconds before the first block."""
    import av
    import numpy as np

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise _audio_error(path, str(exc) or type(exc).__name__) from None
    with container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise IngestError(f"{path.name} has no sound track.")
        stream: Any = streams[0]
        stream.thread_type = "AUTO"
        if info is not None:
            info["duration"] = probe_duration(container, stream)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        pending: list[np.ndarray] = []
        size = 0
        frames: Iterator[Any] = container.decode(stream)
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled("Stopped while reading a recording; it was not stored.")
            try:
                frame = next(frames)
            except StopIteration:
                frame = None
            except av.error.InvalidDataError:  # a damaged packet: skip it, as players do
                continue
            except av.error.FFmpegError as exc:
                raise _audio_error(path, str(exc)) from None
            if frame is not None:
                frame.pts = None
            for out in resampler.resample(frame):
                block = out.to_ndarray().reshape(-1)
                pending.append(block.astype(np.float32) / 32768.0)
                size += block.size
            if size >= block_samples or (frame is None and size):
                yield np.concatenate(pending)
                pending, size = [], 0
            if frame is None:
                break


def _quietest_cut(audio: np.ndarray, start: int) -> int:
    """The sample index (≥ start) at the middle of the quietest 50 ms frame after ``start``."""
    import numpy as np

    hop = SAMPLE_RATE // 20
    tail = audio[start:]
    n = tail.size // hop
    if n < 2:
        return audio.size
    energy = np.square(tail[: n * hop].reshape(n, hop)).mean(axis=1)
    return start + int(np.argmin(energy)) * hop + hop // 2


def iter_windows(
    blocks: Iterator[np.ndarray], window_s: float = WINDOW_S, search_s: float = SEARCH_S
) -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, audio) windows of about ``window_s``, each cut at a quiet moment in
    its last ``search_s`` seconds; the rest starts the next window. At most one window plus one
    block is held at a time."""
    import numpy as np

    window = int(window_s * SAMPLE_RATE)
    search = int(search_s * SAMPLE_RATE)
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0
    for block in blocks:
        buffer = np.concatenate([buffer, block]) if buffer.size else block
        while buffer.size >= window + search:
            cut = _quietest_cut(buffer[: window + search], window)
            yield offset / SAMPLE_RATE, buffer[:cut]
            offset += cut
            buffer = buffer[cut:].copy()  # a copy: the old window's memory is freed
    if buffer.size:
        yield offset / SAMPLE_RATE, buffer


# --------------------------------------------------------------------------------------------
# transcribing


class WhisperTranscriber:
    """faster-whisper on the CPU (int8), loaded on first use and reused.

    ``language`` "" detects the language in the first window and keeps it for the rest of the
    file. ``beam_size`` 1 (greedy) is about twice as fast as 5; bench/bench_media.py measures
    both."""

    def __init__(
        self,
        model_dir: Path,
        *,
        language: str = "",
        threads: int = 0,
        beam_size: int = 1,
        vad: bool = True,
        window_s: float = WINDOW_S,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.language = language.strip().lower()
        self.threads = threads or max(1, min(8, os.cpu_count() or 1))
        self.beam_size = beam_size
        self.vad = vad
        self.window_s = window_s
        self._model: Any = None
        self._lock = threading.Lock()

    def _whisper(self) -> Any:
        with self._lock:
            if self._model is None:
                check_model_dir(self.model_dir)
                try:
                    from faster_whisper import WhisperModel
                except ImportError:
                    raise ModelLoadError(
                        "Tera's speech-to-text component (faster-whisper) is not installed.",
                        "Reinstall Tera (pip install tera-desktop).",
                    ) from None
                try:
                    self._model = WhisperModel(
                        str(self.model_dir),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self.threads,
                        local_files_only=True,
                    )
                except (RuntimeError, ValueError, OSError) as exc:
                    raise ModelLoadError(
                        f"The speech model in {self.model_dir} cannot be loaded: {exc}.",
                        HOW_TO_GET,
                    ) from None
            return self._model

    def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first transcription)."""
        self._whisper()

    def transcribe(
        self, path: Path, *, cancel: threading.Event | None = None
    ) -> Iterator[Segment | TranscribeProgress]:
        """Segments of speech in ``path`` in order, with progress after each one. Raises
        IngestError for a file that is not audio, Cancelled when ``cancel`` is set.

        The work runs on a helper thread and this generator hands its results over, so Stop
        answers within a tenth of a second even while Whisper is inside a 30-second step; the
        helper then finishes that step and ends (it checks after every segment and block)."""
        model = self._whisper()  # a missing or broken model is reported here, not by the helper
        results: queue.Queue[object] = queue.Queue(maxsize=256)
        halt = threading.Event()

        def hand_over(item: object) -> bool:
            while not halt.is_set():
                try:
                    results.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            try:
                for event in self._segments(model, Path(path), halt):
                    if not hand_over(event):
                        return
            except BaseException as exc:  # handed to the reader, raised there
                hand_over(exc)
            else:
                hand_over(_DONE)
            finally:
                with _HELPERS_LOCK:
                    _HELPERS.pop(threading.current_thread(), None)

        helper = threading.Thread(target=work, name="tera-transcribe", daemon=True)
        with _HELPERS_LOCK:
            _HELPERS[helper] = halt
        helper.start()
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("Stopped while transcribing a recording; it was not stored.")
                try:
                    item = results.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            halt.set()

    def _segments(
        self, model: Any, path: Path, halt: threading.Event
    ) -> Iterator[Segment | TranscribeProgress]:
        info: dict[str, float] = {}
        blocks = iter_pcm(path, halt, info=info)
        language = self.language or None
        previous = ""
        done = 0.0
        for offset, audio in iter_windows(blocks, self.window_s):
            total = max(info.get("duration", 0.0), offset + audio.size / SAMPLE_RATE)
            segments, result = model.transcribe(
                audio,
                language=language,
                beam_size=self.beam_size,
                vad_filter=self.vad,
                initial_prompt=previous or None,
                condition_on_previous_text=True,
            )
            language = language or result.language
            length = audio.size / SAMPLE_RATE
            for segment in segments:
                if halt.is_set():
                    return
                text = " ".join(segment.text.split())
                # Whisper's last timestamp may run past the audio it was given
                end = offset + min(float(segment.end), length)
                start = offset + min(float(segment.start), length)
                done = max(done, end)
                if text:
                    previous = text
                    yield Segment(start, end, text, language or result.language)
                yield TranscribeProgress(done, total)
            done = offset + audio.size / SAMPLE_RATE
            yield TranscribeProgress(done, total)
            if halt.is_set():
                return
