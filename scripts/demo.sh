#!/usr/bin/env bash
# The demo campaign end to end on embedded defaults: Temporal dev server (Web UI on), PGlite, and
# the LLM simulator. Installs what it needs first (npm ci, the Temporal CLI); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh
exec node dist/src/cli/main.js demo "$@"
