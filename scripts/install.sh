#!/usr/bin/env bash
# Install Tera Desktop from this source tree into ./.venv (Python >= 3.11).
#   bash scripts/install.sh            # the app and the `tera` CLI
#   bash scripts/install.sh --test     # plus the test and lint tools
# On Debian/Ubuntu, when run as root (or with passwordless sudo), it also installs the system
# packages Qt and the llama.cpp build need. Set TERA_SKIP_APT=1 to skip that step.
# Env: PYTHON (the interpreter to use), CMAKE_ARGS (llama.cpp build options; default
# -DGGML_NATIVE=OFF: a portable build for any x86-64 CPU with AVX2), TERA_SKIP_APT=1.
#
# Every step says what it does; the pip steps print a line at least every 20 s, and their full
# output goes to .venv/install.log. A failed step says what failed and what to do.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
START=$SECONDS

extras="gui"
case "${1:-}" in
  "") ;;
  --test) extras="gui,test" ;;
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "install.sh: unknown option $1 (use --test, or nothing)" >&2; exit 2 ;;
esac

STEPS=6
step_no=0
step() { step_no=$((step_no + 1)); printf '\n==> [%d/%d] %s\n' "$step_no" "$STEPS" "$*"; }
say() { printf '    %s\n' "$*"; }
fail() {  # fail WHAT [WHAT TO DO...]
  printf '\nerror: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}
duration() {  # seconds -> "45 s" / "3 min 20 s"
  local s=$1
  if ((s < 60)); then printf '%d s' "$s"; else printf '%d min %d s' $((s / 60)) $((s % 60)); fi
}

LOG="$ROOT/.venv/install.log"
# measured here: 5 min 13 s on 2 quiet cores; 13-14 min while other work shared the machine
BUILD_MESSAGE="Building llama.cpp (about 5 minutes on 2 cores, up to 15 when the machine is busy; once, later installs reuse it)…"
BUILD_QUIET_S=${TERA_BUILD_QUIET_S:-300}  # past this: still building, as on a busy machine
BUILD_BUSY_S=${TERA_BUILD_BUSY_S:-900}  # past this: longer than measured, still working
BEAT_S=${TERA_INSTALL_BEAT_S:-20}
building_announced=""
build_start=0
build_notes=0
# run_logged WHAT CMD...: CMD in the background, its output to $LOG; every 20 s a line with the
# elapsed time and the latest progress (the build step [N/M], or what pip is fetching).
run_logged() {
  local what=$1
  shift
  echo "---- $(date -u '+%F %T') $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 &
  local pid=$! start=$SECONDS from
  from=$(wc -l <"$LOG")
  local last_beat=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS - last_beat >= BEAT_S)) && kill -0 "$pid" 2>/dev/null; then
      last_beat=$SECONDS
      local recent progress=""
      recent=$(tail -n +"$((from + 1))" "$LOG" 2>/dev/null || true)
      if [[ -z "$building_announced" ]] && grep -q "Building wheel for llama" <<<"$recent"; then
        building_announced=1
        build_start=$SECONDS
        say "$BUILD_MESSAGE"
      fi
      if [[ -n "$building_announced" ]]; then
        local built=$((SECONDS - build_start))
        if ((build_notes == 0 && built >= BUILD_QUIET_S)); then
          build_notes=1
          say "Still building llama.cpp ($(duration "$built") so far): a busy machine takes up to 15 minutes."
        elif ((build_notes == 1 && built >= BUILD_BUSY_S)); then
          build_notes=2
          say "Still building llama.cpp ($(duration "$built") so far), longer than the usual 5–15 minutes: it is still working (its output: $LOG)."
        fi
      fi
      local ninja
      ninja=$(grep -oE '\[[0-9]+/[0-9]+\]' <<<"$recent" | tail -n 1 || true)
      if [[ -n "$ninja" ]]; then
        ninja=${ninja#[}; ninja=${ninja%]}
        progress="compiling, step ${ninja%/*} of ${ninja#*/}"
      else
        progress=$(grep -E '^(Collecting|Downloading|Using cached|Installing collected|  Building wheel|Building wheel|Successfully)' <<<"$recent" \
                   | tail -n 1 | cut -c1-90 || true)
      fi
      say "... $what: $(duration $((SECONDS - start)))${progress:+ ($progress)}"
    fi
  done
  if wait "$pid"; then return 0; else return $?; fi
}
show_log_tail() {
  echo "---- the last lines of $LOG:" >&2
  tail -n 25 "$LOG" >&2 || true
  echo "----" >&2
}

# ---- 1. system packages ------------------------------------------------------------------------
step "System packages (Qt's libraries, a C++ compiler and CMake for llama.cpp)"
if [[ -n "${TERA_SKIP_APT:-}" ]]; then
  say "skipped (TERA_SKIP_APT is set)"
elif ! command -v apt-get >/dev/null 2>&1; then
  say "skipped: no apt-get here. Install yourself: a C/C++ compiler, CMake, the Python venv module,"
  say "and Qt's runtime libraries (EGL, GL, xkbcommon, fontconfig, dbus, xcb-cursor)."
else
  sudo=""
  [[ "$(id -u)" -ne 0 ]] && sudo="sudo -n"
  pkgs=(build-essential cmake git python3-venv python3-dev
        libglib2.0-0 libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
        libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
        fonts-dejavu-core)
  # espeak-ng speaks the known sentences of the voice-note tests; sox makes their ogg/flac files;
  # xdg-utils is the xdg-open the "no app opens this file" test runs
  [[ "$extras" == *test* ]] && pkgs+=(desktop-file-utils espeak-ng sox xdg-utils)
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then
    say "all present"
  elif $sudo true 2>/dev/null; then
    say "installing: ${missing[*]}"
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install \
           -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/tera-apt.$$.log 2>&1; then
      tail -n 15 /tmp/tera-apt.$$.log >&2 || true
      rm -f /tmp/tera-apt.$$.log
      fail "apt-get could not install: ${missing[*]}" \
           "Install them yourself (sudo apt-get install ${missing[*]}), then run this script" \
           "again with TERA_SKIP_APT=1."
    fi
    rm -f /tmp/tera-apt.$$.log
  else
    say "warning: these are missing and installing them needs root: ${missing[*]}"
    say "         run: sudo apt-get install ${missing[*]}"
    say "         (continuing; the steps that need them say so if they fail)"
  fi
fi

# ---- 2. Python ---------------------------------------------------------------------------------
step "Python 3.11 or newer"
PY="${PYTHON:-}"
if [[ -n "$PY" ]]; then
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || fail "PYTHON=$PY is not a Python 3.11 or newer." "Point PYTHON at one, or unset it."
else
  # Probe quietly: a pyenv shim for a version that is not active prints "command not found".
  for c in python3.13 python3.12 python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 \
       && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      PY="$c"; break
    fi
  done
fi
[[ -n "$PY" ]] || fail "No Python 3.11 or newer found (tried python3.13, python3.12, python3.11, python3)." \
  "Install one (Debian/Ubuntu: sudo apt-get install python3 python3-venv; Debian 12 has 3.11)," \
  "or point PYTHON at it: PYTHON=/path/to/python3.12 bash scripts/install.sh"
say "using $("$PY" -c 'import sys; print(f"Python {sys.version.split()[0]} at {sys.executable}")' 2>/dev/null)"

# ---- 3. virtual environment ----------------------------------------------------------------------
step "Virtual environment in $ROOT/.venv"
if [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
  say "reusing it ($(.venv/bin/python -c 'import sys; print("Python", sys.version.split()[0])'))"
else
  [[ -e .venv ]] && fail "$ROOT/.venv exists but holds no working Python 3.11+." \
    "Delete it (rm -rf $ROOT/.venv) and run this script again."
  "$PY" -m venv .venv 2>/tmp/tera-venv.$$.log || {
    cat /tmp/tera-venv.$$.log >&2; rm -f /tmp/tera-venv.$$.log
    rm -rf .venv
    fail "Creating the virtual environment failed ($PY -m venv)." \
      "Debian/Ubuntu: sudo apt-get install python3-venv (or python3.X-venv for your version), then run this script again."
  }
  rm -f /tmp/tera-venv.$$.log
  say "created"
fi
: >"$LOG"
VPY="$ROOT/.venv/bin/python"

# ---- 4. pip ------------------------------------------------------------------------------------
step "pip, setuptools and wheel (up to date)"
run_logged "updating pip" "$VPY" -m pip install --upgrade pip wheel setuptools || {
  show_log_tail
  fail "Updating pip failed (see above)." \
    "Check that this machine reaches PyPI (or your pip index), then run this script again."
}
say "pip $("$VPY" -m pip --version | cut -d' ' -f2)"

# ---- 5. llama-cpp-python -----------------------------------------------------------------------
LLAMA_VERSION="$(grep -oE '"llama-cpp-python==[^"]+"' pyproject.toml | head -n 1 | cut -d= -f3 | tr -d '"')"
[[ -n "$LLAMA_VERSION" ]] || fail "Cannot read the llama-cpp-python version from pyproject.toml."
user_cmake_args="${CMAKE_ARGS:-}"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
step "llama-cpp-python $LLAMA_VERSION (runs the language model; CMAKE_ARGS=$CMAKE_ARGS)"
have="$("$VPY" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)"
if [[ "$have" == "$LLAMA_VERSION" ]]; then
  say "already installed in .venv: nothing to build"
else
  pytag="$("$VPY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  platform_tag="$("$VPY" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')"
  # pip's cache of wheels it built (its own tag is py3-none-<platform>, or cpXY for older builds)
  cached="$("$VPY" -m pip cache list "llama_cpp_python-${LLAMA_VERSION}-" --format=abspath 2>/dev/null \
            | grep -E -- "-(py3|${pytag})-[^/]*-${platform_tag}\.whl$" | head -n 1 || true)"
  if [[ -n "$cached" ]]; then
    say "reusing the wheel pip built before: $(basename "$cached")"
  else
    if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 \
       && ! command -v clang++ >/dev/null 2>&1; then
      fail "llama-cpp-python has no ready-made wheel, so it is compiled here, and no C++ compiler was found." \
        "Install one and CMake (Debian/Ubuntu: sudo apt-get install build-essential cmake), then run this script again."
    fi
    building_announced=1
    build_start=$SECONDS
    say "$BUILD_MESSAGE"
    say "(no ready-made wheel on PyPI; pip keeps the one it builds in its cache)"
  fi
  t0=$SECONDS
  run_logged "llama-cpp-python" "$VPY" -m pip install -v "llama-cpp-python==$LLAMA_VERSION" || {
    show_log_tail
    fail "Installing llama-cpp-python $LLAMA_VERSION failed (the log's last lines are above; all of it: $LOG)." \
      "Building it needs a C/C++ compiler and CMake (Debian/Ubuntu: sudo apt-get install build-essential cmake)," \
      "and about 1 GB free in /tmp. Fix that, then run this script again." \
      ${user_cmake_args:+"You set CMAKE_ARGS=$user_cmake_args: unset it to try the default build."}
  }
  say "installed in $(duration $((SECONDS - t0)))"
fi

# ---- 6. Tera -------------------------------------------------------------------------------------
what="Tera and its libraries (FastEmbed, ONNX Runtime, Qdrant Edge, PySide6"
[[ "$extras" == *test* ]] && what+=", and the test tools: pytest, ruff, mypy"
step "$what)"
run_logged "installing" "$VPY" -m pip install -e ".[${extras}]" || {
  show_log_tail
  fail "Installing Tera's Python packages failed (the log's last lines are above; all of it: $LOG)." \
    "Check that this machine reaches PyPI (or your pip index) and has free disk space, then run this script again."
}
version="$(.venv/bin/tera --version 2>/dev/null | cut -d' ' -f2)" \
  || fail "Tera was installed but .venv/bin/tera does not run." "See $LOG, and run this script again."

# ---- done ----------------------------------------------------------------------------------------
printf '\n==> Done in %s: Tera %s is installed in %s/.venv\n' "$(duration $((SECONDS - START)))" "$version" "$ROOT"
cat <<EOF

Start the app:        $ROOT/.venv/bin/tera-desktop
The command line:     $ROOT/.venv/bin/tera --help
Check this install:   $ROOT/.venv/bin/tera doctor
EOF
"$VPY" - <<'PY' || true
from tera_desktop.core.paths import get_paths

p = get_paths()
print("Your data will live in (`.venv/bin/tera info` prints these again):")
for label, folder in (("memory", p.data), ("models", p.models), ("settings", p.settings_file),
                      ("cache", p.cache), ("logs", p.logs)):
    print(f"  {label:<9} {folder}")
PY
echo "On first start Tera offers to download its two models (67 MB and 1.8 GB)."
