#!/usr/bin/env bash
# Installs Debian's Chromium (headless browser checks of the Temporal UI and the HTML reports),
# idempotently and without prompts. Prints the binary's path; CHROMIUM_PATH overrides it.
set -euo pipefail
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then echo "chromium: $CHROMIUM_PATH"; exit 0; fi
if command -v chromium >/dev/null 2>&1; then echo "chromium: $(command -v chromium)"; exit 0; fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else echo "ensure-chromium.sh: need root for: $* (no sudo available)" >&2; return 1
  fi
}
echo "== installing Debian chromium"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium: $(command -v chromium)"
