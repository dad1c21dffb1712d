#!/usr/bin/env bash
# Per-user install of the one-folder build (no root needed):
#   ~/.local/opt/tera-desktop/                          the bundle (copied from dist/tera-desktop)
#   ~/.local/bin/tera-desktop, ~/.local/bin/tera        symlinks
#   ~/.local/share/applications/tera-desktop.desktop    menu entry (Exec= absolute path)
#   ~/.local/share/icons/hicolor/<size>x<size>/apps/tera-desktop.png and scalable/apps/*.svg
#
# Usage:  bash packaging/install-user.sh [BUNDLE_DIR]     (default: dist/tera-desktop)
#         bash packaging/install-user.sh --uninstall      (your data in ~/.local/share/tera... stays)
# Honours XDG_DATA_HOME; PREFIX overrides ~/.local.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${PREFIX:-$HOME/.local}"
DATA_HOME="${XDG_DATA_HOME:-$PREFIX/share}"
OPT="$PREFIX/opt/tera-desktop"
BIN="$PREFIX/bin"
APPS="$DATA_HOME/applications"
ICONS="$DATA_HOME/icons/hicolor"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" 2>/dev/null || true
    # (no gtk-update-icon-cache here: a per-user hicolor folder normally has no cache, and a
    # stale one would hide icons installed later by other apps)
}

uninstall() {
    for exe in tera-desktop tera; do
        # only remove links that point into our folder
        if [ -L "$BIN/$exe" ] && [ "$(readlink "$BIN/$exe")" = "$OPT/$exe" ]; then rm -f "$BIN/$exe"; fi
    done
    rm -f "$APPS/tera-desktop.desktop"
    find "$ICONS" -path '*/apps/tera-desktop.png' -delete 2>/dev/null || true
    rm -f "$ICONS/scalable/apps/tera-desktop.svg"
    rm -rf "$OPT"
    refresh
    echo "Tera Desktop removed from $PREFIX (your memories and settings were kept)."
}

case "${1:-}" in
    --uninstall|uninstall) uninstall; exit 0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
esac

SRC="${1:-$ROOT/dist/tera-desktop}"
SRC="$(cd "$SRC" && pwd)"
[ -x "$SRC/tera-desktop" ] && [ -x "$SRC/tera" ] || {
    echo "install-user.sh: no one-folder build in $SRC (run packaging/build.sh first)" >&2; exit 1; }
RES="$ROOT/resources"
[ -d "$RES/icons" ] || RES="$SRC/_internal/resources"   # installing from a copied bundle

mkdir -p "$PREFIX/opt" "$BIN" "$APPS" "$ICONS/scalable/apps"
# Copy to a temporary name, then swap, so a failed copy never leaves half an install.
rm -rf "$OPT.new"
cp -a "$SRC" "$OPT.new"
rm -rf "$OPT"
mv "$OPT.new" "$OPT"
ln -sfn "$OPT/tera-desktop" "$BIN/tera-desktop"
ln -sfn "$OPT/tera" "$BIN/tera"

sed -e "s|^Exec=tera-desktop|Exec=$OPT/tera-desktop|" -e "s|^TryExec=tera-desktop|TryExec=$OPT/tera-desktop|" \
    "$ROOT/resources/tera-desktop.desktop" > "$APPS/tera-desktop.desktop" 2>/dev/null || {
    cat > "$APPS/tera-desktop.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Tera
Comment=A private, offline second memory
Exec=$OPT/tera-desktop %F
TryExec=$OPT/tera-desktop
Icon=tera-desktop
Terminal=false
Categories=Office;
StartupWMClass=tera-desktop
DESKTOP
}
chmod 644 "$APPS/tera-desktop.desktop"
for png in "$RES"/icons/tera-desktop-*.png; do
    size="$(basename "$png" .png)"; size="${size##*-}"
    install -D -m 644 "$png" "$ICONS/${size}x${size}/apps/tera-desktop.png"
done
install -m 644 "$RES/icons/tera-desktop.svg" "$ICONS/scalable/apps/tera-desktop.svg"
refresh

echo "Tera Desktop installed in $OPT"
case ":$PATH:" in
    *":$BIN:"*) echo "Run it from the menu, or type: tera-desktop" ;;
    *) echo "Run it from the menu, or $BIN/tera-desktop ($BIN is not on your PATH)" ;;
esac
