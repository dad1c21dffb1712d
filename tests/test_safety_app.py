"""The desktop app as a process (issue 12, point 8): SIGTERM closes it cleanly (workers joined,
the memory closed and unlocked, exit code 0), and the GUI toolkit is a dependency of the package
whose entry point is a GUI (without it, one line instead of a traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tera_desktop.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def app_env(home: Path, settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "TERA_HOME": str(home),
        "TERA_EMBEDDING_MODEL": settings.embedding_model,
        "TERA_LLM_MODEL": settings.llm_model,
        "TERA_LLM_CONTEXT": "512",
    }


def wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"the app exited early with {proc.returncode}")
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_closes_the_app_cleanly(
    tmp_path: Path, tiny_settings: Settings, sig: signal.Signals
) -> None:
    home = tmp_path / "home"
    env = app_env(home, tiny_settings)
    proc = subprocess.Popen([sys.executable, "-m", "tera_desktop"], env=env)
    log = home / "logs" / "tera.log"
    try:
        wait_for(log, "Ready.", proc)  # the memory is open (and locked) and the models loaded
        proc.send_signal(sig)
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    text = log.read_text()
    assert f"signal {int(sig)}: closing" in text
    # the memory was closed and unlocked: another process opens it at once
    listed = subprocess.run(
        [sys.executable, "-m", "tera_desktop.cli", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr


def test_the_gui_toolkit_is_a_dependency_of_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "tera-desktop" in project["gui-scripts"]
    assert any(dep.lower().startswith("pyside6") for dep in project["dependencies"])


def test_without_the_toolkit_the_app_says_so_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "no_qt"
    blocker.mkdir()
    (blocker / "PySide6.py").write_text("raise ImportError('PySide6 is not installed')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{ROOT}", "TERA_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tera_desktop"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "PySide6" in lines[0] and "Traceback" not in done.stderr


def test_list_and_forget_work_without_the_embedding_model(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_settings.embedding_model, model)
    env = {**app_env(tmp_path / "home", tiny_settings), "TERA_EMBEDDING_MODEL": str(model)}

    def tera(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tera_desktop.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert tera("remember", "the gate code is 4512").returncode == 0
    assert tera("remember", "my cat is blue").returncode == 0
    (model / "tokenizer.json").unlink()  # the model is broken now
    listed = tera("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "4512" in listed.stdout and "blue" in listed.stdout
    fact_id = next(
        line.split('"id": "')[1].split('"')[0]
        for line in listed.stdout.replace("{", "\n{").splitlines()
        if "4512" in line
    )
    forgot = tera("forget", fact_id)
    assert forgot.returncode == 0, forgot.stderr
    after = tera("list")
    assert after.returncode == 0 and "4512" not in after.stdout and "blue" in after.stdout
    asked = tera("search", "gate")  # searching needs the model: one clear line
    assert asked.returncode != 0 and "tokenizer.json" in asked.stderr
