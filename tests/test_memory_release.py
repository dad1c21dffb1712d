"""Memory given back (issue 12, point 7): the idle language model is unloaded and comes back with
its system prompt already read; the embedding model's arena is shrunk after each run; freed heap
pages go back to the system after loading a model and after an ingestion. These tests check the
mechanisms, not RSS numbers (the machine is shared): bench/bench_gui.py --rss-files measures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tera_desktop.core import heap
from tera_desktop.core.embedder import ARENA_SHRINK, FastEmbedEmbedder, spec_from_folder
from tera_desktop.core.engine import Engine
from tera_desktop.core.errors import ConfigError
from tera_desktop.core.generator import GenerationStats, LlamaGenerator, Sampling
from tera_desktop.core.paths import Paths
from tera_desktop.core.session import ask_once
from tera_desktop.core.settings import Settings

SYSTEM = {"role": "system", "content": "You are Tera, a helpful assistant. " * 4}
GREEDY = Sampling(max_tokens=6, temperature=0.0, seed=1)


def q(text: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": text}]


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``condition`` (a generous deadline, not a timing assert)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def answer(gen: LlamaGenerator, text: str) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    return "".join(gen.stream(q(text), GREEDY, stats=stats)), stats


def test_an_idle_model_is_unloaded_and_the_next_question_loads_it(tiny_gguf: Path) -> None:
    gen = LlamaGenerator(tiny_gguf, n_ctx=512, n_threads=1, n_threads_batch=1)
    try:
        gen.prefill([SYSTEM])
        system_tokens = len(gen.tokens_for([SYSTEM], add_generation_prompt=False))
        first, _ = answer(gen, "where is the gate?")
        trims = heap.trims
        gen.unload_after_s = 0.05
        assert wait_for(lambda: not gen.loaded), "the idle model was not unloaded"
        assert gen.unloads == 1 and gen.loads == 1
        if heap._trim_function() is not None:  # glibc: the freed pages go back
            assert wait_for(lambda: heap.trims > trims)
        again, stats = answer(gen, "where is the gate?")
        assert gen.loads == 2
        assert again == first  # the same model, the same greedy answer
        # the system prompt's KV cache was put back: only what follows it is read again
        assert stats.prompt_tokens_evaluated == stats.prompt_tokens - system_tokens
    finally:
        gen.close()


def test_without_the_kept_system_prompt_the_reload_reads_it_again(tiny_gguf: Path) -> None:
    """The control for the test above: the KV cache kept across an unload is what saves
    reading the system prompt again."""
    gen = LlamaGenerator(tiny_gguf, n_ctx=512, n_threads=1, n_threads_batch=1)
    try:
        gen.prefill([SYSTEM])
        assert gen.unload() and not gen.loaded
        gen._system = None  # as if llama.cpp could not save it
        _, stats = answer(gen, "where is the gate?")
        assert gen.loaded and stats.prompt_tokens_evaluated == stats.prompt_tokens
    finally:
        gen.close()


def test_a_model_in_use_is_never_unloaded(tiny_gguf: Path) -> None:
    gen = LlamaGenerator(tiny_gguf, n_ctx=512, n_threads=1, n_threads_batch=1, unload_after_s=0.05)
    try:
        stream = gen.stream(q("tell me a long story"), Sampling(max_tokens=40, seed=1))
        pieces = [next(stream)]
        assert not gen.unload()  # an answer is streaming: the model stays
        time.sleep(0.3)  # well past the idle time, mid-answer
        assert gen.loaded and gen.unloads == 0
        pieces.extend(stream)
        assert len(pieces) > 1
        assert wait_for(lambda: not gen.loaded)  # idle once the answer ended
    finally:
        gen.close()


def test_uses_from_several_threads_while_it_unloads_and_reloads(tiny_gguf: Path) -> None:
    gen = LlamaGenerator(tiny_gguf, n_ctx=512, n_threads=1, n_threads_batch=1)
    errors: list[BaseException] = []
    stop = threading.Event()

    def count() -> None:
        try:
            while not stop.is_set():
                assert gen.count_tokens("the gate code is 4512") > 0
                time.sleep(0.002)  # gaps in which the model is idle and may be unloaded
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=count) for _ in range(2)]
    try:
        for worker in workers:
            worker.start()
        unloaded = 0
        deadline = time.monotonic() + 30
        while unloaded < 5 and time.monotonic() < deadline:
            unloaded += gen.unload()  # only when no thread is inside the model
        stop.set()
        for worker in workers:
            worker.join()
        assert not errors and unloaded == 5 and gen.unloads == 5
        assert answer(gen, "still fine?")[0]
    finally:
        stop.set()
        gen.close()


def test_the_setting_reaches_the_loaded_model(paths: Paths, tiny_settings: Settings) -> None:
    assert Settings().llm_unload_after_minutes == 5.0  # like Ollama's keep_alive
    with pytest.raises(ConfigError, match="llm_unload_after_minutes"):
        Settings(llm_unload_after_minutes=-1).validate()
    engine = Engine(paths, replace(tiny_settings, llm_unload_after_minutes=0))
    try:
        gen = engine.generator
        assert isinstance(gen, LlamaGenerator) and gen.unload_after_s == 0
        gen.prefill([SYSTEM])
        assert gen._timer is None  # 0: kept loaded, no idle timer
        engine.settings = replace(engine.settings, llm_unload_after_minutes=2)
        assert gen.unload_after_s == 120 and gen._timer is not None
        engine.settings = replace(engine.settings, llm_unload_after_minutes=0.001)
        assert wait_for(lambda: not gen.loaded)
        engine.remember("The gate code is 4512.")
        events = list(ask_once(engine, "what is the gate code?"))  # loads it again to answer
        assert gen.loaded and gen.loads == 2
        assert any(type(e).__name__ == "AnswerDone" for e in events)
    finally:
        engine.close()
    assert not gen.loaded and gen._timer is None  # closing cancels the timer


def test_the_embedding_arena_is_shrunk_after_each_run(tiny_embedding: Path) -> None:
    emb = FastEmbedEmbedder(spec_from_folder(tiny_embedding))
    session = emb._model.model.model
    key, value = ARENA_SHRINK
    assert session.run_options.get_run_config_entry(key) == value
    before = session.runs
    vectors = emb.embed_documents(["the gate code is 4512", "my cat", "paris in may"])
    assert vectors.shape[0] == 3
    assert session.runs == before + 3  # one text per run: no padding, no batch-sized buffers


def test_an_ingestion_gives_its_memory_back(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(3):
        (folder / f"n{i}.md").write_text(f"# Note {i}\n\nThe gate code is 45{i}2.")
    trims = heap.trims
    results = list(engine.upload([folder]))
    assert engine.count() == 3 and results
    if heap._trim_function() is not None:  # glibc: after each batch and at the end
        assert heap.trims >= trims + 2


def test_release_memory_collects_cycles_on_the_main_thread_only() -> None:
    import gc
    import threading

    from tera_desktop.core import heap

    class Cycle:
        pass

    def make() -> None:
        c = Cycle()
        c.me = c  # type: ignore[attr-defined]

    was = gc.isenabled()
    gc.disable()  # as the desktop app runs (ui/gui_gc.py)
    try:
        gc.collect()
        make()
        alive = lambda: sum(isinstance(o, Cycle) for o in gc.get_objects())  # noqa: E731
        assert alive() == 1
        worker = threading.Thread(target=heap.release_memory)
        worker.start()
        worker.join()
        assert alive() == 1  # a worker thread never collects
        heap.release_memory()
        assert alive() == 0
    finally:
        if was:
            gc.enable()
