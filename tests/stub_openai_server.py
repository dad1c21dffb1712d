"""A small OpenAI-compatible server on 127.0.0.1 for tests: it streams given pieces, and can fail
in each way a real model server does (see ``Stub.mode``).

``GET /v1/models`` lists ``Stub.models``; ``POST /v1/chat/completions`` streams ``Stub.pieces`` as
server-sent events (chunked, like uvicorn), then a usage chunk and ``[DONE]``. Every request is
recorded in ``Stub.requests``; ``Stub.disconnected`` is set when a client hangs up mid-stream.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = (
    "ok",  # stream the pieces
    "no-stream",  # answer with one JSON object, as if stream were false
    "cut",  # stream two pieces, then drop the connection (no [DONE], no last chunk)
    "cut-clean",  # stream two pieces, then end the body cleanly but without [DONE]
    "silent",  # accept the request, then send nothing until ``release`` is set
    "endless",  # stream pieces until the client hangs up (at most ``limit`` pieces, then cut)
    "drip",  # stream two pieces, then one byte of a never-ending line per ``drip_s`` (bounded)
    "long-line",  # stream two pieces, then one line of ``limit`` KB with no newline
    "refuse-extras",  # HTTP 400 when the body has fields OpenAI's own API does not know
    "error-event",  # an error object inside the stream
    "html",  # a web server that is not a model server: 404 HTML everywhere
    "huge-models",  # GET /v1/models streams ``limit`` KB of JSON that never closes
)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class Stub:
    port: int = 0
    mode: str = "ok"
    models: list[dict[str, Any]] = field(default_factory=lambda: [{"id": "stub-model"}])
    pieces: list[str] = field(default_factory=lambda: ["The gate", " code", " is", " 4512", "."])
    api_key: str = ""  # when set, requests need "Authorization: Bearer <api_key>"
    key_status: int = 401
    usage: dict[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 42, "completion_tokens": 5, "total_tokens": 47}
    )
    requests: list[Request] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)  # a chat request arrived
    release: threading.Event = field(default_factory=threading.Event)  # ends "silent"
    disconnected: threading.Event = field(default_factory=threading.Event)
    sent_pieces: int = 0
    limit: int = 5000  # "endless": pieces at most; "long-line": KB; "drip": bytes
    drip_s: float = 0.05  # "drip": seconds between bytes
    piece_s: float = 0.001  # "endless": seconds between pieces
    sent_bytes: int = 0  # "drip", "long-line": bytes of the endless line sent

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chats(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _record(self) -> Request:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            request = Request(self.command, self.path, dict(self.headers.items()), body)
            stub.requests.append(request)
            return request

        def _json(self, status: int, data: Any, kind: str = "application/json") -> None:
            raw = data if isinstance(data, bytes) else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _authorized(self) -> bool:
            if stub.api_key and self.headers.get("Authorization") != f"Bearer {stub.api_key}":
                self._json(stub.key_status, {"error": {"message": "Invalid API key"}})
                return False
            return True

        def do_GET(self) -> None:
            self._record()
            if stub.mode == "html":
                self._json(404, b"<html>Not found</html>", "text/html")
            elif not self._authorized():
                return
            elif self.path == "/v1/models" and stub.mode == "huge-models":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self._chunk(b'{"object": "list", "data": [')
                block = b'{"id": "m"},' * 85  # ~1 KB
                try:
                    for _ in range(stub.limit):  # bounded
                        self._chunk(block)
                        stub.sent_bytes += len(block)
                except OSError:
                    stub.disconnected.set()
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": stub.models})
            else:
                self._json(404, {"detail": "Not Found"})

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _event(self, payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            self._chunk(f"data: {text}\n\n".encode())

        def _piece(self, model: str, text: str, finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
            }

        def do_POST(self) -> None:
            request = self._record()
            body = request.body or {}
            if stub.mode == "html":
                self._json(404, b"<html>Not found</html>", "text/html")
                return
            if not self._authorized():
                return
            if self.path != "/v1/chat/completions":
                self._json(404, {"detail": "Not Found"})
                return
            model = str(body.get("model") or "")
            if model not in {m["id"] for m in stub.models}:
                self._json(404, {"error": {"message": f"model '{model}' not found"}})
                return
            if stub.mode == "refuse-extras":
                extra = [k for k in ("top_k", "repeat_penalty", "stream_options") if k in body]
                if extra:
                    message = f"Unrecognized request argument supplied: {extra[0]}"
                    self._json(400, {"error": {"message": message}})
                    return
            stub.received.set()
            if stub.mode == "no-stream":
                text = "".join(stub.pieces)
                self._json(
                    200,
                    {
                        "object": "chat.completion",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}}
                        ],
                    },
                )
                return
            if stub.mode == "silent":
                stub.release.wait(30)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            try:
                self._stream(model)
            except OSError:  # the client hung up
                stub.disconnected.set()

        def _stream(self, model: str) -> None:
            self._chunk(b": ping - keep-alive\n\n")  # a comment line, as sse-starlette sends
            if stub.mode == "error-event":
                self._event(self._piece(model, stub.pieces[0]))
                self._event({"error": {"message": "the model crashed"}})
                self._event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                return
            if stub.mode == "endless":
                for n in range(stub.limit):  # bounded: a client that never stops is cut here
                    if stub.release.is_set():
                        return
                    self._event(self._piece(model, f" word{n}"))
                    stub.sent_pieces += 1
                    stub.release.wait(stub.piece_s)
                self.wfile.write(b"0\r\n\r\n")
                return
            if stub.mode in ("drip", "long-line"):
                for text in stub.pieces[:2]:
                    self._event(self._piece(model, text))
                    stub.sent_pieces += 1
                self._chunk(b'data: {"choices": [{"delta": {"content": "')
                if stub.mode == "drip":
                    for _ in range(stub.limit):
                        if stub.release.wait(stub.drip_s):
                            return
                        self._chunk(b"a")
                        stub.sent_bytes += 1
                else:
                    block = b"a" * 1024
                    for _ in range(stub.limit):
                        if stub.release.is_set():
                            return
                        self._chunk(block)
                        stub.sent_bytes += len(block)
                self.wfile.write(b"0\r\n\r\n")
                return
            pieces = stub.pieces[:2] if stub.mode.startswith("cut") else stub.pieces
            for i, text in enumerate(pieces):
                last = i == len(pieces) - 1 and not stub.mode.startswith("cut")
                self._event(self._piece(model, text, "stop" if last else None))
                stub.sent_pieces += 1
            if stub.mode == "cut":
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # drop it mid-body: no terminating chunk
                return
            if stub.mode == "ok" and stub.usage is not None:
                self._event({"choices": [], "usage": stub.usage})
            if stub.mode == "ok":
                self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-request (Tera stopping a stream) is expected here


@contextmanager
def serve_stub(**options: Any) -> Iterator[Stub]:
    """A running stub on 127.0.0.1 (a free port), stopped on exit."""
    stub = Stub(**options)
    server = _QuietServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="stub-openai", daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
