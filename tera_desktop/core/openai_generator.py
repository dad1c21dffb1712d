"""A model server that speaks OpenAI's chat-completions API, as a ``Generator``.

llama.cpp's server, llama-cpp-python's server, Ollama, vLLM, LM Studio and text-generation-webui
all speak it. Tera's memory stays on this computer: only the question, the numbered sources picked
for it and the system prompt go to the server the user chose, one request per answer, and nothing
else (no telemetry, no model downloads). Plain ``http.client`` from the standard library: one
connection per request, streamed with server-sent events (``stream: true``).

What llama.cpp gives the local engine and a server does not: exact token counts (here a
conservative estimate with a safety margin), KV-cache prefix reuse and prefill (the server does its
own caching; ``prefill`` is a no-op). Cancelling closes the HTTP stream, which makes llama.cpp's
server, vLLM and Ollama stop generating.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tera_desktop.core.errors import GenerationError, ServerError
from tera_desktop.core.generator import Capabilities, GenerationStats, Message, Sampling
from tera_desktop.core.secrets import known_secret, mask_url

CONNECT_TIMEOUT = 10.0  # seconds to open a connection (the read timeout is a setting)
TOKEN_SAFETY = 1.15  # count_tokens over-estimates by this factor (and +2 per call)
_CTX_KEYS = ("max_model_len", "context_length", "max_context_length", "n_ctx", "context_window")
_EXTRA_FIELDS = ("top_k", "repeat_penalty", "stream_options")  # not in OpenAI's own API
_ERROR_BODY_LIMIT = 64 * 1024
MAX_LINE_BYTES = 1 << 20  # one server-sent event line: a token is a few bytes, 1 MB is absurd
DEADLINE_FACTOR = 3  # a whole answer may take this many times ``timeout`` (360 s by default)
_READ_SIZE = 64 * 1024
JSON_LIMIT = 16 << 20  # /v1/models of a server with hundreds of models is well under 1 MB
DEFAULT_SAMPLING = Sampling()
log = logging.getLogger(__name__)
_PIECE = re.compile(r"\d|[A-Za-z]+|\s+|[^\sA-Za-z\d]")


@dataclass(frozen=True)
class ServerModel:
    """One model the server offers: its id and, when the server reports it, its context size."""

    id: str
    n_ctx: int | None = None

    @property
    def label(self) -> str:
        """A short name for people: llama.cpp's servers use the model file's path as its id."""
        return self.id.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or self.id


def api_base(url: str) -> str:
    """The server's API root, ending in ``/v1`` (accepted with or without it, and with a slash)."""
    url = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerError(
            f"The model server address must look like http://host:8080 (got {mask_url(url)!r}).",
            "Enter the server's address in Settings → Model server, or leave it empty to use "
            "the language model on this computer.",
            reason="protocol",
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens a BPE or SentencePiece tokenizer makes of ``text``: a digit
    or a punctuation mark is one token, a run of letters one per three, a newline one, a non-ASCII
    character one per UTF-8 byte after the first; then ``TOKEN_SAFETY`` on top."""
    n = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isspace():
            n += piece.count("\n") + (len(piece) - piece.count("\n")) // 4
        elif first.isascii():
            n += (len(piece) + 2) // 3 if first.isalpha() else 1
        else:
            n += max(1, len(piece.encode("utf-8")) - 1)
    return math.ceil(n * TOKEN_SAFETY) + 2


def _error_message(body: bytes) -> str:
    """The server's own words from an error body (OpenAI, llama.cpp, FastAPI, Ollama shapes)."""
    text = body.decode("utf-8", errors="replace").strip()
    with contextlib.suppress(ValueError):
        data = json.loads(text)
        if isinstance(data, dict):
            err = data.get("error", data.get("detail", data.get("message")))
            if isinstance(err, dict):
                err = err.get("message") or err.get("msg") or err
            if isinstance(err, list) and err and isinstance(err[0], dict):
                err = err[0].get("msg") or err[0]
            if err:
                text = str(err)
    text = " ".join(text.split())
    return text[:300] + "…" if len(text) > 300 else text


def answer_tokens(text: str) -> int:
    """Tokens in one streamed piece, counted on Tera's side (a lower estimate, so that a normal
    answer is never cut early): a run of letters, a digit, a punctuation mark or a newline each
    count one; a piece is at least one token (llama.cpp and Ollama stream one token per piece)."""
    n = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        n += piece.count("\n") if piece[0].isspace() else 1 + len(piece) // 16
    return max(1, n)


class _Stop(Exception):
    """A limit of Tera's own ended the stream: ``kind`` is "idle", "deadline" or "too-long"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Lines:
    """The lines of a streamed body, read in pieces of at most 64 KB: a line longer than
    ``max_line`` bytes, no new answer text within ``idle`` seconds, or an answer running past
    ``deadline`` (a ``time.monotonic()``) ends it with ``_Stop``, whatever the server sends."""

    def __init__(
        self, response: http.client.HTTPResponse, *, max_line: int, idle: float, deadline: float
    ) -> None:
        self._response = response
        self._buf = bytearray()
        self._max_line = max_line
        self._idle = idle
        self._deadline = deadline
        self.progress_at = time.monotonic()  # when the last piece of answer came
        self.received = 0  # bytes read

    def check_time(self) -> None:
        now = time.monotonic()
        if now >= self._deadline:
            raise _Stop("deadline")
        if now - self.progress_at >= self._idle:
            raise _Stop("idle")

    def next(self) -> bytes:
        """The next line with its newline; the rest without one at the end; b"" at the end."""
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > self._max_line:
                raise _Stop("too-long")
            self.check_time()
            data = self._response.read1(_READ_SIZE)
            if not data:
                line = bytes(self._buf)
                self._buf.clear()
                return line
            self.received += len(data)
            self._buf += data


class _Server:
    """Requests to one server: connect, send, map every failure to a ``ServerError``."""

    def __init__(
        self,
        url: str,
        api_key: str = "",
        *,
        timeout: float = 120.0,
        connect_timeout: float = 0,
        root: bool = False,
    ) -> None:
        # shown in messages: a user name and password in the address never are
        self.base = mask_url(api_base(url)[: -len("/v1")] if root else api_base(url))
        parts = urllib.parse.urlsplit(self.base)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = parts.path
        self.netloc = parts.netloc.rsplit("@", 1)[-1]
        self.api_key = known_secret(api_key)  # masked from now on wherever Tera shows text
        self.timeout = timeout
        self.connect_timeout = connect_timeout or min(CONNECT_TIMEOUT, timeout)

    def _fail_connect(self, exc: BaseException) -> ServerError:
        where = f"the model server at {self.netloc}"
        if isinstance(exc, socket.gaierror):
            return ServerError(
                f"Cannot find {where}: the name {self.host!r} does not resolve.",
                "Check the address in Settings → Model server and that this computer is on the "
                "same network.",
                reason="unreachable",
            )
        if isinstance(exc, ConnectionRefusedError):
            return ServerError(
                f"Cannot reach {where}: nothing accepts connections on port {self.port} "
                "(connection refused).",
                "Start the server (for example `python -m llama_cpp.server --model X.gguf`, "
                "`ollama serve`), or fix the address in Settings → Model server.",
                reason="unreachable",
            )
        if isinstance(exc, TimeoutError):
            return ServerError(
                f"Cannot reach {where}: no answer within {self.connect_timeout:g} s.",
                "Check that the server is running and that no firewall blocks the port.",
                reason="timeout",
            )
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            return ServerError(
                f"Cannot open a secure connection to {where}: {exc}.",
                "Check the address (http:// or https://) and the server's certificate.",
                reason="unreachable",
            )
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return ServerError(
            f"Cannot reach {where}: {reason}.",
            "Check the address in Settings → Model server and the network.",
            reason="unreachable",
        )

    def timeout_error(self) -> ServerError:
        return ServerError(
            f"The model server at {self.netloc} sent nothing for {self.timeout:g} s.",
            "It may be overloaded or the model too slow for the question: try again, or raise "
            "llm_timeout in the settings.",
            reason="timeout",
        )

    def http_error(self, status: int, body: bytes, what: str, model: str = "") -> ServerError:
        said = _error_message(body)
        detail = f": {said}" if said else ""
        if status in (401, 403):
            return ServerError(
                f"The model server at {self.netloc} refused the API key (HTTP {status}{detail}).",
                "Enter the right key in Settings → Model server (or TERA_LLM_API_KEY).",
                reason="auth",
            )
        if status == 404 and model and "model" in said.lower():
            return ServerError(
                f"The model server at {self.netloc} has no model {model!r} "
                f"(HTTP {status}{detail}).",
                "Choose one of its models in Settings → Model server (Test connection lists "
                "them), or set TERA_LLM_MODEL.",
                reason="model",
            )
        if status in (404, 405):
            return ServerError(
                f"{self.base} does not answer like an OpenAI-compatible server: {what} gave "
                f"HTTP {status}{detail}.",
                "Use the server's base address, like http://host:8080 (llama.cpp), "
                "http://host:11434/v1 (Ollama) or http://host:8000/v1 (vLLM).",
                reason="protocol",
            )
        return ServerError(
            f"The model server at {self.netloc} failed: {what} gave HTTP {status}{detail}.",
            "Try again; if it persists, look at the server's log.",
            reason="http",
        )

    def connect(self) -> http.client.HTTPConnection:
        """A connection to the server, open, with the read timeout set."""
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.connect_timeout)
        try:
            conn.connect()
        except Exception as exc:
            conn.close()
            raise self._fail_connect(exc) from None
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
        return conn

    def send(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        stream: bool = False,
    ) -> http.client.HTTPResponse:
        """Send one request on ``conn``; the response, its status below 400 (the connection is
        closed on any failure)."""
        headers = {
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": "tera-desktop",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, self.path + path, body=data, headers=headers)
            response = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise self.timeout_error() from None
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise ServerError(
                f"The model server at {self.netloc} closed the connection before answering "
                f"({exc or type(exc).__name__}).",
                "Check that the address is the model server's and look at its log.",
                reason="cut",
            ) from None
        if response.status >= 400:
            try:
                said = response.read(_ERROR_BODY_LIMIT)
            except (http.client.HTTPException, OSError):
                said = b""
            conn.close()
            model = str((body or {}).get("model") or "")
            raise self.http_error(response.status, said, f"{method} {self.path}{path}", model)
        return response

    def _read_bounded(self, response: http.client.HTTPResponse, path: str) -> bytes:
        """A JSON answer, read in 64 KB pieces: at most ``JSON_LIMIT`` bytes and ``timeout``
        seconds in all (a server that drips or never ends its answer cannot hold Tera)."""
        raw = bytearray()
        deadline = time.monotonic() + self.timeout
        while True:
            piece = response.read1(_READ_SIZE)
            if not piece:
                return bytes(raw)
            raw += piece
            if len(raw) > JSON_LIMIT:
                raise ServerError(
                    f"{self.base}{path} answered with more than {JSON_LIMIT >> 20} MB: is this "
                    "an OpenAI-compatible model server?",
                    "Use the server's base address, like http://host:8080 or http://host:11434/v1.",
                    reason="protocol",
                )
            if time.monotonic() > deadline:
                raise TimeoutError

    def get_json(self, path: str) -> Any:
        conn = self.connect()
        try:
            raw = self._read_bounded(self.send(conn, "GET", path), path)
        except TimeoutError:
            raise self.timeout_error() from None
        except (http.client.HTTPException, OSError) as exc:
            raise ServerError(
                f"The model server at {self.netloc} cut its answer short ({exc}).",
                "Try again; if it persists, look at the server's log.",
                reason="cut",
            ) from None
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            raise ServerError(
                f"{self.base}{path} did not answer with JSON: is this an OpenAI-compatible "
                "model server?",
                "Use the server's base address, like http://host:8080 or http://host:11434/v1.",
                reason="protocol",
            ) from None


def _ctx_of(entry: dict[str, Any]) -> int | None:
    for source in (entry, entry.get("meta") or {}, entry.get("metadata") or {}):
        if isinstance(source, dict):
            for key in _CTX_KEYS:
                value = source.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
    return None


def _models(server: _Server) -> list[ServerModel]:
    data = server.get_json("/models")
    entries = data.get("data") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ServerError(
            f"{server.base}/models does not list models the way OpenAI's API does.",
            "Use the server's base address, like http://host:8080 or http://host:11434/v1.",
            reason="protocol",
        )
    found = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            found.append(ServerModel(entry["id"], _ctx_of(entry)))
    return found


def list_models(
    url: str, api_key: str = "", *, timeout: float = CONNECT_TIMEOUT
) -> list[ServerModel]:
    """The models the server at ``url`` offers (``GET /v1/models``)."""
    return _models(_Server(url, api_key, timeout=timeout))


def choose_model(models: Sequence[ServerModel], wanted: str, netloc: str) -> ServerModel:
    """``wanted`` among ``models`` (by id or by its short label); when ``wanted`` is empty, the
    server's only model."""
    names = ", ".join(m.label for m in models[:12]) + (" …" if len(models) > 12 else "")
    if wanted:
        for model in models:
            if wanted in (model.id, model.label):
                return model
        if not models:
            return ServerModel(wanted)  # the server does not list models: trust the setting
        raise ServerError(
            f"The model server at {netloc} has no model {wanted!r}.",
            f"It has: {names}. Choose one in Settings → Model server, or set TERA_LLM_MODEL.",
            reason="model",
        )
    if len(models) == 1:
        return models[0]
    if not models:
        raise ServerError(
            f"The model server at {netloc} offers no model.",
            "Load a model on the server (for example `ollama pull NAME`), then try again.",
            reason="model",
        )
    raise ServerError(
        f"The model server at {netloc} has {len(models)} models; Tera needs to know which "
        "one answers.",
        f"Choose one in Settings → Model server, or set TERA_LLM_MODEL. It has: {names}.",
        reason="model",
    )


class _CancelWatch:
    """Shuts the socket down when ``cancel`` is set, so a read blocked on a silent server (still
    reading the prompt) returns at once; it stops when the request ends."""

    def __init__(self, cancel: threading.Event, conn: http.client.HTTPConnection) -> None:
        self._cancel = cancel
        self._conn = conn
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tera-llm-cancel", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.05):
            if self._cancel.is_set():
                sock = self._conn.sock
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class OpenAIGenerator:
    """An OpenAI-compatible chat-completions server as Tera's answer engine.

    Construction asks the server for its models (``GET /v1/models``), so a wrong address, key or
    model name fails here, with a message saying what to do, before any question is sent.
    """

    capabilities = Capabilities()  # no exact tokens, no prefix cache to read ahead into
    follows_conversations = True

    def __init__(
        self,
        url: str,
        *,
        model: str = "",
        api_key: str = "",
        n_ctx: int = 2048,
        timeout: float = 120.0,
        connect_timeout: float = 0,
        deadline: float = 0,
        max_line: int = MAX_LINE_BYTES,
    ) -> None:
        self._server = _Server(url, api_key, timeout=timeout, connect_timeout=connect_timeout)
        self.timeout = timeout  # no new answer text for this long ends the answer
        self.deadline = deadline or DEADLINE_FACTOR * timeout  # a whole answer, at most
        self.max_line = max_line
        self.url = self._server.base
        self.server = self._server.netloc
        try:
            offered = _models(self._server)
        except ServerError as exc:
            if exc.reason != "protocol" or not model:
                raise
            offered = []  # a server without /v1/models still works when the model is named
        self.models = offered
        chosen = choose_model(offered, model.strip(), self.server)
        self.model = chosen.id
        self.name = chosen.label
        reported = chosen.n_ctx or self._props_ctx()
        self.n_ctx = reported or n_ctx
        self.n_ctx_source = "server" if reported else "settings"
        self._plain = False  # True once the server refused the non-OpenAI sampling fields
        self.last_request_at: float | None = None  # perf_counter() when the last request was sent
        self.last_body: dict[str, Any] | None = None  # and what it sent (benchmarks, tests)

    def _props_ctx(self) -> int | None:
        """llama.cpp's own server reports its context size at ``/props`` (not under /v1)."""
        with contextlib.suppress(ServerError):
            probe = _Server(
                self.url, self._server.api_key, timeout=self._server.connect_timeout, root=True
            )
            props = probe.get_json("/props")
            if isinstance(props, dict):
                settings = props.get("default_generation_settings")
                ctx = _ctx_of(settings) if isinstance(settings, dict) else None
                return ctx or _ctx_of(props)
        return None

    @property
    def description(self) -> str:
        return f"{self.name} on the model server at {self.server}"

    # ---- Generator protocol ------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """An over-estimate (the server's tokenizer is not here): see ``estimate_tokens``."""
        return estimate_tokens(text)

    def prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m["content"]) + 4 for m in messages) + 8

    def prefill(self, messages: Sequence[Message]) -> None:
        """Nothing to do: the server keeps its own prompt cache."""

    def close(self) -> None:
        """Nothing held open between answers (one connection per request)."""

    def _body(self, messages: Sequence[Message], sampling: Sampling, max_tokens: int) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.logit_bias:
            body["logit_bias"] = {str(k): v for k, v in sampling.logit_bias.items()}
        if not self._plain:
            body["top_k"] = sampling.top_k
            body["repeat_penalty"] = sampling.repeat_penalty
            body["stream_options"] = {"include_usage": True}
        return body

    def _send(
        self,
        messages: Sequence[Message],
        sampling: Sampling,
        max_tokens: int,
        cancel: threading.Event | None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse | None, _CancelWatch | None]:
        """The open connection, the response (None when cancelled before it came) and the watch
        that closes the connection on cancel (running until the caller stops it)."""
        while True:
            body = self._body(messages, sampling, max_tokens)
            conn = self._server.connect()
            watch = _CancelWatch(cancel, conn) if cancel is not None else None
            self.last_request_at = time.perf_counter()
            self.last_body = body
            try:
                response = self._server.send(conn, "POST", "/chat/completions", body, stream=True)
                return conn, response, watch
            except ServerError as exc:
                if watch is not None:
                    watch.stop()
                if cancel is not None and cancel.is_set():
                    return conn, None, None  # cancelled while the server was silent
                refused_extras = exc.reason == "http" and any(
                    f in exc.message for f in _EXTRA_FIELDS
                )
                if self._plain or not refused_extras:
                    raise
                self._plain = True  # OpenAI's own API: send only its fields from now on

    def stream(
        self,
        messages: Sequence[Message],
        sampling: Sampling = DEFAULT_SAMPLING,
        *,
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        stats = stats if stats is not None else GenerationStats()
        start = time.perf_counter()
        began = time.monotonic()
        estimate = self.prompt_tokens(messages)
        stats.prompt_tokens = stats.prompt_tokens_evaluated = estimate  # the usage may correct it
        if estimate + 1 >= self.n_ctx:
            raise GenerationError(
                f"The question and its sources take about {estimate} tokens, more than the "
                f"model's context of {self.n_ctx}.",
                "Ask a shorter question, or use a model with a larger context on the server.",
            )
        max_tokens = max(1, min(sampling.max_tokens, self.n_ctx - estimate - 1))
        stop_event = cancel if cancel is not None else threading.Event()
        if stop_event.is_set():
            stats.stopped = True
            return
        conn, response, watch = self._send(messages, sampling, max_tokens, cancel)
        stats.timings["before_request_s"] = (self.last_request_at or start) - start
        if response is None:
            conn.close()
            stats.stopped = True
            stats.total_s = time.perf_counter() - start
            return
        pieces = 0
        counted = 0  # answer tokens, counted here (``answer_tokens``)
        limit_hit = False
        usage: dict[str, Any] = {}
        finished = False
        try:
            kind = (response.getheader("Content-Type") or "").lower()
            if "text/event-stream" not in kind:
                raise ServerError(
                    f"The model server at {self.server} answered without streaming "
                    f"(Content-Type {kind or 'missing'}).",
                    "Tera needs a server that streams answers (OpenAI's stream: true), as "
                    "llama.cpp's server, Ollama, vLLM and LM Studio do; check the address.",
                    reason="no-stream",
                )
            lines = _Lines(
                response,
                max_line=self.max_line,
                idle=self.timeout,
                deadline=began + self.deadline,
            )
            while True:
                try:
                    raw = lines.next()
                except TimeoutError:
                    if stop_event.is_set():
                        break
                    if pieces:
                        raise self._stopped("idle", pieces) from None
                    raise self._server.timeout_error() from None
                except _Stop as stop:
                    if stop_event.is_set():
                        break
                    raise self._stopped(stop.kind, pieces) from None
                except (http.client.HTTPException, OSError, ValueError) as exc:
                    if stop_event.is_set():
                        break
                    raise self._cut(str(exc) or type(exc).__name__) from None
                if not raw:
                    break  # end of the stream
                line = raw.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, "event:" lines, ": ping" comments
                payload = line[5:].strip()
                if payload == "[DONE]":
                    finished = True
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    raise self._cut("a malformed event") from None
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("error"):
                    raise ServerError(
                        f"The model server at {self.server} failed while answering: "
                        f"{_error_message(json.dumps(chunk).encode())}.",
                        "Try again; if it persists, look at the server's log.",
                        reason="http",
                    )
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or ():
                    if not isinstance(choice, dict):
                        continue
                    delta = choice.get("delta") or {}
                    text = (delta.get("content") if isinstance(delta, dict) else "") or (
                        choice.get("text") or ""
                    )
                    if choice.get("finish_reason"):
                        finished = True
                        stats.finish_reason = str(choice["finish_reason"])  # "stop", "length"
                    if text and isinstance(text, str):
                        if stats.first_token_s is None:
                            stats.first_token_s = time.perf_counter() - start
                        pieces += 1
                        counted += answer_tokens(text)
                        stats.completion_tokens = pieces
                        yield text
                        lines.progress_at = time.monotonic()
                        if counted >= max_tokens:  # the server went on past max_tokens: stop it
                            finished = limit_hit = True
                            stats.finish_reason = "length"
                            log.info("answer stopped at %d tokens (max_tokens)", counted)
                            break
                if stop_event.is_set() or limit_hit:
                    break
            if not finished and not stop_event.is_set():
                raise self._cut("the stream ended before the answer did")
        except GeneratorExit:
            stats.stopped = True
            raise
        finally:
            if watch is not None:
                watch.stop()
            with contextlib.suppress(Exception):
                response.close()
            conn.close()  # closing the stream tells the server to stop generating
            stats.total_s = time.perf_counter() - start
            stats.stopped = stats.stopped or stop_event.is_set()
            if isinstance(usage.get("prompt_tokens"), int):
                stats.prompt_tokens = usage["prompt_tokens"]
                stats.prompt_tokens_evaluated = usage["prompt_tokens"]
            if isinstance(usage.get("completion_tokens"), int) and not stats.stopped:
                stats.completion_tokens = usage["completion_tokens"]
            else:
                stats.completion_tokens = pieces

    def _stopped(self, kind: str, pieces: int) -> ServerError:
        """A limit of Tera's own ended the answer: what was received is kept (the session saves
        it with this message), and the message says which limit and how to change it."""
        where = f"the model server at {self.server}"
        if kind == "too-long":
            what = f"{where} sent a line longer than {self.max_line // (1 << 20) or 1} MB"
            hint = (
                "That is not how an OpenAI-compatible server streams an answer: check the "
                "address in Settings → Model server and the server's log."
            )
            reason = "too-long"
        elif kind == "deadline":
            what = f"{where} was still answering after {self.deadline:g} s"
            hint = "Ask a shorter question, or raise llm_timeout in the settings."
            reason = "deadline"
        else:
            what = f"{where} sent no {'more ' if pieces else ''}answer text for {self.timeout:g} s"
            hint = (
                "It may be overloaded or the model too slow: try again, or raise llm_timeout "
                "in the settings."
            )
            reason = "timeout"
        if pieces:
            return ServerError(f"Stopped: {what}; the answer so far is kept.", hint, reason=reason)
        return ServerError(f"No answer: {what}.", hint, reason=reason)

    def _cut(self, why: str) -> ServerError:
        return ServerError(
            f"The model server at {self.server} stopped in the middle of the answer ({why}).",
            "The server may have crashed or restarted, or a proxy cut the connection: ask again.",
            reason="cut",
        )
