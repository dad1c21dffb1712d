"""Voice notes and scans: transcription speed and memory, OCR speed and accuracy.

    python -m bench.bench_media [--quick] [--minutes 30] [--pages 12] [--threads 0]
                                [--out bench/results/media.json]

**Transcription** (Whisper base, CTranslate2 int8, from scripts/fetch_test_models.py). A long
recording is made from espeak-ng sentences (a pool of 24, with pauses; 16 kHz wav) and ingested
through ``Engine.upload`` in a child process, as ``tera upload`` does: decode in a stream →
faster-whisper (greedy, VAD) → chunks → all-MiniLM-L6-v2 → Qdrant Edge. Reported: real-time
factor (transcription seconds per second of audio: < 1 is faster than real time), words/s into
memory (end to end), the child's peak RSS and its RSS sampled every 0.5 s, the time Stop takes
inside a recording, and, for comparison, the peak RSS of faster-whisper given the file's path
(it decodes the whole file into an int16 buffer plus a float32 copy, then computes the features
of all of it, before the first segment). Word error rate against the spoken text for greedy and
beam-5 decoding on the first minute. Chunk overlap is 0 so stored words = transcript words.

**OCR** (RapidOCR 1.4.4, PP-OCRv4). Pages of MS MARCO passages (shared/benchmarks, public)
rendered at 150 dpi (1240 x 1754) in four DejaVu faces at 20-32 px; character accuracy
(1 - edit distance / length, whitespace runs as one space) and word accuracy (share of the
page's words found as words) of RapidOCR's own output (defaults, lines joined) and of Tera's
reading (spaces restored from geometry, enlarged small text, no 180° classifier, 0/o fixes), and
pages/s of Tera's reading.

--quick: a 3-minute recording and 4 pages (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS_DIR, Table, machine_info, rss_mb, write_json

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "benchmarks" / "msmarco-5k" / "corpus.jsonl"
FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
RATE = 16_000
SENTENCES = [
    "The quarterly budget review is scheduled for the second week of March.",
    "Please remember to renew the car insurance before the end of the month.",
    "The plumber said the boiler needs a new pressure valve.",
    "Our flight to Lisbon leaves at seven in the morning from terminal two.",
    "The design team approved the new logo after three rounds of feedback.",
    "Grandma's birthday dinner will be at the Italian place on Saturday.",
    "The server migration finished without any downtime last night.",
    "We agreed to hire two more engineers for the mobile app.",
    "The doctor recommended a follow up appointment in six weeks.",
    "The library books are due back on the fourteenth.",
    "The contract with the cleaning company ends in September.",
    "Marketing wants the product photos before the trade show.",
    "The kids need new football boots before the season starts.",
    "The bank changed the account number for the savings plan.",
    "Remember that the garage door code was changed to four five one two.",
    "The neighbours are going away and asked us to water their plants.",
    "The new printer on the third floor keeps jamming on thick paper.",
    "The conference talk was moved to the afternoon session.",
    "The landlord will fix the kitchen window on Thursday.",
    "Our electricity bill went up by twelve percent this quarter.",
    "The wedding photographer sent the gallery link yesterday.",
    "The dentist appointment is at half past four on Monday.",
    "The team retrospective raised concerns about the release process.",
    "Buy oat milk, lemons and fresh basil on the way home.",
]


# --------------------------------------------------------------------------------------------
# helpers


def levenshtein(a: str, b: str) -> int:
    """Edit distance, one row at a time with numpy (insertions by a running minimum)."""
    if not a or not b:
        return len(a) or len(b)
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1)
    prev = index.copy()
    codes = np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32)
    for i, code in enumerate(codes, 1):
        cost = (bs != code).astype(np.int64)
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        cur = np.minimum.accumulate(cur - index) + index  # insertions
        prev = cur
    return int(prev[-1])


def char_accuracy(got: str, want: str) -> float:
    got, want = " ".join(got.split()), " ".join(want.split())
    return 1.0 - levenshtein(got, want) / max(1, len(want))


def word_accuracy(got: str, want: str) -> float:
    """The share of the page's words (lower case, punctuation kept inside) found as words."""
    have: dict[str, int] = {}
    for w in got.lower().split():
        have[w] = have.get(w, 0) + 1
    words = want.lower().split()
    found = 0
    for w in words:
        if have.get(w, 0) > 0:
            have[w] -= 1
            found += 1
    return found / max(1, len(words))


def wer(hypothesis: str, reference: str) -> float:
    h = re.findall(r"[a-z0-9']+", hypothesis.lower())
    r = re.findall(r"[a-z0-9']+", reference.lower())
    prev = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        cur = [i]
        for j, hw in enumerate(h, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw)))
        prev = cur
    return prev[-1] / max(1, len(r))


def models() -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_test_models import ensure_test_models, ensure_whisper_model

    found = ensure_test_models(log=lambda *_: None)
    return {
        "embedding": Path(found["embedding"]),
        "gguf": Path(found["gguf"]),
        "whisper": Path(ensure_whisper_model(log=None)),
    }


def speak(text: str, work: Path) -> np.ndarray:
    out = work / "say.wav"
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(out), text], check=True)
    with wave.open(str(out)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    positions = np.arange(0, pcm.size, rate / RATE)
    return np.interp(positions, np.arange(pcm.size), pcm).astype(np.float32)


def make_recording(path: Path, minutes: float, clips: list[np.ndarray]) -> tuple[float, list[str]]:
    """A wav of about ``minutes`` of speech (the sentence clips, cycled, 0.8 s pauses): its
    length in seconds and the sentences in order."""
    pause = np.zeros(int(0.8 * RATE), dtype=np.float32)
    target = int(minutes * 60 * RATE)
    spoken: list[str] = []
    written = 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        i = 0
        while written < target:
            clip = clips[i % len(clips)]
            out.writeframes((np.concatenate([clip, pause]) * 32767).astype("<i2").tobytes())
            written += clip.size + pause.size
            spoken.append(SENTENCES[i % len(SENTENCES)])
            i += 1
    return written / RATE, spoken


# --------------------------------------------------------------------------------------------
# transcription, in a child process (its own peak RSS)


def _sampler(samples: list[float], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        samples.append(rss_mb().get("rss_mb", 0.0))


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement named by ``spec["task"]`` and return its numbers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    samples: list[float] = []
    stop = threading.Event()
    threading.Thread(target=_sampler, args=(samples, stop), daemon=True).start()
    task = spec["task"]
    out: dict[str, Any] = {}
    if task == "path":  # faster-whisper given the path: memory until the first segment
        from faster_whisper import WhisperModel

        model = WhisperModel(spec["whisper"], device="cpu", compute_type="int8", cpu_threads=2)
        out["rss_loaded_mb"] = rss_mb()["rss_mb"]
        segments, _ = model.transcribe(spec["audio"], beam_size=1, vad_filter=True)
        next(iter(segments))
    elif task == "wer":
        from tera_desktop.core.speech import Segment, WhisperTranscriber

        for beam in (1, 5):
            tr = WhisperTranscriber(Path(spec["whisper"]), threads=spec["threads"], beam_size=beam)
            tr.load()
            t0 = time.perf_counter()
            text = " ".join(
                e.text for e in tr.transcribe(Path(spec["audio"])) if isinstance(e, Segment)
            )
            out[f"beam{beam}"] = {
                "wer": round(wer(text, spec["reference"]), 4),
                "seconds": round(time.perf_counter() - t0, 2),
            }
    else:  # "ingest" or "stop": through Engine.upload, as `tera upload` does
        from tera_desktop.core.engine import Engine
        from tera_desktop.core.errors import Cancelled
        from tera_desktop.core.ingest import FileResult, IngestProgress
        from tera_desktop.core.paths import get_paths
        from tera_desktop.core.settings import Settings

        settings = Settings(
            embedding_model=spec["embedding"],
            llm_model=spec["gguf"],
            speech_model=spec["whisper"],
            chunk_overlap=0,
            embed_threads=spec["threads"],
        )
        engine = Engine(get_paths(spec["home"]).ensure(), settings)
        engine.speech.transcriber().load()
        engine.embedder.embed_documents(["warm up"])
        out["rss_loaded_mb"] = rss_mb()["rss_mb"]
        cancel = threading.Event()
        t0 = time.perf_counter()
        first = last = None
        stop_at = spec.get("stop_after_s")
        if stop_at is not None:  # Stop at a moment unrelated to the segments, as a user does

            def press_stop() -> None:
                out["stop_set_at"] = time.perf_counter()
                cancel.set()

            threading.Timer(stop_at, press_stop).start()
        try:
            for event in engine.upload([Path(spec["audio"])], cancel=cancel):
                if isinstance(event, IngestProgress) and event.file_unit == "s":
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    out["transcribed_s"] = event.file_done
                if isinstance(event, FileResult):
                    out["status"], out["chunks"] = event.status, event.chunks
        except Cancelled:
            out["stop_latency_s"] = round(time.perf_counter() - out["stop_set_at"], 2)
        out["total_s"] = round(time.perf_counter() - t0, 2)
        out["transcribe_s"] = round((last or t0) - t0, 2)
        if out.get("status") == "added":
            (doc,) = engine.documents()
            hits = engine.store.chunks_of(doc.doc_id, 0, doc.chunks - 1)
            out["words"] = sum(len(h.text.split()) for h in hits)
        engine.close()
    stop.set()
    out["rss_peak_mb"] = rss_mb().get("peak_rss_mb")
    out["rss_samples_mb"] = samples[:: max(1, len(samples) // 200)]
    return out


def run_child(spec: dict[str, Any], timeout: float = 7200) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_media", "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {spec['task']} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def bench_speech(minutes: float, threads: int, found: dict[str, Path]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tera-media-"))
    audio = work / f"recording-{minutes:g}min.wav"
    t0 = time.perf_counter()
    clips = [speak(s, work) for s in SENTENCES]
    duration, _ = make_recording(audio, minutes, clips)
    print(f"made a {duration / 60:.1f}-minute recording in {time.perf_counter() - t0:.0f} s",
          flush=True)  # fmt: skip
    _, spoken = make_recording(work / "minute.wav", 1.0, clips)
    reference = " ".join(spoken)
    common = {
        "embedding": str(found["embedding"]),
        "gguf": str(found["gguf"]),
        "whisper": str(found["whisper"]),
        "threads": threads,
    }
    result: dict[str, Any] = {"audio_s": round(duration, 1), "file_mb": audio.stat().st_size / 1e6}
    print("ingesting the recording...", flush=True)
    result["ingest"] = run_child({**common, "task": "ingest", "audio": str(audio),
                                  "home": str(work / "home")})  # fmt: skip
    print("Stop inside the recording...", flush=True)
    result["stop"] = run_child({**common, "task": "stop", "audio": str(audio),
                                "home": str(work / "home-stop"), "stop_after_s": 8.0})  # fmt: skip
    print("faster-whisper given the path (memory)...", flush=True)
    result["path"] = run_child({**common, "task": "path", "audio": str(audio)})
    print("word error rate, greedy and beam 5...", flush=True)
    result["wer"] = run_child({**common, "task": "wer", "audio": str(work / "minute.wav"),
                               "reference": reference})  # fmt: skip
    return result


# --------------------------------------------------------------------------------------------
# OCR


def load_passages(n: int) -> list[str]:
    texts = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            text = " ".join(json.loads(line).get("text", "").split())
            text = "".join(c for c in text if c.isprintable() and ord(c) < 0x250)
            if 200 < len(text) < 700:
                texts.append(text)
            if len(texts) >= n:
                break
    return texts


def render_page(paragraphs: list[str], font_name: str, size: int) -> tuple[Any, str]:
    """A 150 dpi A4 page (1240 x 1754) of ``paragraphs``, word-wrapped; the image and the text
    exactly as drawn."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT_DIR / font_name), size)
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    x0, y, width, step = 100, 110, 1040, int(size * 1.45)
    drawn: list[str] = []
    for para in paragraphs:
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) > width and line:
                draw.text((x0, y), line, fill="black", font=font)
                drawn.append(line)
                y += step
                line = word
            else:
                line = trial
            if y > 1754 - 110 - step:
                break
        if line and y <= 1754 - 110 - step:
            draw.text((x0, y), line, fill="black", font=font)
            drawn.append(line)
            y += step * 2
        if y > 1754 - 110 - 2 * step:
            break
    return page, " ".join(drawn)


def bench_ocr(pages: int) -> dict[str, Any]:
    from rapidocr_onnxruntime import RapidOCR

    from tera_desktop.core.ingest.formats.ocr import ocr_image

    passages = load_passages(pages * 4)
    raw_engine = RapidOCR()
    ocr_image(render_page(["warm up"], FONTS[0], 28)[0])  # load the models
    rows = []
    for i in range(pages):
        font = FONTS[i % len(FONTS)]
        size = (20, 24, 28, 32)[(i // len(FONTS)) % 4]
        image, truth = render_page(passages[i * 4 : i * 4 + 4], font, size)
        result, _ = raw_engine(np.asarray(image)[:, :, ::-1].copy())
        raw = " ".join(str(r[1]) for r in result or [])
        t0 = time.perf_counter()
        page = ocr_image(image)
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "font": font.removesuffix(".ttf"),
                "px": size,
                "chars": len(truth),
                "raw_char_acc": round(char_accuracy(raw, truth), 4),
                "tera_char_acc": round(char_accuracy(page.text, truth), 4),
                "raw_word_acc": round(word_accuracy(raw, truth), 4),
                "tera_word_acc": round(word_accuracy(page.text, truth), 4),
                "seconds": round(seconds, 2),
            }
        )
        print(f"page {i + 1}/{pages}: {rows[-1]}", flush=True)
    chars = sum(r["chars"] for r in rows)

    def weighted(key: str) -> float:
        return round(sum(r[key] * r["chars"] for r in rows) / chars, 4)

    return {
        "pages": rows,
        "raw_char_acc": weighted("raw_char_acc"),
        "tera_char_acc": weighted("tera_char_acc"),
        "raw_word_acc": weighted("raw_word_acc"),
        "tera_word_acc": weighted("tera_word_acc"),
        "pages_per_s": round(len(rows) / sum(r["seconds"] for r in rows), 3),
    }


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 minutes of audio, 4 pages")
    p.add_argument("--minutes", type=float, default=None, help="recording length (default 30)")
    p.add_argument("--pages", type=int, default=None, help="OCR pages (default 12)")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads for embedding")
    p.add_argument("--skip", choices=("speech", "ocr"), default=None)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "media.json")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    minutes = args.minutes or (3.0 if args.quick else 30.0)
    pages = args.pages or (4 if args.quick else 12)
    found = models()
    load = os.getloadavg()[0]
    report: dict[str, Any] = {"benchmark": "media", "load_before": round(load, 2)}
    if args.skip != "speech":
        s = bench_speech(minutes, args.threads, found)
        report["speech"] = s
        ing, stop, path = s["ingest"], s["stop"], s["path"]
        table = Table("audio", "transcribe s", "RTF", "total s", "words", "words/s",
                      "RSS loaded MB", "RSS peak MB", "Stop latency s")  # fmt: skip
        table.add(
            f"{s['audio_s'] / 60:.1f} min",
            ing["transcribe_s"],
            ing["transcribe_s"] / s["audio_s"],
            ing["total_s"],
            ing.get("words"),
            (ing.get("words") or 0) / ing["total_s"],
            ing["rss_loaded_mb"],
            ing["rss_peak_mb"],
            stop.get("stop_latency_s"),
        )
        print(f"\nTranscription (Whisper base int8, greedy, VAD; {os.cpu_count()} cores; "
              f"load average {load:.1f} before)\n")  # fmt: skip
        print(table)
        print(
            f"\nfaster-whisper given the path: peak RSS {path['rss_peak_mb']} MB by the first "
            f"segment (model loaded: {path['rss_loaded_mb']} MB); Tera's streaming: "
            f"{ing['rss_peak_mb']} MB for the whole file."
        )
        w = s["wer"]
        print(f"WER on the first minute: greedy {w['beam1']['wer']:.3f} "
              f"({w['beam1']['seconds']} s), beam 5 {w['beam5']['wer']:.3f} "
              f"({w['beam5']['seconds']} s)")  # fmt: skip
    if args.skip != "ocr":
        o = bench_ocr(pages)
        report["ocr"] = o
        table = Table("pages", "char acc (RapidOCR)", "char acc (Tera)", "word acc (RapidOCR)",
                      "word acc (Tera)", "pages/s")  # fmt: skip
        table.add(
            len(o["pages"]),
            o["raw_char_acc"],
            o["tera_char_acc"],
            o["raw_word_acc"],
            o["tera_word_acc"],
            o["pages_per_s"],
        )
        print("\nOCR (RapidOCR PP-OCRv4; rendered A4 pages at 150 dpi, 20-32 px text)\n")
        print(table)
    report["machine"] = machine_info(
        "faster-whisper", "ctranslate2", "av", "rapidocr-onnxruntime", "onnxruntime", "fastembed"
    )
    report["load_after"] = round(os.getloadavg()[0], 2)
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
