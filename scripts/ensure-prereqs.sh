#!/usr/bin/env bash
# Installs what toolloop needs to build and run, idempotently and without prompts:
#   node_modules (npm ci), the Temporal CLI (dev server), with --postgres Debian's PostgreSQL
#   server binaries (skipped when DATABASE_URL is set), then the TypeScript build.
# Usage: scripts/ensure-prereqs.sh [--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=true

TEMPORAL_CLI_MODULE="github.com/temporalio/cli/cmd/temporal@v1.5.1"
want_postgres=false
for arg in "$@"; do
  case "$arg" in
    --postgres) want_postgres=true ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "ensure-prereqs.sh: unknown argument '$arg' (expected --postgres)" >&2; exit 2 ;;
  esac
done

# Root runs directly; otherwise sudo if present and usable without a password prompt.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else echo "ensure-prereqs.sh: need root for: $* (no sudo available)" >&2; return 1
  fi
}

echo "== node dependencies"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci refuses a lock without other platforms' optional packages (e.g. @swc/core-darwin-*),
  # which a registry mirror that lacks them produces; npm install still installs exactly the
  # locked versions and leaves the lock as it is.
  if ! npm ci --no-audit --no-fund </dev/null; then
    echo "npm ci refused the lock file; installing the locked versions with npm install"
    npm install --no-audit --no-fund </dev/null
  fi
else
  echo "node_modules up to date"
fi

# Same search order as src/services/temporalCli.ts.
find_temporal() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then echo "$TEMPORAL_CLI_PATH"; return 0; fi
  if command -v temporal 2>/dev/null; then return 0; fi
  if command -v go >/dev/null 2>&1; then
    local gobin gopath
    gobin="$(go env GOBIN)"; gopath="$(go env GOPATH)"
    for candidate in "${gobin:+$gobin/temporal}" "${gopath%%:*}/bin/temporal"; do
      if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
  fi
  return 1
}

echo "== Temporal CLI"
if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ ! -x "$TEMPORAL_CLI_PATH" ]; then
  echo "ensure-prereqs.sh: TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file" >&2; exit 1
fi
if temporal_cli="$(find_temporal)"; then
  echo "found $temporal_cli"
elif command -v go >/dev/null 2>&1; then
  echo "building it: go install $TEMPORAL_CLI_MODULE (takes a few minutes the first time)"
  go install "$TEMPORAL_CLI_MODULE"
  temporal_cli="$(find_temporal)" || { echo "ensure-prereqs.sh: go install finished but no temporal binary was found" >&2; exit 1; }
  echo "built $temporal_cli"
else
  echo "ensure-prereqs.sh: the Temporal CLI is missing and Go is not installed to build it." >&2
  echo "  Install Go and rerun, install the CLI from https://temporal.io/setup, or set TEMPORAL_CLI_PATH." >&2
  exit 1
fi

if [ "$want_postgres" = true ]; then
  echo "== PostgreSQL"
  if [ -n "${DATABASE_URL:-}" ]; then
    echo "DATABASE_URL is set; not installing a local server"
  elif compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
    echo "server binaries present"
  elif command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql </dev/null
  else
    echo "ensure-prereqs.sh: PostgreSQL server binaries (initdb) not found and apt-get is unavailable;" >&2
    echo "  install PostgreSQL or set DATABASE_URL to an existing database." >&2
    exit 1
  fi
fi

# Rebuild when anything that feeds the build is newer than the last successful build.
echo "== build"
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ ! -f dist/src/services/main.js ] || \
   [ -n "$(find src workflows activities workers test bench package-lock.json tsconfig.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  npm run --silent build
  touch "$stamp"
else
  echo "dist up to date"
fi
