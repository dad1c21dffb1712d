"""SIGTERM and SIGHUP during `tera ask --chat` save the turn like Ctrl-C does (issue 26.7): the
question and the partial answer stay in the saved chat, and the exit code is Ctrl-C's (130).

A real ``tera`` process answers from a stub model server on 127.0.0.1 that streams a word every
50 ms (the tiny model answers too fast to be interrupted mid-answer reliably)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stub_openai_server import serve_stub

from tera_desktop.cli import EXIT_INTERRUPTED
from tera_desktop.core.conversations import ConversationStore
from tera_desktop.core.paths import get_paths

WAIT = 60  # seconds: a generous bound for the subprocess, never asserted as a timing


def _read_some(proc: subprocess.Popen[bytes], want: bytes) -> bytes:
    """Stdout of ``proc`` until ``want`` appears (bounded by WAIT)."""
    assert proc.stdout is not None
    got = b""
    end = time.monotonic() + WAIT
    while want not in got and time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            data = os.read(proc.stdout.fileno(), 4096)
            if not data:
                break
            got += data
    return got


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_answer_saves_the_question_and_the_partial_answer(
    sig: signal.Signals, tmp_path: Path, tiny_embedding: Path
) -> None:
    home = tmp_path / "home"
    with serve_stub(mode="endless", piece_s=0.05, limit=2000) as stub:
        env = {
            **os.environ,
            "TERA_HOME": str(home),
            "TERA_EMBEDDING_MODEL": str(tiny_embedding),
            "TERA_LLM_URL": stub.url,
        }
        cli = [sys.executable, "-m", "tera_desktop.cli"]
        remembered = subprocess.run(
            [*cli, "remember", "the gate code is 4512"], env=env, capture_output=True, timeout=WAIT
        )
        assert remembered.returncode == 0, remembered.stderr
        proc = subprocess.Popen(
            [*cli, "ask", "--chat", "interrupted", "what is the gate code?"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            shown = _read_some(proc, b" word3")
            assert b" word3" in shown  # the answer is streaming
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(WAIT)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert b"[stopped]" in shown + out
    conv = ConversationStore(get_paths(home)).find("interrupted")
    assert conv is not None
    question, answer = conv.messages[-2], conv.messages[-1]
    assert question.text == "what is the gate code?"
    assert answer.text.startswith("word0 word1 word2 word3") and answer.stopped
    assert not answer.error
