"""Helpers shared by the benchmarks: machine facts, timing statistics, RSS, tables, JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(*packages: str) -> dict[str, Any]:
    """What the numbers were measured on; ``packages`` are distribution names to report."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_gb": _mem_total_gb(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {p: version(p) for p in packages},
    }


def rss_mb() -> dict[str, float]:
    """This process's resident memory in MiB (Linux): all of it (``rss_mb``), its heap
    (``anon_mb``; the rest is memory-mapped files, which the kernel can evict) and the peak."""
    keys = {"VmRSS": "rss_mb", "RssAnon": "anon_mb", "VmHWM": "peak_rss_mb"}
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = keys.get(line.split(":")[0])
            if key:
                out[key] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def percentiles(samples: Iterable[float], ps: Sequence[float] = (50, 95)) -> dict[str, float]:
    """``{"p50": ..., "p95": ...}`` of ``samples`` (linear interpolation)."""
    arr = np.asarray(list(samples), dtype=np.float64)
    if arr.size == 0:
        return {f"p{p:g}": float("nan") for p in ps}
    return {f"p{p:g}": float(np.percentile(arr, p)) for p in ps}


def latency_ms(seconds: Iterable[float]) -> dict[str, float]:
    """Latency summary in milliseconds: p50, p95, mean, max, n."""
    ms = np.asarray(list(seconds), dtype=np.float64) * 1000.0
    stats = {k: round(v, 3) for k, v in percentiles(ms, (50, 95)).items()}
    stats["mean"] = round(float(ms.mean()), 3) if ms.size else float("nan")
    stats["max"] = round(float(ms.max()), 3) if ms.size else float("nan")
    stats["n"] = int(ms.size)
    return stats


def dir_size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return round(total / 1024**2, 1)


def fmt(value: Any, digits: int = 3) -> str:
    """A cell: numbers to ``digits`` significant figures, thousands separated; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        if abs(value) >= 10 ** (digits - 1):
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


class Table:
    """A Markdown table built row by row."""

    def __init__(self, *columns: str) -> None:
        self.columns = list(columns)
        self.rows: list[list[str]] = []

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self.rows.append([fmt(c) for c in cells])

    def markdown(self) -> str:
        lines = [
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join("---" for _ in self.columns) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.markdown()


def write_json(path: Path, data: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
