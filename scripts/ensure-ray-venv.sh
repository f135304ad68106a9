#!/usr/bin/env bash
# Creates (or verifies) .venv-ray with a pinned Ray (`ray[default]`: the dashboard and its Jobs REST API),
# for the tests that run the Ray launcher against a real local Ray head (test/helpers/rayCluster.ts).
# Ray's dependencies are pinned as constraints (what ray[default] 2.60.0 resolved to on Python 3.11),
# so a new release of one of them cannot change the test bed. About 390 MB, no GPU libraries.
#
# Idempotent: a stamp naming exactly the pins below makes a re-run exit at once; without it (first run,
# or a pin changed) the venv is verified and, only if that fails, installed into.
# Env: RAY_VENV (path, default <repo>/.venv-ray), PYTHON (python3.10 .. 3.13; Ray 2.60 has wheels for those).
set -euo pipefail

RAY_VERSION="2.60.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RAY_VENV:-$ROOT/.venv-ray}"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
[[ -n "$PY" ]] || { echo "ensure-ray-venv: no python3 found (set PYTHON)" >&2; exit 1; }

CONSTRAINTS=(
  "aiohappyeyeballs==2.7.1" "aiohttp==3.14.5" "aiohttp-cors==0.8.1" "aiosignal==1.4.0" "annotated-types==0.8.0" "attrs==26.1.0"
  "certifi==2026.10.19.post1" "cffi==2.1.1" "charset-normalizer==3.5.3" "click==8.5.1" "colorful==0.5.8" "cryptography==50.0.2"
  "distlib==0.4.4" "filelock==4.3.1" "frozenlist==1.8.0" "google-api-core==2.44.0" "google-auth==2.63.0"
  "googleapis-common-protos==1.76.0" "grpcio==1.85.3" "idna==3.20" "jsonschema==4.26.0" "jsonschema-specifications==2025.9.1"
  "msgpack==1.2.4" "multidict==7.2.1" "opencensus==0.11.4" "opencensus-context==0.1.3" "opentelemetry-api==1.45.2"
  "opentelemetry-exporter-prometheus==0.66b2" "opentelemetry-proto==1.45.2" "opentelemetry-sdk==1.45.2"
  "opentelemetry-semantic-conventions==0.66b2" "packaging==26.4" "platformdirs==4.14.9" "prometheus_client==0.26.0"
  "propcache==0.5.4" "proto-plus==1.29.0" "protobuf==7.36.2" "py-spy==0.4.3" "pyasn1==0.6.5" "pyasn1_modules==0.4.2"
  "pycparser==3.12" "pydantic==2.14.4" "pydantic_core==2.50.5" "python-discovery==1.9.6" "PyYAML==6.0.4" "referencing==0.37.0"
  "requests==2.34.2" "rpds-py==2026.9.1" "six==1.17.0" "smart_open==9.0.2" "typing-inspection==0.4.5" "typing_extensions==4.16.0"
  "urllib3==2.8.0" "virtualenv==21.15.11" "wrapt==2.5.2" "yarl==1.25.1"
)
STAMP_FILE="$VENV/.toolloop-stamp"
STAMP="ray[default]==$RAY_VERSION ${CONSTRAINTS[*]}"

# Ray at its version, the dashboard's job module importable (it serves /api/jobs/), and the CLI answering.
verify() {
  [[ -x "$VENV/bin/python" && -x "$VENV/bin/ray" ]] || return 1
  "$VENV/bin/python" - "$RAY_VERSION" <<'PY' >/dev/null 2>&1 || return 1
import sys
from importlib.metadata import version
assert version("ray") == sys.argv[1], f"ray {version('ray')} is installed, {sys.argv[1]} pinned"
import aiohttp, ray.dashboard.modules.job.job_head  # noqa: F401  (ray[default]: the dashboard's Jobs API)
PY
  "$VENV/bin/ray" --version >/dev/null 2>&1
}

if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP" && -x "$VENV/bin/ray" ]]; then
  echo "ensure-ray-venv: $VENV ready (ray $RAY_VERSION)"
  exit 0
fi
if verify; then
  printf '%s' "$STAMP" > "$STAMP_FILE"
  echo "ensure-ray-venv: $VENV ready (ray $RAY_VERSION)"
  exit 0
fi

echo "ensure-ray-venv: installing ray[default] $RAY_VERSION into $VENV" >&2
"$PY" -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 13), "Ray 2.60 needs Python 3.10 .. 3.13"'
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
printf '%s\n' "${CONSTRAINTS[@]}" > "$constraints"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -c "$constraints" "ray[default]==$RAY_VERSION"

if ! verify; then
  echo "ensure-ray-venv: $VENV was built but does not pass its check (ray $RAY_VERSION, its dashboard, the ray CLI)" >&2
  exit 1
fi
printf '%s' "$STAMP" > "$STAMP_FILE"
echo "ensure-ray-venv: $VENV ready (ray $RAY_VERSION)"
