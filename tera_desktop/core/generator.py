"""Text generation: a ``Generator`` protocol and its llama.cpp implementation.

``stream(messages)`` yields text pieces as the model produces them. The chat template comes from the
GGUF metadata (``tokenizer.chat_template``), ChatML when there is none. Generation stops between two
tokens when the ``cancel`` event is set or when the caller closes the iterator; the model stays
usable. llama.cpp keeps the evaluated tokens in its KV cache and re-evaluates only what follows the
longest common prefix, so a fixed system prompt placed first is evaluated once, not per question
(``prefill()`` does it ahead of the first question).

An idle model can be unloaded (``unload_after_s``, the ``llm_unload_after_minutes`` setting, as
Ollama's ``keep_alive``): its weights, KV cache and buffers are freed, the system prompt's part of
the KV cache is kept (a few MB), and the next use loads the model again and puts that part back,
so the first question after a pause does not read the system prompt again.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tera_desktop.core.errors import GenerationError, ModelLoadError, ModelMissingError
from tera_desktop.core.heap import release_memory

log = logging.getLogger("tera.generator")

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_STOP_STRINGS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")
SMALL_MODEL_PARAMS = 1_000_000_000
PREFILL_BATCH = 32  # tokens per step while reading a prompt: Stop and progress every ~1-2 s


@dataclass(frozen=True)
class Sampling:
    max_tokens: int = 400
    temperature: float = 0.3
    repeat_penalty: float = 1.1
    top_p: float = 0.95
    top_k: int = 40
    seed: int | None = None
    logit_bias: dict[int, float] | None = None  # token id → bias (benchmarks ban end-of-text)


@dataclass
class GenerationStats:
    """Filled in while a stream runs (read it after the iterator ends)."""

    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0  # after the KV-cache prefix reuse
    completion_tokens: int = 0
    first_token_s: float | None = None
    total_s: float = 0.0
    stopped: bool = False
    finish_reason: str = ""  # "stop" (the model ended), "length" (hit max_tokens), "" (stopped)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What an answer engine can do beyond streaming, declared by the engine (never probed)."""

    reads_in_steps: bool = False  # ``SteppedGenerator``: exact tokens, the prompt read in steps
    reuses_prefix: bool = False  # a KV-cached prefix: reading ahead while the user types pays
    unloads_when_idle: bool = False  # ``unload_after_s``: the model leaves memory when idle


@runtime_checkable
class Generator(Protocol):
    n_ctx: int
    name: str
    capabilities: Capabilities
    follows_conversations: bool  # small models answer better without earlier turns

    @property
    def description(self) -> str: ...  # who answers, in words: "SmolLM2 on this computer"

    def stream(
        self,
        messages: Sequence[Message],
        sampling: Sampling = ...,
        *,
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...

    def prefill(self, messages: Sequence[Message]) -> None: ...

    def close(self) -> None: ...


class SteppedGenerator(Generator, Protocol):
    """An engine with ``Capabilities.reads_in_steps`` (and ``reuses_prefix``): llama.cpp here."""

    def tokens_for(self, messages: Sequence[Message]) -> list[int]: ...

    def prefix_tokens(self, messages: Sequence[Message], upto: str) -> list[int]: ...

    def prefill_steps(
        self,
        tokens: Sequence[int],
        *,
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[tuple[int, int]]: ...


def validate_gguf(path: Path) -> None:
    """Fail fast with a clear message, before llama.cpp prints its own to stderr."""
    if not path.exists():
        raise ModelMissingError(f"The language model file {path} does not exist.")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"Cannot read the language model {path}: {exc.strerror}.") from None
    if magic != b"GGUF":
        raise ModelLoadError(
            f"{path.name} is not a GGUF model file.",
            "Choose a .gguf file (llama.cpp format), or download a model from the catalog.",
        )


class LlamaGenerator:
    """A GGUF model run by llama.cpp (llama-cpp-python).

    Every use of the llama.cpp model goes through ``_using()``, which loads it again when it was
    unloaded for being idle and counts it as busy meanwhile, so an unload never frees a model
    that another thread is using."""

    capabilities = Capabilities(reads_in_steps=True, reuses_prefix=True, unloads_when_idle=True)

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 2048,
        n_threads: int = 1,
        n_threads_batch: int = 2,
        n_batch: int = 512,
        verbose: bool = False,
        unload_after_s: float = 0.0,
    ) -> None:
        model_path = Path(model_path)
        validate_gguf(model_path)
        self._params: dict[str, Any] = {
            "model_path": str(model_path),
            "n_ctx": n_ctx,
            "n_threads": n_threads,
            "n_threads_batch": n_threads_batch,
            "n_batch": min(n_batch, n_ctx),
            "last_n_tokens_size": 64,
            "verbose": verbose,
        }
        self._state_lock = threading.Lock()  # guards loading, unloading and the use count
        self._loaded: Any = None
        self._busy = 0  # uses in progress (``_using``)
        self._last_used = time.monotonic()
        self._timer: threading.Timer | None = None
        self._closed = False
        self._system: tuple[list[int], bytes] | None = None  # the system prompt's KV, unloaded
        self._prefix: list[int] = []  # the tokens ``prefill`` evaluated (the system prompt)
        self._unload_after_s = 0.0  # 0: never unload; set below (``unload_after_s``)
        self.loads = 0  # how many times the model was loaded (tests, the status bar)
        self.unloads = 0
        self._loaded = llm = self._load_model()
        self.path = model_path
        self.name = model_path.stem
        self.n_ctx = llm.n_ctx()
        meta: dict[str, str] = dict(llm.metadata or {})
        self.chat_template = meta.get("tokenizer.chat_template") or CHATML_TEMPLATE
        self.uses_model_template = "tokenizer.chat_template" in meta
        # templates with a thinking switch (Qwen3) get it turned off: answers, not reasoning
        self.template_kwargs: dict[str, object] = (
            {"enable_thinking": False} if "enable_thinking" in self.chat_template else {}
        )
        self.eos_id = self._eos_id = llm.token_eos()
        self._bos_id = llm.token_bos()
        self._eos_text = self._piece(self._eos_id)
        self._bos_text = self._piece(self._bos_id)
        self._add_bos = bool(llm._model.add_bos_token()) and self._bos_id >= 0
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._formatter = Jinja2ChatFormatter(
            template=self.chat_template, eos_token=self._eos_text, bos_token=self._bos_text
        )
        try:
            self.n_params = int(llm._model.n_params())
        except Exception:  # an older llama-cpp-python: assume a full-size chat model
            self.n_params = 0
        # Models under 1B parameters answer follow-ups better from the question and its sources
        # alone: measured with SmolLM2-135M, the earlier turns in the prompt halve its accuracy
        # (bench/bench_conversation.py). Bigger chat models see the recent turns.
        self.follows_conversations = not 0 < self.n_params < SMALL_MODEL_PARAMS
        self._lock = threading.Lock()  # one generation at a time on one model
        self.evaluated_tokens = 0  # total prompt tokens llama.cpp actually evaluated (tests, bench)
        release_memory(collect=False)  # the buffers of reading the model file
        self.unload_after_s = unload_after_s

    # ---- loading and unloading -------------------------------------------------------------------
    def _load_model(self) -> Any:
        from llama_cpp import Llama

        try:
            llm = Llama(**self._params)
        except Exception as exc:  # llama.cpp raises ValueError("Failed to load model from file")
            raise ModelLoadError(
                f"Cannot load the language model {Path(self._params['model_path']).name}: {exc}.",
                "The file may be corrupt or incomplete, or its architecture unsupported: "
                "download it again or choose another model.",
            ) from None
        self.loads += 1
        return llm

    @property
    def unload_after_s(self) -> float:
        """Seconds the model stays loaded after its last use; 0: until ``close``."""
        return self._unload_after_s

    @unload_after_s.setter
    def unload_after_s(self, seconds: float) -> None:
        with self._state_lock:
            if seconds == self._unload_after_s:
                return
            self._unload_after_s = max(0.0, float(seconds))
            if self._timer is not None:  # counted again with the new time
                self._timer.cancel()
                self._timer = None
            self._arm_unload()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory now (False after an idle unload, until next use)."""
        return self._loaded is not None

    @contextlib.contextmanager
    def _using(self) -> Iterator[Any]:
        """The llama.cpp model, loaded again if it was unloaded; busy until the block ends."""
        with self._state_lock:
            if self._closed:
                raise GenerationError("The language model was closed.")
            if self._loaded is None:
                self._reload()
            self._busy += 1
            llm = self._loaded
        try:
            yield llm
        finally:
            with self._state_lock:
                self._busy -= 1
                self._last_used = time.monotonic()
                self._arm_unload()

    @property
    def _llm(self) -> Any:
        """The llama.cpp model (loaded if it was unloaded); for tests and benchmarks."""
        with self._using() as llm:
            return llm

    def _reload(self) -> None:
        """Load the model again and put the system prompt's KV cache back (state lock held)."""
        llm = self._load_model()
        saved, self._system = self._system, None
        if saved is not None:
            tokens, data = saved
            buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            try:
                import llama_cpp

                restored = llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(data), 0)
            except Exception as exc:  # another llama-cpp-python: the prompt is read again
                log.info("the system prompt's KV cache was not restored: %r", exc)
                restored = 0
            if restored:
                llm.input_ids[: len(tokens)] = tokens
                llm.n_tokens = len(tokens)
                llm._requires_eval = True  # logits come from the next decode, not the state
            else:
                llm.reset()
        self._loaded = llm
        log.info("language model %s loaded again", self.name)

    def _arm_unload(self) -> None:
        """Start the idle timer if an unload is due later and none is pending (state lock held)."""
        if self._timer is None and self.unload_after_s > 0 and self._loaded is not None:
            self._timer = threading.Timer(self.unload_after_s, self._on_idle_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_idle_timer(self) -> None:
        with self._state_lock:
            self._timer = None
            if self._closed or self._loaded is None or self.unload_after_s <= 0 or self._busy:
                return  # a use in progress re-arms the timer when it ends
            idle = time.monotonic() - self._last_used
            if idle < self.unload_after_s:
                self._timer = threading.Timer(self.unload_after_s - idle, self._on_idle_timer)
                self._timer.daemon = True
                self._timer.start()
                return
            self._unload()
        release_memory()

    def unload(self) -> bool:
        """Free the model now if nothing is using it (it loads again on next use)."""
        with self._state_lock:
            if self._closed or self._loaded is None or self._busy:
                return False
            self._unload()
        release_memory()
        return True

    def _unload(self) -> None:
        """Free the model, keeping the KV cache of the system prompt (state lock held, idle)."""
        llm, self._loaded = self._loaded, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        keep = _common_prefix(llm.input_ids[: llm.n_tokens], self._prefix)
        if keep:
            with contextlib.suppress(Exception):  # another llama-cpp-python: not kept
                import llama_cpp

                ctx = llm._ctx.ctx
                if keep < llm.n_tokens:
                    llm._ctx.kv_cache_seq_rm(-1, keep, -1)
                size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
                buffer = (ctypes.c_uint8 * size)()
                n = int(llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0))
                if 0 < n <= size:
                    self._system = (list(self._prefix[:keep]), ctypes.string_at(buffer, n))
        with contextlib.suppress(Exception):
            llm.close()
        self.unloads += 1
        kept = len(self._system[1]) if self._system else 0
        log.info(
            "language model %s unloaded (system prompt's KV cache kept: %d bytes)", self.name, kept
        )

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        with contextlib.suppress(Exception), self._using() as llm:
            return str(llm.detokenize([token], special=True).decode("utf-8", errors="ignore"))
        return ""

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        self._formatter.add_generation_prompt = add_generation_prompt
        template = getattr(self._formatter, "_environment", None)
        if self.template_kwargs and template is not None:
            # e.g. Qwen3: enable_thinking=False renders an empty <think></think> block, so the
            # model answers at once instead of reasoning at length first
            def raise_exception(message: str) -> None:
                raise ValueError(message)

            try:
                return str(
                    template.render(
                        messages=list(messages),
                        eos_token=self._eos_text,
                        bos_token=self._bos_text,
                        raise_exception=raise_exception,
                        add_generation_prompt=add_generation_prompt,
                        **self.template_kwargs,
                    )
                )
            except Exception as exc:
                raise GenerationError(f"The model's chat template failed: {exc}") from None
        try:
            return str(self._formatter(messages=list(messages)).prompt)  # type: ignore[arg-type]
        except Exception as exc:
            raise GenerationError(f"The model's chat template failed: {exc}") from None

    @property
    def description(self) -> str:
        return f"{self.name} on this computer"

    def tokens_for(
        self, messages: Sequence[Message], add_generation_prompt: bool = True
    ) -> list[int]:
        return self._tokenize_prompt(self.render(messages, add_generation_prompt))

    def _tokenize_prompt(self, text: str) -> list[int]:
        with self._using() as llm:
            tokens: list[int] = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if self._add_bos and (not tokens or tokens[0] != self._bos_id):
            tokens = [self._bos_id, *tokens]
        return tokens

    def count_tokens(self, text: str) -> int:
        with self._using() as llm:
            return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prefill(self, messages: Sequence[Message]) -> None:
        """Evaluate a fixed prefix (the system prompt) now, so the first question reuses it; it
        is also the part of the KV cache kept when the model is unloaded for being idle."""
        tokens = self.tokens_for(messages, add_generation_prompt=False)
        with self._lock, self._using() as llm:
            self._truncate_to(llm, self._cached(llm, tokens))
            rest = tokens[llm.n_tokens :]
            if rest:
                llm.eval(rest)
                self.evaluated_tokens += len(rest)
            self._prefix = list(tokens)

    def prefix_tokens(self, messages: Sequence[Message], upto: str) -> list[int]:
        """The tokens of the rendered prompt up to (and including) the last ``upto`` in it: the
        part that stays the same whatever follows (e.g. the question)."""
        text = self.render(messages)
        cut = text.rfind(upto)
        if cut < 0:
            return []
        return self._tokenize_prompt(text[: cut + len(upto)])

    def cached_tokens(self, tokens: Sequence[int]) -> int:
        """How many of ``tokens`` (from the start) the KV cache already holds."""
        with self._using() as llm:
            return self._cached(llm, tokens)

    @staticmethod
    def _cached(llm: Any, tokens: Sequence[int]) -> int:
        return _common_prefix(llm.input_ids[: llm.n_tokens], tokens)

    def prefill_steps(
        self,
        tokens: Sequence[int],
        *,
        cancel: threading.Event | None = None,
        batch: int = PREFILL_BATCH,
        stats: GenerationStats | None = None,
    ) -> Iterator[tuple[int, int]]:
        """Evaluate ``tokens`` (all but the last, which generation evaluates for its logits) in
        small batches after the cached prefix, yielding (done, total) after each: the progress
        of "reading the sources". Stops between two batches when ``cancel`` is set; what was
        evaluated stays in the cache, so the next call goes on from there."""
        target = list(tokens[:-1]) if len(tokens) > 1 else []
        with self._lock, self._using() as llm:
            self._truncate_to(llm, self._cached(llm, target))
            start = llm.n_tokens
        total = len(target) - start
        done = 0
        yield 0, total
        while done < total:
            if cancel is not None and cancel.is_set():
                return
            with self._lock, self._using() as llm:
                # another caller (or an idle unload) may have changed the cache between batches
                if self._cached(llm, target) < start + done:
                    self._truncate_to(llm, self._cached(llm, target))
                    done = llm.n_tokens - start
                piece = target[start + done : start + done + batch]
                if piece:
                    try:
                        llm.eval(piece)
                    except Exception as exc:
                        raise GenerationError(
                            f"The language model failed while reading: {exc}"
                        ) from None
                    self.evaluated_tokens += len(piece)
                    if stats is not None:
                        stats.prompt_tokens_evaluated += len(piece)
            done += len(piece)
            yield min(done, total), total

    @staticmethod
    def _truncate_to(llm: Any, keep: int) -> None:
        """Drop the KV cache after its first ``keep`` tokens (caller holds the lock)."""
        if keep >= llm.n_tokens:
            return
        if keep == 0 or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            llm.reset()
        else:
            llm.n_tokens = keep

    def stream(
        self,
        messages: Sequence[Message],
        sampling: Sampling = Sampling(),
        *,
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        from llama_cpp import StoppingCriteriaList

        stats = stats if stats is not None else GenerationStats()
        tokens = self.tokens_for(messages)
        stats.prompt_tokens = len(tokens)
        if len(tokens) + 1 >= self.n_ctx:
            raise GenerationError(
                f"The question and its sources take {len(tokens)} tokens, more than the model's "
                f"context of {self.n_ctx}.",
                "Ask a shorter question or raise the context size in Settings.",
            )
        max_tokens = max(1, min(sampling.max_tokens, self.n_ctx - len(tokens) - 1))
        stop_event = cancel or threading.Event()
        criteria = StoppingCriteriaList([lambda _ids, _logits: stop_event.is_set()])
        stops = [s for s in (*_STOP_STRINGS, self._eos_text) if s]
        start = time.perf_counter()
        with self._lock, self._using() as llm:
            cached = self._cached_prefix(llm, tokens)
            stats.prompt_tokens_evaluated += len(tokens) - cached
            self.evaluated_tokens += len(tokens) - cached
            try:
                pieces = llm.create_completion(
                    prompt=tokens,
                    max_tokens=max_tokens,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    top_k=sampling.top_k,
                    repeat_penalty=sampling.repeat_penalty,
                    stop=stops,
                    stream=True,
                    seed=sampling.seed,
                    logit_bias=sampling.logit_bias,
                    stopping_criteria=criteria,
                )
                for part in pieces:
                    choice: dict[str, Any] = part["choices"][0]
                    text = choice["text"]
                    if choice.get("finish_reason"):
                        stats.finish_reason = str(choice["finish_reason"])
                    if text:
                        if stats.first_token_s is None:
                            stats.first_token_s = time.perf_counter() - start
                        stats.completion_tokens += 1
                        yield text
                    if stop_event.is_set():
                        break
            except GeneratorExit:
                stats.stopped = True
                raise
            except Exception as exc:
                raise GenerationError(f"The language model failed while answering: {exc}") from None
            finally:
                stats.total_s = time.perf_counter() - start
                generated = llm.n_tokens - len(tokens)
                stats.completion_tokens = max(stats.completion_tokens, generated)
                stats.stopped = stats.stopped or stop_event.is_set()

    def _cached_prefix(self, llm: Any, tokens: list[int]) -> int:
        n = self._cached(llm, tokens)
        return min(n, len(tokens) - 1) if n else 0

    def close(self) -> None:
        with self._state_lock:
            self._closed = True
            llm, self._loaded, self._system = self._loaded, None, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if llm is not None:
            with contextlib.suppress(Exception):
                llm.close()


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens ``a`` and ``b`` share from the start."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
