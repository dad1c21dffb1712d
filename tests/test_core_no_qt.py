"""core/ never imports Qt, and importing it does not load the heavy libraries (lazy imports)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import tera_desktop.core

CORE_MODULES = sorted(
    m.name for m in pkgutil.walk_packages(tera_desktop.core.__path__, "tera_desktop.core.")
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_there_are_core_modules_to_check() -> None:
    assert "tera_desktop.core.store" in CORE_MODULES
    assert "tera_desktop.core.ingest.pipeline" in CORE_MODULES
    assert len(CORE_MODULES) >= 12


def test_core_imports_without_qt() -> None:
    """Import every core module where PySide6/shiboken6/PyQt cannot be imported at all."""
    code = f"""
        import importlib, importlib.abc, sys

        class NoQt(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"):
                    raise ImportError("Qt is blocked in this test: " + name)
                return None

        sys.meta_path.insert(0, NoQt())
        for name in {CORE_MODULES!r}:
            importlib.import_module(name)
        qt = [m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6")]
        assert not qt, qt
        print("ok", len({CORE_MODULES!r}))
    """
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_importing_core_and_cli_loads_no_heavy_library() -> None:
    code = f"""
        import importlib, sys
        for name in {CORE_MODULES!r} + ["tera_desktop.cli"]:
            importlib.import_module(name)
        heavy = [m for m in ("fastembed", "llama_cpp", "qdrant_edge", "qdrant_client",
                             "onnxruntime", "PySide6") if m in sys.modules]
        print(heavy)
    """
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_app_window_module_loads_no_model_or_store_library() -> None:
    """The window appears before any model loads: importing the GUI pulls in Qt only."""
    result = _run(
        """
        import sys
        import tera_desktop.app, tera_desktop.ui.main_window
        heavy = [m for m in ("fastembed", "llama_cpp", "qdrant_edge", "qdrant_client",
                             "onnxruntime") if m in sys.modules]
        print(heavy)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
