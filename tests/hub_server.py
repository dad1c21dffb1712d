"""A fake model hub on 127.0.0.1: serves a folder in the hub's URL layout
(``/<repo>/resolve/<revision>/<file>``) with Range support and switches to cut the connection,
ignore Range, stall or fail. Used by the download tests (the ``hub`` fixture in conftest)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass
class Hub:
    root: Path
    base_url: str = ""
    requests: list[dict[str, str | None]] = field(default_factory=list)
    cut_after: int | None = None  # the next response body stops after this many bytes (once)
    ignore_range: bool = False  # answer 200 with the whole file even when asked for a range
    fail_status: int | None = None  # answer every request with this status
    stall: threading.Event = field(default_factory=threading.Event)  # set: do not stall
    stalling: bool = False  # wait (until stall is set) before answering

    def add(self, repo: str, name: str, data: bytes, revision: str = "main") -> None:
        path = self.root / repo / "resolve" / revision / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def ranges(self) -> list[str | None]:
        return [r["range"] for r in self.requests]


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if body:
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            path = unquote(urlsplit(self.path).path)
            hub.requests.append({"path": path, "range": rng})
            if hub.stalling:
                hub.stall.wait(5)
            if hub.fail_status is not None:
                self._send(hub.fail_status, {"Content-Length": "0"})
                return
            file = hub.root / path.lstrip("/")
            if ".." in path or not file.is_file():
                self._send(404, {"Content-Length": "0"})
                return
            data = file.read_bytes()
            status, start, end = 200, 0, len(data) - 1
            headers: dict[str, str] = {}
            if rng and not hub.ignore_range:
                m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
                assert m, rng
                start = int(m.group(1))
                end = int(m.group(2)) if m.group(2) else len(data) - 1
                if start >= len(data):
                    self._send(
                        416, {"Content-Range": f"bytes */{len(data)}", "Content-Length": "0"}
                    )
                    return
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            body = data[start : end + 1]
            headers["Content-Length"] = str(len(body))
            headers["Content-Type"] = "application/octet-stream"
            if hub.cut_after is not None:
                body, hub.cut_after = body[: hub.cut_after], None
            self._send(status, headers, body)

    return Handler


@contextmanager
def serve_hub(root: Path) -> Iterator[Hub]:
    hub = Hub(root=root)
    hub.root.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    hub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        hub.stall.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
