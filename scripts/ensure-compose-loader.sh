#!/usr/bin/env bash
# Builds (once) tools/compose-loader, a small Go program around the Compose specification's own
# loader (github.com/compose-spec/compose-go), which test/image/compose.test.ts runs to load
# docker-compose.yml as `docker compose` would. Prints the binary's path on stdout.
#
# Idempotent: the binary lives in a cache folder named after a hash of the program's sources
# (go.mod, go.sum, *.go), so a re-run exits at once and a changed source builds a new one.
# Needs the Go toolchain (and the Go module proxy the first time).
# Env: TOOLLOOP_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/toolloop).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tools/compose-loader"
CACHE="${TOOLLOOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/toolloop}"
command -v go >/dev/null 2>&1 || { echo "ensure-compose-loader: the Go toolchain (go) is not on PATH" >&2; exit 1; }

hash="$(cd "$SRC" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)"
BIN="$CACHE/compose-loader-$hash/compose-loader"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
echo "ensure-compose-loader: building $BIN (first time: downloads compose-go through the Go module proxy)" >&2
mkdir -p "$(dirname "$BIN")"
tmp="$BIN.$$.tmp"
(cd "$SRC" && go build -trimpath -o "$tmp" .)
mv "$tmp" "$BIN"
echo "$BIN"
