#!/usr/bin/env bash
# Install the built .deb into a clean Debian 12 (bookworm) minbase chroot and run the bundle's
# self-test there: proves the package's Depends: are enough and nothing leaks in from the
# build machine. Needs root, debootstrap, and network access to deb.debian.org.
#
# Usage:  sudo bash packaging/check-debian12.sh [dist/tera-desktop_<version>_<arch>.deb]
# Env:    CHROOT (default /tmp/deb12; reused if it already holds a bookworm system)
#         MIRROR (default http://deb.debian.org/debian)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROOT="${CHROOT:-/tmp/deb12}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
DEB="${1:-$(ls -t "$ROOT"/dist/tera-desktop_*.deb 2>/dev/null | head -n1)}"
[ -f "$DEB" ] || { echo "check-debian12.sh: no .deb (run packaging/build.sh first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "check-debian12.sh: run as root (chroot, debootstrap)" >&2; exit 1; }

command -v debootstrap >/dev/null || apt-get install -y debootstrap
if [ ! -x "$CHROOT/usr/bin/apt-get" ]; then
    debootstrap --variant=minbase bookworm "$CHROOT" "$MIRROR"
fi
cat > "$CHROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"

mountpoint -q "$CHROOT/proc" || mount -t proc proc "$CHROOT/proc"
mountpoint -q "$CHROOT/dev"  || mount --bind /dev "$CHROOT/dev"
cleanup() { umount "$CHROOT/proc" 2>/dev/null || true; umount "$CHROOT/dev" 2>/dev/null || true; }
trap cleanup EXIT

cp "$DEB" "$CHROOT/tmp/"
chroot "$CHROOT" apt-get update -q
chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --reinstall --no-install-recommends "/tmp/$(basename "$DEB")"
chroot "$CHROOT" dpkg -s tera-desktop | sed -n '1,4p'
chroot "$CHROOT" ls -l /usr/bin/tera-desktop /usr/bin/tera
chroot "$CHROOT" tera --version
chroot "$CHROOT" env HOME=/root TERA_HOME=/tmp/tera-selftest QT_QPA_PLATFORM=offscreen \
    tera-desktop --selftest
# The xcb platform plugin must find all its libraries too (it cannot start without a display,
# but a missing library shows up in ldd).
# LD_LIBRARY_PATH as the bundle's launcher sets it (its _internal folder).
MISSING="$(chroot "$CHROOT" sh -c 'cd /opt/tera-desktop/_internal && find . -name "*.so*" -type f |
    while read -r f; do LD_LIBRARY_PATH=/opt/tera-desktop/_internal ldd "$f" 2>/dev/null |
        sed -n "s|^\s*\(\S*\) => not found|\1 (needed by $f)|p"; done' | sort -u)"
if [ -n "$MISSING" ]; then
    echo "check-debian12.sh: bundled libraries that miss system libraries:" >&2
    echo "$MISSING" >&2
    exit 1
fi
echo "check-debian12.sh: OK (package installs and self-tests on a clean Debian 12)"
