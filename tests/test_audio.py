"""Voice notes without the speech model: chunking of segments, streaming decode and windows,
model resolution, settings, the catalog, and what ingestion does when there is no model.

The real transcription (Whisper base from PyPI, espeak-ng speech) is in
tests/integration/test_voice_notes.py."""

from __future__ import annotations

import itertools
import math
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tera_desktop.core import models
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ConfigError, IngestError, ModelLoadError, ModelMissingError
from tera_desktop.core.ingest import SKIPPED, FileResult, ingest, supported_suffixes
from tera_desktop.core.ingest.formats.audio import AUDIO_SUFFIXES, format_time, group_segments
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings, apply_env
from tera_desktop.core.speech import (
    SAMPLE_RATE,
    SpeechSource,
    check_model_dir,
    iter_pcm,
    iter_windows,
    resolve_speech,
)


def words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def tone(seconds: float, rate: int = SAMPLE_RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * math.pi * freq * t)).astype(np.float32)


# ---- chunks of segments -------------------------------------------------------------------------


def test_segments_are_grouped_without_splitting_and_keep_their_times() -> None:
    segments = [(i * 5.0, i * 5.0 + 4.5, words(10, f"s{i}w")) for i in range(12)]
    sections = group_segments(
        segments, max_tokens=40, overlap=0, count=lambda t: len(t.split()), language="en"
    )
    texts = [s.text for s in sections]
    assert all(len(t.split()) <= 40 for t in texts)
    # every segment sits whole in exactly one chunk, in order
    assert " ".join(texts) == " ".join(text for _, _, text in segments)
    for section in sections:
        first = int(section.text.split()[0][1:].split("w")[0])
        last = int(section.text.split()[-1][1:].split("w")[0])
        assert section.meta["start_s"] == segments[first][0]
        assert section.meta["end_s"] == segments[last][1]
        assert section.meta["language"] == "en"
        assert isinstance(section.meta["start_s"], float)


def test_overlap_repeats_whole_segments_only() -> None:
    segments = [(float(i), i + 0.9, words(10, f"s{i}w")) for i in range(8)]
    sections = group_segments(segments, max_tokens=30, overlap=10, count=lambda t: len(t.split()))
    assert len(sections) > 1
    for prev, nxt in itertools.pairwise(sections):
        last_segment = prev.text.split()[-10:]
        assert nxt.text.split()[:10] == last_segment  # the previous chunk's last whole segment
        assert nxt.meta["start_s"] == prev.meta["end_s"] - 0.9


def test_a_segment_longer_than_a_chunk_is_split_and_keeps_its_times() -> None:
    segments = [(0.0, 2.0, "short one"), (2.0, 30.0, words(100, "w")), (30.0, 31.0, "tail")]
    sections = group_segments(segments, max_tokens=25, count=lambda t: len(t.split()))
    long_pieces = [s for s in sections if s.text.startswith("w") or " w" in s.text]
    assert len(long_pieces) >= 4
    assert all(s.meta["start_s"] == 2.0 and s.meta["end_s"] == 30.0 for s in long_pieces)
    assert sections[0].text == "short one" and sections[-1].text == "tail"


def test_format_time() -> None:
    assert format_time(751.4) == "12:31"
    assert format_time(5) == "0:05"
    assert format_time(3723) == "1:02:03"


# ---- decoding in a stream, windows ---------------------------------------------------------------


def test_wav_is_decoded_as_16k_mono_blocks(tmp_path: Path) -> None:
    stereo_44k = np.repeat(tone(3.0, rate=44_100)[:, None], 2, axis=1).reshape(-1)
    path = tmp_path / "t.wav"
    pcm = (stereo_44k * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        out.writeframes(pcm.tobytes())
    info: dict[str, float] = {}
    blocks = list(iter_pcm(path, block_samples=SAMPLE_RATE, info=info))
    assert info["duration"] == pytest.approx(3.0, abs=0.05)
    assert all(b.dtype == np.float32 for b in blocks)
    assert sum(b.size for b in blocks) == pytest.approx(3 * SAMPLE_RATE, abs=400)
    assert max(b.size for b in blocks) < 2 * SAMPLE_RATE  # streamed, not one array


def test_windows_cut_at_the_quiet_moment_and_lose_nothing() -> None:
    # 20 s of tone with a 0.3 s silence at 11 s: a 10 s window searched over 2 s cuts there
    audio = tone(20.0)
    audio[int(11.0 * SAMPLE_RATE) : int(11.3 * SAMPLE_RATE)] = 0
    blocks = (audio[i : i + 8000] for i in range(0, audio.size, 8000))
    windows = list(iter_windows(blocks, window_s=10.0, search_s=2.0))
    assert np.array_equal(np.concatenate([w for _, w in windows]), audio)
    offsets = [o for o, _ in windows]
    assert offsets[0] == 0.0
    assert 11.0 <= offsets[1] <= 11.3  # the cut fell in the silence
    for (offset, window), (next_offset, _) in itertools.pairwise(windows):
        assert offset + window.size / SAMPLE_RATE == pytest.approx(next_offset)
        assert window.size <= 12 * SAMPLE_RATE


def test_damaged_or_silent_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"this is not an mp3 file at all" * 100)
    with pytest.raises(IngestError):
        list(iter_pcm(bad))


def test_ogg_and_flac_decode(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", tone(2.0))
    for suffix in (".ogg", ".flac"):
        out = tmp_path / f"a{suffix}"
        subprocess.run(["sox", str(wav), str(out)], check=True)
        total = sum(b.size for b in iter_pcm(out))
        assert total == pytest.approx(2 * SAMPLE_RATE, abs=800)


# ---- which model ----------------------------------------------------------------------------


def test_catalog_has_pinned_whisper_models() -> None:
    for name, size in (("whisper-base", 145_217_532), ("whisper-small", 483_546_902)):
        entry = models.get_model(name)
        assert entry.kind == models.KIND_SPEECH
        assert len(entry.revision) == 40
        assert {f.name for f in entry.files} == {
            "model.bin",
            "config.json",
            "tokenizer.json",
            "vocabulary.txt",
        }
        assert all(f.sha256 and len(f.sha256) == 64 and f.size > 0 for f in entry.files)
        assert next(f for f in entry.files if f.name == "model.bin").size == size


def test_a_missing_catalog_model_says_how_to_get_it(paths: Paths) -> None:
    with pytest.raises(ModelMissingError) as err:
        resolve_speech(paths, "whisper-base")
    assert "tera models download whisper-base" in str(err.value)
    with pytest.raises(ConfigError):
        resolve_speech(paths, "whisper-huge-9")
    with pytest.raises(ModelMissingError):
        resolve_speech(paths, "")


def test_a_local_folder_must_hold_a_model(tmp_path: Path, paths: Paths) -> None:
    folder = tmp_path / "my-whisper"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError) as err:
        resolve_speech(paths, str(folder))
    assert "model.bin" in str(err.value)
    for name in ("model.bin", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_bytes(b"x")
    assert resolve_speech(paths, str(folder)) == folder.resolve()
    assert check_model_dir(folder) == folder
    with pytest.raises(ModelMissingError):
        resolve_speech(paths, str(tmp_path / "nowhere"))


def test_an_installed_catalog_model_is_found(paths: Paths) -> None:
    entry = models.get_model("whisper-base")
    folder = models.model_dir(paths, entry)
    assert folder == paths.models / "speech" / "whisper-base"
    folder.mkdir(parents=True)
    for f in entry.files:
        with open(folder / f.name, "wb") as fh:
            fh.truncate(f.size)  # sizes are what installed_path checks
    assert resolve_speech(paths, "whisper-base") == folder


def test_speech_settings_defaults_env_and_validation() -> None:
    s = Settings()
    assert s.speech_model == "whisper-base" and s.speech_language == ""
    assert apply_env(s, {"TERA_SPEECH_MODEL": "/models/w"}).speech_model == "/models/w"
    assert Settings(speech_language="de").validate().speech_language == "de"
    with pytest.raises(ConfigError):
        Settings(speech_language="German").validate()


# ---- ingestion without a model -------------------------------------------------------------------


def test_audio_suffixes_are_registered() -> None:
    suffixes = supported_suffixes()
    for suffix in (".wav", ".mp3", ".m4a", ".ogg", ".opus", ".flac", ".webm"):
        assert suffix in AUDIO_SUFFIXES and suffix in suffixes


def test_without_a_speech_model_audio_is_skipped_and_nothing_else_is_affected(
    engine: Engine, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_wav(docs / "memo.wav", tone(1.0))
    (docs / "notes.txt").write_text("The boat is moored at pier 4.")
    results = [e for e in engine.upload([docs]) if isinstance(e, FileResult)]
    by_name = {Path(r.path).name: r for r in results}
    assert by_name["notes.txt"].status == "added"
    memo = by_name["memo.wav"]
    assert memo.status == SKIPPED
    assert memo.reason == "Speech model missing" and memo.action == "setup-models"
    assert "tera models download whisper-base" in memo.cli_reason  # the CLI's words
    assert engine.count() == 1
    # without any speech source at all (ingest called directly), the same
    plain = [
        e
        for e in ingest([docs / "memo.wav"], engine.embedder, engine.store)
        if isinstance(e, FileResult)
    ]
    assert plain[0].status == SKIPPED and plain[0].reason == "Speech model missing"


def test_a_broken_local_model_fails_the_recording_with_the_reason(
    paths: Paths, tiny_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "broken-whisper"
    folder.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_bytes(b"not a model")
    settings = Settings(**{**tiny_settings.__dict__, "speech_model": str(folder)})
    with Engine(paths, settings) as eng:
        write_wav(tmp_path / "memo.wav", tone(1.0))
        results = [e for e in eng.upload([tmp_path / "memo.wav"]) if isinstance(e, FileResult)]
    assert results[0].status == "failed"
    assert "cannot be loaded" in results[0].reason
    assert "Error(" not in results[0].reason  # the message itself, not an exception's repr


def test_speech_source_resolves_lazily(paths: Paths) -> None:
    source = SpeechSource(paths, "whisper-base")
    assert not source.loaded
    with pytest.raises(ModelMissingError):
        source.transcriber()
