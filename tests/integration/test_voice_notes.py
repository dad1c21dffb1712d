"""Voice notes end to end with real parts: espeak-ng speaks known sentences, the real Whisper base
model (CTranslate2, assembled from PyPI by scripts/fetch_test_models.py) transcribes them, the
real all-MiniLM-L6-v2 embeds them, the real embedded Qdrant engine stores them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tera_desktop.core import models
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import Cancelled, DownloadError
from tera_desktop.core.ingest import FileResult, IngestProgress
from tera_desktop.core.paths import Paths, get_paths
from tera_desktop.core.settings import Settings
from tera_desktop.core.speech import SAMPLE_RATE, Segment, WhisperTranscriber, resolve_speech

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLUMBER = "Reminder for Tuesday. The plumber will come at nine thirty to fix the kitchen sink."
CABIN = "The new wifi password for the cabin is purple elephant seventy two."
STANDUP = [
    "Good morning everyone, this is the weekly standup.",
    "The design review went well and the mockups are approved.",
    "We still need two more testers for the mobile app.",
    "The launch of project Heron moves to the fourteenth of October.",
    "Marketing will send the newsletter on Friday afternoon.",
    "That is all for today, thank you.",
]
HERON = 3  # the sentence a question asks about


def speak(text: str, out: Path) -> np.ndarray:
    """espeak-ng's voice for ``text`` as 16 kHz mono float32 (also written to ``out``)."""
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(out), text], check=True)
    with wave.open(str(out)) as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32)
    pcm /= 32768.0
    if rate != SAMPLE_RATE:  # espeak-ng speaks at 22,050 Hz
        positions = np.arange(0, pcm.size, rate / SAMPLE_RATE)
        pcm = np.interp(positions, np.arange(pcm.size), pcm).astype(np.float32)
    return pcm


def write_wav(path: Path, audio: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def encode(audio: np.ndarray, path: Path, codec: str) -> Path:
    """``audio`` (16 kHz mono float32) encoded by PyAV's FFmpeg: ogg/opus, mp3, flac..."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=48_000 if codec == "libopus" else SAMPLE_RATE)
        stream.layout = "mono"  # type: ignore[union-attr]
        frame = av.AudioFrame.from_ndarray(
            (np.clip(audio, -1, 1) * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):  # type: ignore[union-attr]
            container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def whisper_dir() -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fetch_test_models_voice", ROOT / "scripts/fetch_test_models.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dest = Path(os.environ.get("TERA_TEST_MODELS") or ROOT / ".cache" / "test-models")
    return Path(module.ensure_whisper_model(dest, log=None))


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The recordings: a wav, an ogg/opus, and a ~40 s standup with silences between
    sentences, with the times each standup sentence starts and ends."""
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng is missing: scripts/install.sh --test installs it")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("voice")
    work = tmp_path_factory.mktemp("voice-work")
    docs = folder / "notes"
    docs.mkdir()
    speak(PLUMBER, docs / "plumber.wav")
    encode(speak(CABIN, work / "cabin.wav"), docs / "cabin.ogg", "libopus")
    (docs / "groceries.txt").write_text("Buy oat milk, lemons and basil on the way home.")
    pieces: list[np.ndarray] = []
    times: list[tuple[float, float]] = []
    position = 0
    pause = np.zeros(int(1.2 * SAMPLE_RATE), dtype=np.float32)
    for i, sentence in enumerate(STANDUP):
        clip = speak(sentence, work / f"s{i}.wav")
        pieces += [clip, pause]
        times.append((position / SAMPLE_RATE, (position + clip.size) / SAMPLE_RATE))
        position += clip.size + pause.size
    standup = np.concatenate(pieces)
    write_wav(folder / "standup.wav", standup)
    encode(standup, folder / "standup.mp3", "libmp3lame")
    return {"docs": docs, "folder": folder, "times": times, "standup": standup}


def make_engine(home: Path, real_models: dict[str, Path], whisper: Path) -> Engine:
    settings = Settings(
        embedding_model=str(real_models["embedding"]),
        llm_model=str(real_models["gguf"]),
        speech_model=str(whisper),
        llm_threads=1,
        llm_threads_batch=1,
    )
    return Engine(get_paths(home).ensure(), settings)


@pytest.fixture(scope="module")
def memory(
    voice: dict[str, object],
    real_models: dict[str, Path],
    whisper_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, list[object]]]:
    engine = make_engine(tmp_path_factory.mktemp("voice-home"), real_models, whisper_dir)
    events = list(engine.upload([voice["docs"], Path(str(voice["folder"])) / "standup.wav"]))
    yield engine, events
    engine.close()


def top_hit(engine: Engine, question: str) -> object:
    hits = engine.search(question, 3)
    assert hits, question
    return hits[0]


def test_voice_notes_become_memories_with_their_times(memory: tuple[Engine, list[object]]) -> None:
    engine, events = memory
    results = {Path(e.path).name: e for e in events if isinstance(e, FileResult)}
    assert {n: r.status for n, r in results.items()} == {
        "plumber.wav": "added",
        "cabin.ogg": "added",
        "groceries.txt": "added",
        "standup.wav": "added",
    }
    hit = top_hit(engine, "When is the plumber coming?")
    assert Path(hit.source).name == "plumber.wav"  # type: ignore[attr-defined]
    assert "plumber" in hit.text.lower()  # type: ignore[attr-defined]
    extra = hit.extra  # type: ignore[attr-defined]
    assert extra["language"] == "en"
    assert isinstance(extra["start_s"], float) and isinstance(extra["end_s"], float)
    assert 0.0 <= extra["start_s"] < extra["end_s"] <= 8.0
    cabin = top_hit(engine, "What is the wifi password at the cabin?")
    assert Path(cabin.source).name == "cabin.ogg"  # type: ignore[attr-defined]
    assert "elephant" in cabin.text.lower()  # type: ignore[attr-defined]


def test_the_answer_in_a_long_recording_comes_with_its_time(
    memory: tuple[Engine, list[object]], voice: dict[str, object]
) -> None:
    engine, _ = memory
    hit = top_hit(engine, "When does project Heron launch?")
    assert Path(hit.source).name == "standup.wav"  # type: ignore[attr-defined]
    assert "heron" in hit.text.lower()  # type: ignore[attr-defined]
    start, end = voice["times"][HERON]  # type: ignore[index]
    extra = hit.extra  # type: ignore[attr-defined]
    assert extra["start_s"] <= start + 1.0 and extra["end_s"] >= end - 1.0


def test_progress_is_reported_in_seconds_of_the_recording(
    memory: tuple[Engine, list[object]], voice: dict[str, object]
) -> None:
    _, events = memory
    inside = [
        e
        for e in events
        if isinstance(e, IngestProgress)
        and e.file_unit == "s"
        and e.current.endswith("standup.wav")
    ]
    assert len(inside) >= 3
    total = voice["standup"].size / SAMPLE_RATE  # type: ignore[attr-defined]
    assert all(e.file_total == pytest.approx(total, abs=0.5) for e in inside)
    done = [e.file_done for e in inside]
    assert done == sorted(done) and done[-1] == pytest.approx(total, abs=0.5)


def test_an_unchanged_recording_is_not_transcribed_again(
    memory: tuple[Engine, list[object]], voice: dict[str, object]
) -> None:
    engine, _ = memory
    again = list(engine.upload([Path(str(voice["folder"])) / "standup.wav"]))
    assert [e.status for e in again if isinstance(e, FileResult)] == ["unchanged"]
    assert not any(isinstance(e, IngestProgress) and e.file_unit for e in again)


def test_windows_cut_between_words_keep_every_sentence_and_time(
    whisper_dir: Path, voice: dict[str, object]
) -> None:
    # 12-second windows: the 40-second standup is transcribed in four calls, cut at pauses
    transcriber = WhisperTranscriber(whisper_dir, language="en", threads=2, window_s=12.0)
    mp3 = Path(str(voice["folder"])) / "standup.mp3"
    segments = [e for e in transcriber.transcribe(mp3) if isinstance(e, Segment)]
    text = " ".join(s.text for s in segments).lower()
    for word in ("standup", "mockups", "testers", "heron", "october", "marketing", "friday"):
        assert word in text
    starts = [s.start for s in segments]
    assert starts == sorted(starts)
    start, end = voice["times"][HERON]  # type: ignore[index]
    heron = next(s for s in segments if "heron" in s.text.lower())
    # Whisper may join two sentences in one segment: its times hold the sentence, no more than
    # the segment's length off
    assert heron.start == pytest.approx(start, abs=1.5)
    assert heron.end >= end - 1.5 and heron.end - heron.start < 15


def test_stop_inside_a_recording_stores_nothing_of_it(
    voice: dict[str, object],
    real_models: dict[str, Path],
    whisper_dir: Path,
    tmp_path: Path,
) -> None:
    standup = Path(str(voice["folder"])) / "standup.wav"
    with make_engine(tmp_path / "home", real_models, whisper_dir) as engine:
        cancel = threading.Event()
        seen = []
        with pytest.raises(Cancelled):
            for event in engine.upload([standup], cancel=cancel):
                if isinstance(event, IngestProgress) and event.file_unit == "s":
                    seen.append(event.file_done)
                    cancel.set()  # Stop, as soon as the first segment is in
        assert seen and seen[-1] < voice["standup"].size / SAMPLE_RATE  # type: ignore[attr-defined]
        assert engine.documents() == []
        results = [e for e in engine.upload([standup]) if isinstance(e, FileResult)]
        assert [r.status for r in results] == ["added"]


KILLED = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    home, embedding, gguf, whisper, audio = sys.argv[1:]
    settings = Settings(embedding_model=embedding, llm_model=gguf, speech_model=whisper)
    engine = Engine(get_paths(home).ensure(), settings)
    for event in engine.upload([Path(audio)]):
        if getattr(event, "file_unit", ""):
            print(json.dumps({"done": event.file_done}), flush=True)
    print("finished", flush=True)
    """
)


def test_a_killed_process_leaves_no_half_recording(
    voice: dict[str, object],
    real_models: dict[str, Path],
    whisper_dir: Path,
    tmp_path: Path,
) -> None:
    standup = Path(str(voice["folder"])) / "standup.wav"
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED,
            str(home),
            str(real_models["embedding"]),
            str(real_models["gguf"]),
            str(whisper_dir),
            str(standup),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first segment is transcribed: kill it mid-recording
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "done" in json.loads(line)
    with make_engine(home, real_models, whisper_dir) as engine:
        assert engine.documents() == []  # nothing of the recording was stored
        results = [e for e in engine.upload([standup]) if isinstance(e, FileResult)]
        assert [r.status for r in results] == ["added"]  # the next run does it whole


STOPPED = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.errors import Cancelled
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    home, embedding, gguf, whisper, audio = sys.argv[1:]
    settings = Settings(embedding_model=embedding, llm_model=gguf, speech_model=whisper)
    engine = Engine(get_paths(home).ensure(), settings)
    cancel = threading.Event()
    try:
        for event in engine.upload([Path(audio)], cancel=cancel):
            if getattr(event, "file_unit", ""):
                cancel.set()
    except Cancelled:
        print("stopped", flush=True)
    engine.close()
    """
)


def test_a_process_that_stops_mid_recording_exits_cleanly(
    voice: dict[str, object],
    real_models: dict[str, Path],
    whisper_dir: Path,
    tmp_path: Path,
) -> None:
    """`tera upload`, Ctrl-C: the process ends while Whisper may still be inside a step on the
    helper thread; it must wait for it (native code running on at shutdown aborts)."""
    standup = Path(str(voice["folder"])) / "standup.wav"
    args = [str(real_models["embedding"]), str(real_models["gguf"]), str(whisper_dir)]
    proc = subprocess.run(
        [sys.executable, "-c", STOPPED, str(tmp_path / "home"), *args, str(standup)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "stopped"
    assert "terminate" not in proc.stderr


def test_speech_model_downloads_with_progress_resume_and_checksum(
    hub: object,
    paths: Paths,
    whisper_dir: Path,
    voice: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The catalog's download code fetches a speech model like any other: here the real test
    model, served by the fake hub on 127.0.0.1, cut once mid-file and resumed."""
    import hashlib

    files = []
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        data = (whisper_dir / name).read_bytes()
        hub.add("test/whisper-base", name, data, revision="a" * 40)  # type: ignore[attr-defined]
        files.append(models.ModelFile(name, len(data), hashlib.sha256(data).hexdigest()))
    entry = models.CatalogModel(
        name="test-whisper",
        kind=models.KIND_SPEECH,
        repo="test/whisper-base",
        revision="a" * 40,
        files=tuple(files),
    )
    monkeypatch.setitem(models.CATALOG, entry.name, entry)
    hub.cut_after = 50_000_000  # type: ignore[attr-defined]
    base = hub.base_url  # type: ignore[attr-defined]
    with pytest.raises(DownloadError):
        list(models.download(paths, entry, base_url=base))
    progress = list(models.download(paths, entry, base_url=base))
    assert progress[-1].done == entry.size
    assert any(r == "bytes=50000000-" for r in hub.ranges())  # type: ignore[attr-defined]
    folder = resolve_speech(paths, "test-whisper")
    assert folder == paths.models / "speech" / "test-whisper"
    plumber = Path(str(voice["docs"])) / "plumber.wav"
    segments = WhisperTranscriber(folder, threads=2).transcribe(plumber)
    text = " ".join(s.text for s in segments if isinstance(s, Segment)).lower()
    assert "plumber" in text and "sink" in text
