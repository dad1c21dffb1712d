"""Run the benchmark suite and write one summary.

    python -m bench [--quick] [--out DIR] [--only NAMES] [--skip NAMES] [--timeout-scale X]

Each benchmark runs in its own process (``python -m bench.bench_x ... --out DIR/x.json``) under
a time limit, so one that crashes or hangs costs only its own table. Its output goes to
``DIR/logs/x.log``. At the end ``bench.report`` writes ``DIR/summary.md`` (machine header, one
table per benchmark, charts), ``DIR/summary.json`` and the PNG charts, and the summary is printed.

=============  =========================================  ==========================================
benchmark      --quick                                    full
=============  =========================================  ==========================================
store          10k and 100k chunks                        10k, 100k and 1M chunks
ingest         60 files                                   300 files
generate       SmolLM2-135M                               SmolLM2-135M
generate-phi2  Phi-2-shaped Q4_K_M GGUF if present        the same, made first if missing
gui            200 files                                  500 files
retrieval      a 1,500-passage subset of msmarco-5k       all 5,000 passages + feedback grid
=============  =========================================  ==========================================

Default DIR: ``bench/results/<date>-quick`` or ``bench/results/<date>-full``. The quick suite is
meant to finish within 10 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, machine_info, write_json

ROOT = Path(__file__).resolve().parents[1]
PHI2 = ROOT / ".cache" / "bench-models" / "phi2-random-Q4_K_M.gguf"
PACKAGES = (
    "tera-desktop",
    "numpy",
    "fastembed",
    "onnxruntime",
    "qdrant-edge-py",
    "llama-cpp-python",
    "PySide6-Essentials",
    "matplotlib",
)
NAMES = ("store", "ingest", "generate", "generate-phi2", "conversation", "gui", "retrieval")


@dataclass
class Step:
    name: str  # also the JSON's file stem
    module: str
    args: list[str]
    timeout_s: int
    result: dict[str, Any] = field(default_factory=dict)


def smollm_path() -> Path | None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from fetch_test_models import ensure_test_models

        return Path(ensure_test_models(log=lambda *_: None)["gguf"])
    except Exception as exc:
        print(f"SmolLM2 unavailable: {exc}", file=sys.stderr)
        return None


def plan(quick: bool, phi2: Path | None) -> list[Step]:
    """The benchmarks to run, with their arguments and time limits (seconds)."""
    steps = [
        Step(
            "store",
            "bench.bench_store",
            ["--sizes", "10000,100000" if quick else "10000,100000,1000000"],
            600 if quick else 3 * 3600,
        ),
        Step("ingest", "bench.bench_ingest", ["--files", "60" if quick else "300"], 600),
    ]
    smol = smollm_path()
    gen_args = ["--runs", "2" if quick else "3"]
    if smol:
        steps.append(
            Step("generate", "bench.bench_generate", ["--model", str(smol), *gen_args], 600)
        )
    else:
        steps.append(Step("generate", "bench.bench_generate", gen_args, 600))
    if phi2 is not None:
        steps.append(
            Step(
                "generate-phi2",
                "bench.bench_generate",
                ["--model", str(phi2), "--runs", "1" if quick else "3", "--documents"],
                900 if quick else 2400,
            )
        )
    steps.append(
        Step("conversation", "bench.bench_conversation", ["--no-answers"] if quick else [], 900)
    )
    steps.append(Step("gui", "bench.bench_gui", ["--files", "200" if quick else "500"], 900))
    steps.append(
        Step(
            "retrieval",
            "bench.bench_retrieval",
            ["--limit-corpus", "1500"] if quick else ["--feedback-grid"],
            600 if quick else 3600,
        )
    )
    return steps


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the benchmark's own process group (it was started in a new session)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_step(step: Step, out: Path, scale: float) -> dict[str, Any]:
    """Run one benchmark; its stdout and stderr go to ``out/logs/<name>.log``."""
    json_path = out / f"{step.name}.json"
    json_path.unlink(missing_ok=True)  # a stale JSON must not pass for this run's
    cmd = [sys.executable, "-m", step.module, *step.args, "--out", str(json_path)]
    log_path = out / "logs" / f"{step.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    timeout = int(step.timeout_s * scale)
    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    print(f"[{step.name}] {shlex.join(cmd[1:])}  (limit {timeout} s)", flush=True)
    t0 = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            rc: int | None = proc.wait(timeout=timeout)
            status = "ok" if rc == 0 and json_path.is_file() else f"failed (exit {rc})"
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            rc = None
            status = f"timed out after {timeout} s"
        except KeyboardInterrupt:
            _kill_group(proc)
            raise
    wall = time.perf_counter() - t0
    print(f"[{step.name}] {status} in {wall:.0f} s", flush=True)
    if status != "ok":
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        print("\n".join(f"    {line}" for line in tail), flush=True)
    return {
        "name": step.name,
        "status": status,
        "rc": rc,
        "wall_s": round(wall, 1),
        "timeout_s": timeout,
        "cmd": shlex.join(["python", *cmd[1:]]),
        "log": str(log_path.relative_to(out)),
    }


def make_phi2(out: Path, scale: float) -> dict[str, Any]:
    """Full mode: build the Phi-2-shaped GGUF when it is missing (bench/make_phi2_gguf.py)."""
    step = Step("make-phi2", "bench.make_phi2_gguf", [], 1800)
    cmd = [sys.executable, "-m", step.module, "--out", str(PHI2)]
    log_path = out / "logs" / "make-phi2.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"[make-phi2] {shlex.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            rc: int | None = proc.wait(timeout=int(step.timeout_s * scale))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            rc = None
    ok = rc == 0 and PHI2.is_file()
    wall = time.perf_counter() - t0
    print(f"[make-phi2] {'ok' if ok else f'failed (exit {rc})'} in {wall:.0f} s", flush=True)
    return {
        "name": "make-phi2",
        "status": "ok" if ok else f"failed (exit {rc})",
        "rc": rc,
        "wall_s": round(wall, 1),
        "timeout_s": int(step.timeout_s * scale),
        "cmd": shlex.join(["python", *cmd[1:]]),
        "log": str(log_path.relative_to(out)),
    }


def _names(value: str) -> set[str]:
    names = {n.strip() for n in value.split(",") if n.strip()}
    unknown = names - set(NAMES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(NAMES)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smaller sizes: under 10 min on 2 cores")
    ap.add_argument("--out", type=Path, default=None, help="results folder")
    ap.add_argument("--only", type=_names, default=None, help=f"comma list of {', '.join(NAMES)}")
    ap.add_argument("--skip", type=_names, default=set(), help="comma list to leave out")
    ap.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every time limit")
    args = ap.parse_args(argv)

    mode = "quick" if args.quick else "full"
    started = datetime.now(UTC)
    out = (args.out or RESULTS_DIR / f"{started:%Y-%m-%d}-{mode}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    wanted = set(args.only or NAMES) - args.skip
    steps_done: list[dict[str, Any]] = []

    phi2: Path | None = PHI2 if PHI2.is_file() else None
    if phi2 is None and not args.quick and "generate-phi2" in wanted:
        if (ROOT / "bench" / "make_phi2_gguf.py").is_file():
            steps_done.append(make_phi2(out, args.timeout_scale))
            phi2 = PHI2 if PHI2.is_file() else None
        else:
            print("[generate-phi2] skipped: bench/make_phi2_gguf.py is missing", flush=True)
    elif phi2 is None and "generate-phi2" in wanted:
        print(f"[generate-phi2] skipped in --quick: {PHI2} is not there", flush=True)

    run: dict[str, Any] = {
        "mode": mode,
        "command": shlex.join(["python", "-m", "bench", *(argv or sys.argv[1:])]),
        "started": started.isoformat(timespec="seconds"),
        "machine": machine_info(*PACKAGES),
        "steps": steps_done,
        "wall_s": None,
    }
    for step in plan(args.quick, phi2):
        if step.name not in wanted:
            continue
        steps_done.append(run_step(step, out, args.timeout_scale))
        run["wall_s"] = round(time.perf_counter() - t0, 1)
        write_json(out / "run.json", run)  # a killed suite still leaves what it had

    from bench.report import write_summary

    run["wall_s"] = round(time.perf_counter() - t0, 1)  # the benchmarks, not the report
    write_json(out / "run.json", run)
    summary = write_summary(out, run)
    print()
    print(summary.read_text(encoding="utf-8"))
    print(f"Results in {out} (summary.md, summary.json, *.png, logs/)")
    return 0 if all(s["status"] == "ok" for s in steps_done) else 1


if __name__ == "__main__":
    sys.exit(main())
