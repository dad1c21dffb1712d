#!/usr/bin/env bash
# Build Tera Desktop as a double-clickable app (Linux):
#   1. PyInstaller one-folder build  -> dist/tera-desktop/{tera-desktop,tera,_internal/}
#   2. the bundle's own --selftest (offscreen, throwaway TERA_HOME); the build fails if it fails
#   3. a Debian package              -> dist/tera-desktop_<version>_<arch>.deb
#
# Usage (from anywhere):  bash packaging/build.sh [--no-deb] [--no-selftest] [--reuse-bundle]
#   --reuse-bundle: skip PyInstaller when dist/tera-desktop/ exists (re-package only)
# Env: PYTHON (default: .venv/bin/python of the repo), TERA_MAINTAINER (Maintainer: field).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PYINSTALLER_SPEC="pyinstaller>=6.10,<7"   # tested with 6.22.3 (hooks-contrib 2026.9)
MAINTAINER="${TERA_MAINTAINER:-Tera Desktop maintainers <tera-desktop@users.noreply.github.com>}"
DO_DEB=1
DO_SELFTEST=1
DO_BUILD=1
for arg in "$@"; do
    case "$arg" in
        --no-deb) DO_DEB=0 ;;
        --no-selftest) DO_SELFTEST=0 ;;
        --reuse-bundle) DO_BUILD=0 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

say() { printf '\n==> %s\n' "$*"; }
[ -x "$PYTHON" ] || { echo "build.sh: no Python at $PYTHON (run scripts/install.sh first)" >&2; exit 1; }

# --- 1. PyInstaller ---------------------------------------------------------------------------
if ! "$PYTHON" -c 'import PyInstaller' 2>/dev/null; then
    say "installing $PYINSTALLER_SPEC into $(dirname "$(dirname "$PYTHON")")"
    "$PYTHON" -m pip install --quiet "$PYINSTALLER_SPEC"
fi
"$PYTHON" -c 'import gguf, onnx, tokenizers' 2>/dev/null || {
    say "installing gguf, onnx (needed by the bundled --selftest's tiny models)"
    "$PYTHON" -m pip install --quiet "gguf>=0.17,<0.20" "onnx>=1.17,<2"
}

VERSION="$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')"
BUNDLE="$ROOT/dist/tera-desktop"
if [ "$DO_BUILD" = 1 ] || [ ! -x "$BUNDLE/tera-desktop" ]; then
    say "PyInstaller build of tera-desktop $VERSION (a few minutes)"
    rm -rf dist/tera-desktop build/tera-desktop
    "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath dist --workpath build packaging/tera-desktop.spec
fi
[ -x "$BUNDLE/tera-desktop" ] && [ -x "$BUNDLE/tera" ] || { echo "build.sh: executables missing in $BUNDLE" >&2; exit 1; }
du -sh "$BUNDLE"

# --- 2. self-test of the bundle ---------------------------------------------------------------
if [ "$DO_SELFTEST" = 1 ]; then
    say "selftest: dist/tera-desktop/tera-desktop --selftest"
    TMP_HOME="$(mktemp -d)"
    trap 'rm -rf "$TMP_HOME"' EXIT
    # env -i-like isolation from the venv: the bundle must not need it.
    env -u PYTHONPATH -u VIRTUAL_ENV QT_QPA_PLATFORM=offscreen TERA_HOME="$TMP_HOME" \
        "$BUNDLE/tera-desktop" --selftest
    "$BUNDLE/tera" --version
    echo "selftest passed"
fi

# --- 3. Debian package ------------------------------------------------------------------------
[ "$DO_DEB" = 1 ] || exit 0
command -v dpkg-deb >/dev/null || { echo "build.sh: dpkg-deb not found; skipping the .deb" >&2; exit 0; }
ARCH="$(dpkg --print-architecture)"
DEB="$ROOT/dist/tera-desktop_${VERSION}_${ARCH}.deb"
STAGE="$ROOT/build/deb-root"
say "Debian package $(basename "$DEB")"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/icons/hicolor/scalable/apps" "$STAGE/usr/share/doc/tera-desktop"
cp -a "$BUNDLE" "$STAGE/opt/tera-desktop"
# Only the two launchers are executable (PyInstaller keeps the wheels' +x on libraries/metadata).
find "$STAGE/opt/tera-desktop/_internal" -type f -exec chmod 644 {} +
ln -s /opt/tera-desktop/tera-desktop "$STAGE/usr/bin/tera-desktop"
ln -s /opt/tera-desktop/tera "$STAGE/usr/bin/tera"
install -m 644 resources/tera-desktop.desktop "$STAGE/usr/share/applications/tera-desktop.desktop"
for png in resources/icons/tera-desktop-*.png; do
    size="$(basename "$png" .png)"; size="${size##*-}"
    install -D -m 644 "$png" "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/tera-desktop.png"
done
install -m 644 resources/icons/tera-desktop.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/tera-desktop.svg"
cat > "$STAGE/usr/share/doc/tera-desktop/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tera-desktop

Files: *
Copyright: (c) Tera Desktop contributors
License: MIT
 The bundled third-party components (CPython, Qt/PySide6, ONNX Runtime, llama.cpp,
 Qdrant, FastEmbed and others) keep their own licences.
COPYRIGHT
printf 'tera-desktop (%s) unstable; urgency=medium\n\n  * Packaged build of Tera Desktop %s.\n\n -- %s  %s\n' \
    "$VERSION" "$VERSION" "$MAINTAINER" "$(date -R)" | gzip -9n > "$STAGE/usr/share/doc/tera-desktop/changelog.gz"  # native version: changelog.gz
install -m 755 packaging/deb/DEBIAN/postinst packaging/deb/DEBIAN/postrm "$STAGE/DEBIAN/"
DEPENDS="$(grep -v '^\s*#' packaging/deb/depends.txt | sed '/^\s*$/d' | paste -sd, - | sed 's/,/, /g')"
INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" -e "s|@MAINTAINER@|$MAINTAINER|" \
    -e "s|@INSTALLED_SIZE@|$INSTALLED_SIZE|" -e "s|@DEPENDS@|$DEPENDS|" \
    packaging/deb/DEBIAN/control.in > "$STAGE/DEBIAN/control"
# Files owned by root, directories 755, no group/other write.
chmod -R u+rwX,go+rX,go-w "$STAGE"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB"
dpkg-deb --info "$DEB" | sed -n '1,12p'
ls -lh "$DEB"
rm -rf "$STAGE"   # a 400 MB copy of the bundle
say "done: $BUNDLE and $DEB"
