#!/usr/bin/env bash
# The demo campaign end to end on embedded defaults: Temporal dev server (Web UI on), PGlite, and
# the LLM simulator; three iterations of the self-evolving loop with the stand-in trainer on the local launcher.
# Installs what it needs first (npm ci, the Temporal CLI, the training venv); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh
bash scripts/ensure-train-venv.sh
exec node dist/src/cli/main.js demo "$@"
