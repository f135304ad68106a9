#!/usr/bin/env bash
# Creates (or verifies) .venv-train: the pinned verl release, installed WITHOUT its dependencies
# (torch, vLLM, Ray, transformers... tens of GB), plus Hydra, OmegaConf, pyarrow and Jinja2. That is
# enough for what the tests need from verl on a machine without GPUs: its own Hydra config files
# (verl/trainer/config/*.yaml, composed in strict mode over our overrides by
# trainer/tools/compose_verl_config.py), pyarrow to read our parquet the way verl's dataset does, and
# Jinja2 to render a model's chat template the way transformers does (test/helpers/render_chat_template.py).
# It is not a training environment: a cluster installs verl with its dependencies.
#
# Idempotent: a stamp naming exactly the pins below makes a re-run exit at once; without it (first
# run, or a pin changed) the venv is verified and, only if that fails, installed into.
# Env: TRAIN_VENV (path, default <repo>/.venv-train), PYTHON (python3.10+).
set -euo pipefail

VERL_VERSION="0.9.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRAIN_VENV:-$ROOT/.venv-train}"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
[[ -n "$PY" ]] || { echo "ensure-train-venv: no python3 found (set PYTHON)" >&2; exit 1; }

# hydra-core's own dependencies (antlr4 4.9.x, packaging, PyYAML via omegaconf) are pinned too, so the
# venv is the same on every machine.
DEPS=("hydra-core==1.3.8" "omegaconf==2.3.0" "antlr4-python3-runtime==4.9.3" "PyYAML==6.0.4" "packaging==26.4" "pyarrow==26.0.1" "Jinja2==3.1.6" "MarkupSafe==3.0.3")
STAMP_FILE="$VENV/.toolloop-stamp"
STAMP="verl==$VERL_VERSION ${DEPS[*]}"

# Every pin installed at its version, and verl's trainer config folder present in the wheel.
# Quiet by default; `verify --explain` prints why it fails.
verify() {
  [[ -x "$VENV/bin/python" ]] || { [[ "${1:-}" != --explain ]] || echo "no $VENV/bin/python" >&2; return 1; }
  local err=/dev/null
  [[ "${1:-}" == --explain ]] && err=/dev/stderr
  "$VENV/bin/python" - "verl==$VERL_VERSION" "${DEPS[@]}" <<'PY' >/dev/null 2>"$err"
import sys
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(f"{name} is not installed ({want} pinned)")
    if have != want:
        sys.exit(f"{name} {have} is installed, {want} pinned")
import hydra, omegaconf, pyarrow.parquet, jinja2.sandbox  # noqa: F401,E401
# verl itself is not imported (its __init__ needs torch); its config files are read from disk.
spec = find_spec("verl")
if spec is None or not spec.submodule_search_locations:
    sys.exit("verl is not importable as a package")
config = Path(list(spec.submodule_search_locations)[0]) / "trainer" / "config"
for name in ("ppo_trainer.yaml", "sft_trainer_engine.yaml"):
    if not (config / name).is_file():
        sys.exit(f"{config / name} is missing")
PY
}

if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP" && -x "$VENV/bin/python" ]]; then
  echo "ensure-train-venv: $VENV ready (verl $VERL_VERSION, configs only)"
  exit 0
fi
if verify; then
  printf '%s' "$STAMP" > "$STAMP_FILE"
  echo "ensure-train-venv: $VENV ready (verl $VERL_VERSION, configs only)"
  exit 0
fi

echo "ensure-train-venv: installing verl $VERL_VERSION (--no-deps), Hydra, OmegaConf, pyarrow and Jinja2 into $VENV" >&2
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), "verl needs Python >= 3.10"'
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
"${PIP[@]}" --no-deps "verl==$VERL_VERSION"
"${PIP[@]}" --no-deps "${DEPS[@]}"

if ! verify; then
  echo "ensure-train-venv: $VENV was built but does not pass its check:" >&2
  verify --explain || true
  exit 1
fi
printf '%s' "$STAMP" > "$STAMP_FILE"
echo "ensure-train-venv: $VENV ready (verl $VERL_VERSION, configs only)"
