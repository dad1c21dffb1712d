"""Assemble a benchmark run's JSONs into ``summary.md``, ``summary.json`` and PNG charts.

    python -m bench.report DIR

DIR holds the JSON each benchmark wrote (``store.json``, ``ingest.json``, ``generate*.json``,
``gui.json``, ``retrieval.json``, any other ``*.json`` with a ``"benchmark"`` key) and, when
``python -m bench`` made it, ``run.json`` (which benchmarks ran, how long, how they ended).
Re-running this on an existing DIR rebuilds the summary and the charts from the JSONs alone.
Charts need matplotlib (Agg backend, no screen); without it the summary says so and goes on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.common import Table, fmt, write_json

SUMMARY_MD = "summary.md"
SUMMARY_JSON = "summary.json"
RUN_JSON = "run.json"
ORDER = ("store", "ingest", "generate", "gui", "retrieval")
TITLES = {
    "store": "Store: upsert, cold open, search latency",
    "ingest": "Ingestion: `tera upload` beside raw FastEmbed",
    "generate": "Generation: `ask` beside raw llama-cpp-python",
    "gui": "Desktop app: event-loop stalls while ingesting and answering",
    "retrieval": "Retrieval quality (MS MARCO, TREC-DL queries) through Tera's search",
    "formats": "Document formats: extraction and ingestion",
}
NOT_SUMMARY = {SUMMARY_JSON, RUN_JSON}


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def benchmark_name(path: Path, data: Mapping[str, Any]) -> str:
    """``generate-phi2.json`` → ``generate`` family, keeping the file stem as the entry's key."""
    return str(data.get("benchmark") or path.stem.split("-")[0])


def load_results(folder: Path) -> dict[str, dict[str, Any]]:
    """Every benchmark JSON in ``folder`` by file stem (``store``, ``generate-phi2``, ...)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.json")):
        if path.name in NOT_SUMMARY:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"skipping {path}: {exc}", file=sys.stderr)
            continue
        if not isinstance(data, dict):
            continue
        if "benchmark" not in data and not (path.stem == "store" and "results" in data):
            continue
        data.setdefault("benchmark", benchmark_name(path, data))
        out[path.stem] = data
    return out


def _sort_key(stem: str, data: Mapping[str, Any]) -> tuple[int, str]:
    family = str(data.get("benchmark", stem))
    return (ORDER.index(family) if family in ORDER else len(ORDER), stem)


def families(results: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by benchmark (``generate`` and ``generate-phi2`` together), in ORDER."""
    out: dict[str, list[dict[str, Any]]] = {}
    for stem in sorted(results, key=lambda s: _sort_key(s, results[s])):
        data = results[stem]
        out.setdefault(str(data["benchmark"]), []).append(dict(data))
    return out


# --------------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------------


def _store_md(runs: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for d in runs:
        if d.get("markdown"):
            parts.append(str(d["markdown"]))
        else:
            from bench.bench_store import tables

            parts.append(tables(list(d.get("results", []))))
        params = d.get("params") or {}
        if params:
            parts.append(
                f"Synthetic {params.get('dim')}-d chunks, top-{params.get('k')}, "
                f"{params.get('queries')} queries, store config: {params.get('config')}."
            )
    return "\n\n".join(parts)


def _ingest_md(runs: Sequence[Mapping[str, Any]]) -> str:
    t = Table(
        "model",
        "files",
        "words",
        "chunks",
        "tera upload chunks/s",
        "raw FastEmbed chunks/s",
        "ratio",
        "tera upload words/s",
        "peak RSS MB",
    )
    for d in runs:
        r = d.get("result", {})
        t.add(
            Path(str(d.get("model", "?"))).name,
            r.get("files"),
            r.get("words"),
            r.get("chunks"),
            r.get("ours_chunks_per_s"),
            r.get("raw_chunks_per_s"),
            r.get("ratio_ours_vs_raw"),
            r.get("ours_words_per_s"),
            (d.get("rss") or {}).get("peak_rss_mb"),
        )
    return str(t)


def generate_rows(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [r for d in runs for r in d.get("results", [])]


def _generate_md(runs: Sequence[Mapping[str, Any]]) -> str:
    from bench.bench_generate import results_table

    return str(results_table(generate_rows(runs)))


def _gui_md(runs: Sequence[Mapping[str, Any]]) -> str:
    t = Table(
        "files ingested",
        "answers streamed meanwhile",
        "work s",
        "stall max ms",
        "stall p99 ms",
        "stall p50 ms",
        "idle stall max ms",
        "launch → window ms",
        "idle RSS before models MB",
    )
    for d in runs:
        r = d.get("result", {})
        t.add(
            r.get("files"),
            r.get("answers_streamed"),
            r.get("work_s"),
            r.get("stall_max_ms"),
            r.get("stall_p99_ms"),
            r.get("stall_p50_ms"),
            r.get("idle_stall_max_ms"),
            r.get("launch_to_window_ms"),
            r.get("idle_rss_before_models_mb"),
        )
    return str(t)


def _retrieval_md(runs: Sequence[Mapping[str, Any]]) -> str:
    from bench.bench_retrieval import tables

    return "\n\n".join(tables(d) for d in runs)


def _generic_md(runs: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for d in runs:
        if d.get("markdown"):
            parts.append(str(d["markdown"]))
            continue
        result = d.get("result")
        if isinstance(result, dict):
            t = Table("measure", "value")
            for k, v in result.items():
                if not isinstance(v, dict | list):
                    t.add(k, v)
            parts.append(str(t))
    return "\n\n".join(parts) or "(no table)"


RENDERERS = {
    "store": _store_md,
    "ingest": _ingest_md,
    "generate": _generate_md,
    "gui": _gui_md,
    "retrieval": _retrieval_md,
}


def section(name: str, runs: Sequence[Mapping[str, Any]]) -> str:
    render = RENDERERS.get(name, _generic_md)
    try:
        body = render(runs)
    except Exception as exc:  # a JSON of another shape: say so, keep the rest of the summary
        body = f"(could not render: {type(exc).__name__}: {exc})"
    return f"## {TITLES.get(name, name)}\n\n{body}"


def machine_of(
    results: Mapping[str, Mapping[str, Any]], run: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The run's machine facts, else those of the benchmark JSONs (versions merged)."""
    if run and run.get("machine"):
        return dict(run["machine"])
    machine: dict[str, Any] = {}
    versions: dict[str, str] = {}
    for data in results.values():
        m = data.get("machine") or {}
        for k, v in m.items():
            if k != "versions":
                machine.setdefault(k, v)
        versions.update(m.get("versions") or {})
    machine["versions"] = versions
    return machine


def header(machine: Mapping[str, Any], run: Mapping[str, Any] | None) -> str:
    mode = (run or {}).get("mode")
    title = f"# Tera Desktop benchmarks{f' ({mode})' if mode else ''}"
    versions = ", ".join(f"{k} {v}" for k, v in (machine.get("versions") or {}).items())
    lines = [
        title,
        "",
        f"- date: {machine.get('date', '?')}",
        f"- machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
        f" ({machine.get('cores_usable', '?')} usable), {machine.get('mem_total_gb', '?')} GB RAM",
        f"- OS: {machine.get('os', '?')}; Python {machine.get('python', '?')}",
        f"- versions: {versions or '?'}",
    ]
    if run and run.get("wall_s") is not None:
        lines.append(f"- whole run: {fmt(float(run['wall_s']))} s wall")
    if run and run.get("command"):
        lines.append(f"- command: `{run['command']}`")
    return "\n".join(lines)


def steps_table(run: Mapping[str, Any]) -> str:
    t = Table("benchmark", "status", "wall s", "timeout s", "command")
    for s in run.get("steps", []):
        t.add(s.get("name"), s.get("status"), s.get("wall_s"), s.get("timeout_s"), s.get("cmd"))
    return str(t)


# --------------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_store(runs: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    rows = sorted((r for d in runs for r in d.get("results", [])), key=lambda r: r["n"])
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = {
        "ours": "Tera (EdgeStore.search)",
        "ours_fact": 'Tera, kind="fact"',
        "raw": "raw EdgeShard.query",
        "raw_ef": "raw EdgeShard.query, larger hnsw_ef",
        "numpy": "numpy exact",
    }
    keys = list(dict.fromkeys(k for r in rows for k in r.get("search", {})))
    for key in keys:
        label = labels.get(key, key)
        pts = [(r["n"], r["search"][key]) for r in rows if key in r.get("search", {})]
        xs = [n for n, _ in pts]
        (line,) = ax.plot(xs, [s["p50"] for _, s in pts], marker="o", label=f"{label} p50")
        ax.plot(xs, [s["p95"] for _, s in pts], ls="--", color=line.get_color(), alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the store")
    ax.set_ylabel("top-10 search latency, ms (solid p50, dashed p95)")
    ax.set_title("Search latency vs store size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def chart_retrieval(runs: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    from bench.bench_retrieval import METRICS, PUBLISHED_LEADERBOARD_NDCG10

    models = [r for d in runs for r in d.get("results", []) if r.get("modes")]
    if not models:
        return None
    plt = _plt()
    names = {
        "ndcg@10": "nDCG@10",
        "ndcg@10_leaderboard": "nDCG@10\n(leaderboard)",
        "recall@10": "recall@10",
        "recall@100": "recall@100",
        "mrr@10": "MRR@10",
    }
    fig, axes = plt.subplots(
        len(models), 1, figsize=(8, 4 * len(models)), squeeze=False, sharey=True
    )
    for ax, r in zip(axes[:, 0], models, strict=True):
        modes = list(r["modes"])
        width = 0.8 / max(1, len(modes))
        for i, mode in enumerate(modes):
            xs = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(METRICS))]
            vals = [r["modes"][mode][m] for m in METRICS]
            bars = ax.bar(xs, vals, width, label=mode)
            ax.bar_label(bars, fmt="%.2f", fontsize=6)
        j = METRICS.index("ndcg@10_leaderboard")
        lo, hi = (
            min(PUBLISHED_LEADERBOARD_NDCG10.values()),
            max(PUBLISHED_LEADERBOARD_NDCG10.values()),
        )
        ax.fill_between(
            [j - 0.45, j + 0.45],
            lo,
            hi,
            color="black",
            alpha=0.35,
            zorder=3,
            label=f"published leaderboard nDCG@10 ({lo:.3f}–{hi:.3f})",
        )
        ax.set_xticks(range(len(METRICS)), [names[m] for m in METRICS], fontsize=8)
        ax.set_ylim(0, 1.08)
        ax.set_title(f"{r['model']}", fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4)
    fig.suptitle("Retrieval quality per search mode (MS MARCO, TREC-DL)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _grouped_bars(
    path: Path, title: str, ylabel: str, groups: Sequence[str], series: Mapping[str, list[float]]
) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(groups) + 2), 4))
    width = 0.8 / max(1, len(series))
    for i, (label, vals) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(groups))]
        bars = ax.bar(xs, vals, width, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def chart_generate(runs: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    rows = generate_rows(runs)
    if not rows:
        return None
    return _grouped_bars(
        path,
        "Decode speed: Tera's ask vs raw llama-cpp-python",
        "tokens/s",
        [str(r.get("model", "?")).removesuffix(".gguf") for r in rows],
        {
            "Tera ask": [float(r.get("ours_tokens_per_s") or 0) for r in rows],
            "raw llama-cpp-python": [float(r.get("raw_tokens_per_s") or 0) for r in rows],
        },
    )


def chart_gui(runs: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    rows = [d.get("result", {}) for d in runs if d.get("result")]
    if not rows:
        return None
    r = rows[-1]
    return _grouped_bars(
        path,
        f"GUI event-loop stall while ingesting {r.get('files', '?')} files and answering",
        "delay past a 5 ms timer, ms",
        ["p50 while working", "p99 while working", "max while working", "max when idle"],
        {
            "stall": [
                float(r.get("stall_p50_ms") or 0),
                float(r.get("stall_p99_ms") or 0),
                float(r.get("stall_max_ms") or 0),
                float(r.get("idle_stall_max_ms") or 0),
            ]
        },
    )


def chart_ingest(runs: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    rows = [d for d in runs if d.get("result")]
    if not rows:
        return None
    return _grouped_bars(
        path,
        "Ingestion: tera upload vs raw FastEmbed (same chunks)",
        "chunks/s",
        [Path(str(d.get("model", "?"))).name for d in rows],
        {
            "tera upload": [float(d["result"].get("ours_chunks_per_s") or 0) for d in rows],
            "raw FastEmbed": [float(d["result"].get("raw_chunks_per_s") or 0) for d in rows],
        },
    )


CHARTS = {
    "store": ("store_search_latency.png", chart_store),
    "retrieval": ("retrieval_metrics.png", chart_retrieval),
    "generate": ("generate_tokens_per_s.png", chart_generate),
    "gui": ("gui_stall.png", chart_gui),
    "ingest": ("ingest_throughput.png", chart_ingest),
}


def make_charts(
    grouped: Mapping[str, Sequence[Mapping[str, Any]]], folder: Path
) -> tuple[dict[str, str], list[str]]:
    """PNG per benchmark that has one: ({benchmark: file name}, [problems])."""
    made: dict[str, str] = {}
    problems: list[str] = []
    try:
        _plt()
    except ImportError:
        return made, ["charts skipped: matplotlib is not installed (pip install matplotlib)"]
    for name, (file, fn) in CHARTS.items():
        if name not in grouped:
            continue
        try:
            if fn(grouped[name], Path(folder) / file):
                made[name] = file
        except Exception as exc:  # one odd JSON must not cost the others their charts
            problems.append(f"chart {file}: {type(exc).__name__}: {exc}")
    return made, problems


# --------------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------------


def build_summary(
    folder: Path, run: Mapping[str, Any] | None = None, charts: bool = True
) -> tuple[str, dict[str, Any]]:
    """(summary.md text, summary.json data) for ``folder``; writes the charts (``charts``)."""
    folder = Path(folder)
    if run is None and (folder / RUN_JSON).is_file():
        run = json.loads((folder / RUN_JSON).read_text(encoding="utf-8"))
    results = load_results(folder)
    grouped = families(results)
    machine = machine_of(results, run)
    made, problems = make_charts(grouped, folder) if charts else ({}, [])
    parts = [header(machine, run)]
    if run and run.get("steps"):
        parts.append("## Runs\n\n" + steps_table(run))
    for name, runs in grouped.items():
        text = section(name, runs)
        if name in made:
            text += f"\n\n![{name}]({made[name]})"
        parts.append(text)
    missing = [
        s["name"] for s in (run or {}).get("steps", []) if s.get("status") not in ("ok", None)
    ]
    if missing:
        parts.append("Did not finish: " + ", ".join(missing) + " (see logs/ in this folder).")
    if problems:
        parts.append("\n".join(f"- {p}" for p in problems))
    if not results:
        parts.append("No benchmark results in this folder.")
    md = "\n\n".join(parts) + "\n"
    summary = {
        "machine": machine,
        "run": dict(run) if run else None,
        "charts": made,
        "problems": problems,
        "benchmarks": {
            stem: {k: v for k, v in data.items() if k != "markdown"}
            for stem, data in results.items()
        },
    }
    return md, summary


def write_summary(folder: Path, run: Mapping[str, Any] | None = None) -> Path:
    md, summary = build_summary(folder, run)
    out = Path(folder) / SUMMARY_MD
    out.write_text(md, encoding="utf-8")
    write_json(Path(folder) / SUMMARY_JSON, summary)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m bench.report DIR", file=sys.stderr)
        return 2
    folder = Path(args[0])
    if not folder.is_dir():
        print(f"{folder} is not a folder", file=sys.stderr)
        return 2
    out = write_summary(folder)
    print(out.read_text(encoding="utf-8"))
    print(f"wrote {out} and {folder / SUMMARY_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
