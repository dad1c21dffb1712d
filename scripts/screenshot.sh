#!/usr/bin/env bash
# The README screenshots, taken on a virtual X server (needs Debian's xvfb and xauth packages).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v xvfb-run >/dev/null || { echo "install xvfb and xauth first (apt-get install xvfb xauth)" >&2; exit 1; }
QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot.py "${1:-docs/screenshots}"
