#!/usr/bin/env bash
# Install Tera Desktop from this source tree into ./.venv (Python >= 3.11).
#   bash scripts/install.sh            # the app and the `tera` CLI
#   bash scripts/install.sh --test     # plus the test and lint tools
# On Debian/Ubuntu, when run as root (or with passwordless sudo), it also installs the system
# packages Qt and the llama.cpp build need. Set TERA_SKIP_APT=1 to skip that step.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="gui"
[[ "${1:-}" == "--test" ]] && extras="gui,test"

if [[ -z "${TERA_SKIP_APT:-}" ]] && command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [[ "$(id -u)" -ne 0 ]] && sudo="sudo -n"
  pkgs=(build-essential cmake git python3-venv python3-dev
        libglib2.0-0 libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
        libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
        fonts-dejavu-core)
  [[ "$extras" == *test* ]] && pkgs+=(desktop-file-utils)
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "Installing system packages: ${missing[*]}"
    if $sudo true 2>/dev/null; then
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
      echo "warning: cannot install system packages without root; install them yourself: ${missing[*]}" >&2
    fi
  fi
fi

PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  for c in python3.13 python3.12 python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY="$c"; break
    fi
  done
fi
[[ -n "$PY" ]] || { echo "error: Python 3.11 or newer is needed" >&2; exit 1; }

[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip wheel setuptools
# llama-cpp-python builds from source (no wheel on PyPI): a portable build, ~6 CPU-minutes once,
# then pip's wheel cache makes it instant.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
.venv/bin/python -m pip install -q -e ".[${extras}]"
echo "Tera $(.venv/bin/tera --version | cut -d' ' -f2) is installed in $(pwd)/.venv"
