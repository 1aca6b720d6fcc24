#!/bin/sh
# Bootstrap a git checkout: install what the build needs (Debian), then
# generate configure.  Run as root, or as a user with sudo; without either
# it prints the exact command to run.
set -e
cd "$(dirname "$0")"

pkgs="autoconf automake libtool pkg-config make gcc libcmocka-dev gdb"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "autogen.sh: please install:$missing" >&2
    elif [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    else
        echo "autogen.sh: missing packages; run: sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi
autoreconf -fi
