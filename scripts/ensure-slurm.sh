#!/usr/bin/env bash
# Installs Debian's Slurm (slurmctld, slurmd and the client commands) and munge, idempotently and
# without prompts, for the Slurm launcher's tests (test/helpers/slurmCluster.ts starts a private
# single-node cluster on loopback from them). Skipped when the binaries are already there.
set -euo pipefail
export CI=true DEBIAN_FRONTEND=noninteractive

have_all() {
  for bin in slurmctld slurmd sbatch squeue sacct scancel scontrol munged; do
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || return 1
  done
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else echo "ensure-slurm.sh: need root for: $* (no sudo available)" >&2; return 1
  fi
}

echo "== Slurm and munge"
if have_all; then
  echo "slurm-wlm and munge present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-slurm.sh: Slurm (slurmctld, slurmd, sbatch...) or munge is missing and apt-get is unavailable;" >&2
  echo "  install slurm-wlm and munge with your package manager." >&2
  exit 1
fi
as_root apt-get update </dev/null
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge </dev/null
# The packages start their own services on some systems; the tests run private daemons instead.
if have_all; then echo "installed slurm-wlm and munge"; else echo "ensure-slurm.sh: installed but binaries still missing" >&2; exit 1; fi
