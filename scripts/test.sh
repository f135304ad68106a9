#!/usr/bin/env bash
# The whole test suite: installs what it needs (npm ci, the Temporal CLI, PostgreSQL, the BFCL
# checker venv, the Compose loader (Go), the training venv (verl configs, pyarrow), the Ray venv, Slurm and munge for the
# launcher tests), lints, starts one Temporal dev server and one PostgreSQL for the run, runs every
# test with Node's test runner, and stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-prereqs.sh --postgres
for venv_script in scripts/ensure-compose-loader.sh scripts/ensure-chromium.sh scripts/ensure-bfcl-venv.sh scripts/ensure-train-venv.sh scripts/ensure-ray-venv.sh scripts/ensure-slurm.sh; do
  if [ -f "$venv_script" ]; then bash "$venv_script"; fi
done

echo "== lint and format"
npm run --silent lint
npm run --silent format:check

state=.toolloop/test-services
node dist/src/services/main.js down --state-dir "$state" >/dev/null 2>&1 || true
rm -rf "$state"
echo "== starting Temporal dev server and PostgreSQL for the tests"
node dist/src/services/main.js up --state-dir "$state" --env-out "$state/env"
trap 'node dist/src/services/main.js down --state-dir "$state" || true' EXIT
set -a
. "$state/env"
set +a

echo "== tests"
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
# Bounded (test/runner/boundedTestRun.ts): a process a test leaves running after the summary, or a run
# with no summary after 60 minutes, is named, stopped and fails the run, instead of holding it to CI's limit.
node dist/test/runner/boundedTestRun.js --grace-s 60 --deadline-min 60 -- --test --test-concurrency=2 --test-timeout=900000 "${files[@]}"
