"""scripts/install.sh's progress lines for the llama.cpp build (issue 24.5): the measured estimate,
then "still building" past it. The script's helpers are run alone on a stand-in build that ends
when the last note has been printed (nothing is timed)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install.sh"


def helpers() -> str:
    """The script from its step helpers up to the first step (no step runs)."""
    text = SCRIPT.read_text(encoding="utf-8")
    return text[text.index("STEPS=") : text.index("show_log_tail() {")]


def build_message() -> str:
    found = re.search(r'^BUILD_MESSAGE="([^"]+)"', SCRIPT.read_text(encoding="utf-8"), re.M)
    assert found
    return found.group(1)


def test_the_build_estimate_is_the_measured_one() -> None:
    message = build_message()
    assert "about 5 minutes on 2 cores, up to 15 when the machine is busy" in message


def test_a_long_build_says_it_is_still_building(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    (tmp_path / ".venv").mkdir()
    # the stand-in build: pip's line, then it runs until the installer has said its last note
    build = tmp_path / "build.sh"
    build.write_text(
        "sleep 1\n"  # as pip: the line comes after the installer started watching the log
        "echo '  Building wheel for llama-cpp-python'\n"
        "for i in $(seq 600); do\n"
        f"  grep -q 'longer than the usual' '{out}' && exit 0\n"
        "  sleep 0.2\n"
        "done\n"
        "exit 1\n",
        encoding="utf-8",
    )
    script = f'ROOT="{tmp_path}"\n{helpers()}\nrun_logged llama-cpp-python bash "{build}"\n'
    with out.open("w") as sink:
        done = subprocess.run(
            ["bash", "-c", script],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={
                "PATH": "/usr/bin:/bin",
                "TERA_INSTALL_BEAT_S": "1",
                "TERA_BUILD_QUIET_S": "1",
                "TERA_BUILD_BUSY_S": "2",
            },
            timeout=180,
            check=False,
        )
    text = out.read_text(encoding="utf-8")
    assert done.returncode == 0, text
    lines = text.splitlines()
    at = [
        next(i for i, line in enumerate(lines) if want in line)
        for want in (build_message(), "Still building llama.cpp (", "longer than the usual")
    ]
    assert at == sorted(at), text
    assert "a busy machine takes up to 15 minutes" in text
