"""llama-cpp-python's OpenAI-compatible server, started on 127.0.0.1 for tests and benchmarks.

``with llama_server(model_path) as server: server.url`` runs ``python -m llama_cpp.server`` (the
``llama-cpp-python[server]`` extra) on a free port, waits until ``/v1/models`` answers and stops
it on exit. Its output goes to a log file, named in the error when it does not start.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LlamaServer:
    url: str
    port: int
    model: Path
    log: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(port: int, api_key: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        conn.request("GET", "/v1/models", headers=headers)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def llama_server(
    model: Path,
    *,
    n_ctx: int = 2048,
    threads: int = 1,
    threads_batch: int = 2,
    api_key: str = "",
    start_timeout: float = 180.0,
    log: Path | None = None,
) -> Iterator[LlamaServer]:
    """A running llama-cpp-python server for ``model`` on 127.0.0.1."""
    port = free_port()
    log = log or Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    args = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads_batch),
    ]
    if api_key:
        args += ["--api_key", api_key]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + start_timeout
        while not _ready(port, api_key):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server did not start (log {log}):\n{tail}")
            time.sleep(0.2)
        yield LlamaServer(f"http://127.0.0.1:{port}", port, Path(model), log, process)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(20)
