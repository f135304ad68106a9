#!/usr/bin/env bash
# Creates (or verifies) .venv-bfcl with the pinned official BFCL evaluator, bfcl-eval.
#
# bfcl-eval's declared dependencies pull sentence-transformers -> CUDA torch (several GB). Neither
# the AST checker nor `bfcl generate` / `bfcl evaluate` with an OpenAI-compatible handler needs
# them, so bfcl-eval (and qwen-agent, which drags in more) are installed with --no-deps and then
# exactly the packages their import chain needs (found by importing bfcl_eval.__main__, which
# imports every model handler's SDK through constants/model_config.py). Result: ~560 MB, no torch.
#
# Idempotent: a stamp naming exactly the pins below makes a re-run exit at once; without it (first
# run, or a pin changed) the venv is verified and, only if that fails, installed into.
# Env: BFCL_VENV (path, default <repo>/.venv-bfcl), PYTHON (python3.11+).
set -euo pipefail

BFCL_EVAL_VERSION="2026.3.23"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BFCL_VENV:-$ROOT/.venv-bfcl}"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
[[ -n "$PY" ]] || { echo "ensure-bfcl-venv: no python3 found (set PYTHON)" >&2; exit 1; }

DEPS=(
  "requests==2.34.2" "tqdm==4.70.1" "numpy==1.26.4" "pandas==3.0.6" "pydantic==2.14.3"
  "python-dotenv==1.2.4" "tree-sitter==0.21.3" "tree-sitter-java==0.21.0" "tree-sitter-javascript==0.21.4"
  "openai==3.54.0" "mistralai==1.7.0" "anthropic==2.12.0" "cohere==5.18.0" "typer==0.29.2"
  "tabulate==0.10.0" "datamodel-code-generator==0.25.7" "google-genai==3.4.0" "mpmath==1.3.0"
  "tenacity==9.1.4" "writer-sdk==3.0.0" "overrides==7.7.0" "boto3==1.44.5" "beautifulsoup4==4.15.0"
  "html2text==2025.4.15" "rank-bm25==0.2.2" "google-search-results==2.4.2" "networkx==3.3" "filelock==3.20.0"
  "huggingface-hub==2.4.0" "tiktoken==0.14.0" "json5==0.17.3" "soundfile==0.14.0" "dashscope==2.0.2" "pillow==13.0.0"
)
# The stamp records what was verified; a matching stamp makes re-runs instant.
STAMP_FILE="$VENV/.toolloop-stamp"
STAMP="bfcl-eval==$BFCL_EVAL_VERSION qwen-agent==0.0.34 ${DEPS[*]}"

# Every pin installed at its version (so a pin added here is installed into an existing venv), the
# official checker importable, and the shim the stage runs (scripts/bfcl/eval_cli.py, whose registry
# import loads every model handler's SDK) answering --help. bfcl-eval creates result/, score/ and
# .file_locks/ in its project root on import; a scratch BFCL_PROJECT_ROOT keeps them out of the venv.
# Quiet by default; `verify --explain` prints why it fails.
verify() {
  [[ -x "$VENV/bin/python" ]] || { [[ "${1:-}" != --explain ]] || echo "no $VENV/bin/python" >&2; return 1; }
  local scratch rc=0 err=/dev/null
  [[ "${1:-}" == --explain ]] && err=/dev/stderr
  scratch="$(mktemp -d)"
  BFCL_PROJECT_ROOT="$scratch" "$VENV/bin/python" - "bfcl-eval==$BFCL_EVAL_VERSION" "qwen-agent==0.0.34" "${DEPS[@]}" <<'PY' >/dev/null 2>"$err" || rc=1
import sys
from importlib.metadata import PackageNotFoundError, version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(f"{name} is not installed ({want} pinned)")
    if have != want:
        sys.exit(f"{name} {have} is installed, {want} pinned")
import bfcl_eval.eval_checker.ast_eval.ast_checker  # the official checker (full import chain)
PY
  if [[ $rc -eq 0 ]]; then
    BFCL_PROJECT_ROOT="$scratch" TOOLLOOP_BFCL_MODEL=verify "$VENV/bin/python" "$ROOT/scripts/bfcl/eval_cli.py" --help >/dev/null 2>"$err" || rc=1
  fi
  rm -rf "$scratch"
  return $rc
}

if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP" && -x "$VENV/bin/python" ]]; then
  echo "ensure-bfcl-venv: $VENV ready (bfcl-eval $BFCL_EVAL_VERSION)"
  exit 0
fi
if verify; then
  printf '%s' "$STAMP" > "$STAMP_FILE"
  echo "ensure-bfcl-venv: $VENV ready (bfcl-eval $BFCL_EVAL_VERSION)"
  exit 0
fi

echo "ensure-bfcl-venv: installing bfcl-eval $BFCL_EVAL_VERSION and its pinned minimal dependency set into $VENV" >&2
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), "bfcl-eval needs Python >= 3.10"'
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
"${PIP[@]}" --no-deps "bfcl-eval==$BFCL_EVAL_VERSION" "qwen-agent==0.0.34"
"${PIP[@]}" "${DEPS[@]}"

if ! verify; then
  echo "ensure-bfcl-venv: $VENV was built but does not pass its check:" >&2
  verify --explain || true
  exit 1
fi
printf '%s' "$STAMP" > "$STAMP_FILE"
echo "ensure-bfcl-venv: $VENV ready (bfcl-eval $BFCL_EVAL_VERSION)"
