#!/bin/sh
# autogen.sh - generate configure in a git checkout (release tarballs
# already have it).  The tools it needs: ./deps.sh installs them.
set -e
cd "$(dirname "$0")"
if ! command -v autoreconf >/dev/null 2>&1; then
    echo "autogen.sh: autoreconf not found: run ./deps.sh first" >&2
    exit 1
fi
autoreconf -fi
