"""The desktop app's responsiveness: GUI event-loop stalls while a folder of 500 files is ingested
and answers stream at the same time, and the time from launch to the window being shown.

    python -m bench.bench_gui [--files 500] [--out bench/results/gui.json]
    python -m bench.bench_gui --rss-files 1000 [--idle-s S]   # memory only: gui-rss.json

A 5 ms QTimer on the GUI thread records when it actually fires; a stall is the delay past its
interval. The work runs through the real window (drop a folder, ask questions one after another
until the ingestion ends) with the small real models (all-MiniLM-L6-v2, SmolLM2-135M).
Launch time: `python -m tera_desktop --exit-after-show` in a fresh process, from spawn to the first
event-loop turn after show(), median of 3 (offscreen platform).
Memory (``--rss-files``): the app's RSS, and its anonymous and file-backed parts, before, while
and after it ingests N mixed documents (see ``memory``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.common import RESULTS_DIR, Table, machine_info, percentiles, write_json

ROOT = Path(__file__).resolve().parents[1]
INTERVAL_MS = 5
TOPICS = ["the gate code", "my cat", "paris in may", "the dentist", "project falcon", "the garage"]


def launch_times(runs: int = 3) -> dict[str, float]:
    walls, inside, rss = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "TERA_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "tera_desktop", "--exit-after-show"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
            line = next(x for x in out.splitlines() if x.startswith("shown "))
            walls.append((time.perf_counter() - t0) * 1000)
            fields = line.split()
            inside.append(float(fields[1]))
            if "rss_mb" in fields:
                rss.append(float(fields[fields.index("rss_mb") + 1]))
    return {
        "launch_to_window_ms": round(statistics.median(walls), 1),
        "import_to_window_ms": round(statistics.median(inside), 1),
        "idle_rss_before_models_mb": round(statistics.median(rss), 1) if rss else None,
    }


def stalls(n_files: int, embedding: Path, gguf: Path) -> dict[str, object]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    from tera_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "notes"
        for i in range(n_files):
            sub = folder / f"box{i % 20}"
            sub.mkdir(parents=True, exist_ok=True)
            topic = TOPICS[i % len(TOPICS)]
            (sub / f"note{i:04}.md").write_text(
                f"# Note {i}\n\nA note about {topic}: detail number {i}, "
                f"written on day {i % 28 + 1}."
            )
        settings = Settings(
            embedding_model=str(embedding),
            llm_model=str(gguf),
            max_answer_tokens=48,
            llm_threads=1,
            llm_threads_batch=1,
        )
        window = MainWindow(get_paths(Path(tmp) / "home").ensure(), settings)
        window.show()

        def wait(signal: object, timeout_ms: int = 600_000) -> None:
            loop = QEventLoop()
            signal.connect(loop.quit)  # type: ignore[attr-defined]
            QTimer.singleShot(timeout_ms, loop.quit)
            loop.exec()

        window.start()
        wait(window.memories_changed)
        while window.llm_state == "loading":
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        window.engine.remember("The gate code is 4512.")

        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(INTERVAL_MS)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        # idle baseline
        timer.start()
        t_end = time.perf_counter() + 1.0
        while time.perf_counter() < t_end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        idle = list(ticks)
        ticks.clear()
        # ingest + answer, together
        answers = 0
        done = {"ingest": False}
        window.ingest_finished.connect(lambda: done.__setitem__("ingest", True))
        t0 = time.perf_counter()
        window.add_paths([str(folder)])
        while not done["ingest"]:
            window.chat.input.setPlainText(f"What do I know about {TOPICS[answers % len(TOPICS)]}?")
            window.chat._on_send_clicked() if hasattr(window.chat, "_on_send_clicked") else (
                window.chat.question_asked.emit(window.chat.input.toPlainText())
            )
            wait(window.answer_finished)
            answers += 1
        work_s = time.perf_counter() - t0
        timer.stop()
        window.close()
        app.processEvents()

    def gaps(samples: list[float]) -> list[float]:
        return [max(0.0, (b - a) * 1000 - INTERVAL_MS) for a, b in itertools.pairwise(samples)]

    busy, calm = gaps(ticks), gaps(idle)
    p = percentiles(busy, (50, 99))
    return {
        "files": n_files,
        "answers_streamed": answers,
        "work_s": round(work_s, 1),
        "timer_ticks": len(ticks),
        "stall_max_ms": round(max(busy), 1),
        "stall_p99_ms": round(p["p99"], 1),
        "stall_p50_ms": round(p["p50"], 2),
        "idle_stall_max_ms": round(max(calm), 1) if calm else None,
    }


def _memory_now() -> dict[str, float]:
    """This process's resident memory in MB: all of it (RSS, what a task manager shows), the
    anonymous part (heap, buffers: only freeing gives it back) and the file-backed part (code
    and mapped model files: clean pages the system can drop and read again)."""
    values = {"VmRSS": 0.0, "RssAnon": 0.0, "RssFile": 0.0, "RssShmem": 0.0, "VmHWM": 0.0}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0]) / 1024
    return {
        "rss": values["VmRSS"],
        "anon": values["RssAnon"],
        "file": values["RssFile"] + values["RssShmem"],
        "hwm": values["VmHWM"],
    }


def mixed_files(folder: Path, n_files: int) -> None:
    """``n_files`` small documents: Markdown, text, HTML, Word and PDF, in 20 folders."""
    import docx
    from fpdf import FPDF

    for i in range(n_files):
        sub = folder / f"box{i % 20}"
        sub.mkdir(parents=True, exist_ok=True)
        topic = TOPICS[i % len(TOPICS)]
        body = " ".join(f"Line {k} about {topic}, detail {i}-{k}." for k in range(40))
        kind = i % 5
        if kind == 0:
            (sub / f"note{i:04}.md").write_text(f"# Note {i}\n\n{body}")
        elif kind == 1:
            (sub / f"note{i:04}.txt").write_text(body)
        elif kind == 2:
            (sub / f"page{i:04}.html").write_text(f"<html><body><h1>{i}</h1><p>{body}</p></body>")
        elif kind == 3:
            document = docx.Document()
            document.add_heading(f"Report {i}", 1)
            document.add_paragraph(body)
            document.save(str(sub / f"report{i:04}.docx"))
        else:
            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("helvetica", size=10)
            pdf.multi_cell(0, 5, body)
            pdf.output(str(sub / f"paper{i:04}.pdf"))


def make_mixed_files_elsewhere(folder: Path, n_files: int) -> None:
    """``mixed_files`` in a child process: writing Word and PDF files imports python-docx and
    fpdf2 and leaves ~150 MB of their buffers, which the app being measured never has."""
    code = "import sys; from pathlib import Path; from bench.bench_gui import mixed_files; "
    code += "mixed_files(Path(sys.argv[1]), int(sys.argv[2]))"
    subprocess.run(
        [sys.executable, "-c", code, str(folder), str(n_files)], cwd=ROOT, check=True, timeout=1800
    )


def memory(
    n_files: int,
    embedding: Path,
    gguf: Path,
    idle_s: float | None = None,
    unload_minutes: float | None = None,
) -> dict[str, object]:
    """Memory of the app (this process, the real window, default settings but the test models)
    while it ingests ``n_files`` mixed documents: before (start-up done: both models loaded and
    the system prompt read), the peak (sampled every 100 ms on the GUI thread while ingesting;
    and the kernel's high-water mark, start-up included), 5 s after the ingestion ends, and
    after ``idle_s`` idle (default: past the language model's idle unload, plus 30 s).
    ``unload_minutes``: the ``llm_unload_after_minutes`` setting (default: the app's)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings
    from tera_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        make_mixed_files_elsewhere(folder, n_files)
        settings = Settings(
            embedding_model=str(embedding), llm_model=str(gguf), llm_threads=1, llm_threads_batch=1
        )
        if unload_minutes is not None:
            settings = replace(settings, llm_unload_after_minutes=unload_minutes)
        unload_s = settings.llm_unload_after_minutes * 60
        if idle_s is None:
            idle_s = unload_s + 30 if unload_s else 30.0
        window = MainWindow(get_paths(Path(tmp) / "home").ensure(), settings)
        window.show()

        def run_until(done: Callable[[], bool]) -> None:
            while not done():
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

        opened = {"done": False}
        window.memories_changed.connect(lambda _n: opened.__setitem__("done", True))
        t_start = time.perf_counter()
        window.start()
        run_until(lambda: opened["done"] and window.llm_state != "loading")
        start_s = time.perf_counter() - t_start
        before = _memory_now()
        samples: list[dict[str, float]] = []
        timer = QTimer()
        timer.setInterval(100)
        timer.timeout.connect(lambda: samples.append(_memory_now()))
        timer.start()
        done = {"ingest": False}
        window.ingest_finished.connect(lambda: done.__setitem__("ingest", True))
        t0 = time.perf_counter()
        window.add_paths([str(folder)])
        run_until(lambda: done["ingest"])
        work_s = time.perf_counter() - t0
        timer.stop()
        peak = max(samples or [before], key=lambda m: m["rss"])
        t_end = time.perf_counter()
        run_until(lambda: time.perf_counter() - t_end >= 5.0)
        idle_5s = _memory_now()
        run_until(lambda: time.perf_counter() - t_end >= idle_s)
        idle = _memory_now()
        generator = window.engine._generator
        unloaded = generator is not None and not getattr(generator, "loaded", True)
        stored = window.engine.count()
        window.close()
        app.processEvents()

    def mb(value: float) -> float:
        return round(value, 1)

    return {
        "rss_files": n_files,
        "rss_chunks_stored": stored,
        "rss_start_s": round(start_s, 1),
        "rss_ingest_s": round(work_s, 1),
        "rss_before_ingest_mb": mb(before["rss"]),
        "rss_before_ingest_anon_mb": mb(before["anon"]),
        "rss_before_ingest_file_mb": mb(before["file"]),
        "rss_peak_mb": mb(peak["rss"]),
        "rss_peak_anon_mb": mb(peak["anon"]),
        "rss_peak_file_mb": mb(peak["file"]),
        "rss_high_water_mb": mb(max(idle["hwm"], peak["hwm"])),  # start-up included
        "rss_idle_5s_mb": mb(idle_5s["rss"]),
        "rss_idle_5s_anon_mb": mb(idle_5s["anon"]),
        "rss_idle_5s_file_mb": mb(idle_5s["file"]),
        "rss_idle_s": round(idle_s, 1),
        "rss_idle_after_mb": mb(idle["rss"]),
        "rss_idle_after_anon_mb": mb(idle["anon"]),
        "rss_idle_after_file_mb": mb(idle["file"]),
        "llm_unload_after_s": unload_s,
        "llm_unloaded_when_idle": unloaded,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument(
        "--rss-files",
        type=int,
        default=0,
        help="only measure the app's memory (peak, idle after) ingesting this many mixed files",
    )
    ap.add_argument(
        "--idle-s",
        type=float,
        default=None,
        help="with --rss-files: seconds idle before the last measure (default: the language "
        "model's idle unload time + 30 s)",
    )
    ap.add_argument(
        "--llm-unload-minutes",
        type=float,
        default=None,
        help="with --rss-files: the llm_unload_after_minutes setting (default: the app's; 0 "
        "keeps the language model loaded)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "gui.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_test_models import ensure_test_models

    found = ensure_test_models(log=lambda *_: None)
    if args.rss_files:
        rss = memory(
            args.rss_files,
            Path(found["embedding"]),
            Path(found["gguf"]),
            idle_s=args.idle_s,
            unload_minutes=args.llm_unload_minutes,
        )
        table = Table("", "RSS MB", "anonymous MB", "file-backed MB")
        for label, key in (
            ("before ingesting (models loaded)", "rss_before_ingest"),
            ("peak while ingesting", "rss_peak"),
            ("5 s after", "rss_idle_5s"),
            (f"{rss['rss_idle_s']:.0f} s after (idle)", "rss_idle_after"),
        ):
            table.add(label, rss[f"{key}_mb"], rss[f"{key}_anon_mb"], rss[f"{key}_file_mb"])
        print(
            f"{rss['rss_files']:,} mixed files, {rss['rss_chunks_stored']:,} chunks stored in "
            f"{rss['rss_ingest_s']} s; high-water mark (start-up included) "
            f"{rss['rss_high_water_mb']} MB; language model unloaded when idle: "
            f"{'yes' if rss['llm_unloaded_when_idle'] else 'no'} "
            f"(after {rss['llm_unload_after_s']:.0f} s)\n"
        )
        print(table)
        out = args.out.with_name("gui-rss.json")
        write_json(out, {"benchmark": "gui-rss", "machine": machine_info(), "result": rss})
        print(f"\nJSON: {out}")
        return 0
    launch = launch_times()
    result = stalls(args.files, Path(found["embedding"]), Path(found["gguf"]))
    table = Table(
        "files ingested",
        "answers streamed meanwhile",
        "work s",
        "stall max ms",
        "stall p99 ms",
        "idle stall max ms",
        "launch → window ms",
        "idle RSS before models MB",
    )
    table.add(
        result["files"],
        result["answers_streamed"],
        result["work_s"],
        result["stall_max_ms"],
        result["stall_p99_ms"],
        result["idle_stall_max_ms"],
        launch["launch_to_window_ms"],
        launch["idle_rss_before_models_mb"],
    )
    print(table)
    write_json(
        args.out,
        {
            "benchmark": "gui",
            "machine": machine_info("PySide6-Essentials"),
            "result": {**result, **launch},
        },
    )
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
