#!/bin/sh
# deps.sh - install what building ucoro from a git checkout needs, on
# Debian and its derivatives.  Packages already there are left alone.  As
# root it runs apt-get itself; as a user with password-less sudo it runs
# it through sudo; otherwise it prints the apt-get command and fails.
# Without apt-get it only lists the packages.
#
#   ./deps.sh && ./autogen.sh && ./configure && make -j2 check
set -e

# gdb: for the test of the gdb extension (test/gdb.sh)
pkgs="autoconf automake libtool pkg-config make gcc libcmocka-dev gdb"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -n "$missing" ] || exit 0

# $missing is split into package names on purpose
# shellcheck disable=SC2086
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: no apt-get here; install the equivalents of:$missing" >&2
elif [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
    echo "deps.sh: missing packages; run: sudo apt-get install -y$missing" >&2
    exit 1
fi
