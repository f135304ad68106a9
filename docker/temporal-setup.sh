#!/bin/sh
# One-shot setup of a compose Temporal server (runs in temporalio/admin-tools): waits until the
# server is SERVING, registers the namespace if missing and our custom search attributes (the list
# in src/services/searchAttributes.ts). Safe to run again.
set -eu
address="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must be set, e.g. temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
attributes="${TOOLLOOP_SEARCH_ATTRIBUTES:-CampaignId=Keyword Iteration=Int Stage=Keyword CampaignStatus=Keyword}"
tries="${TEMPORAL_SETUP_WAIT_SECONDS:-300}"

t() { temporal --address "$address" "$@"; }

echo "waiting for Temporal at $address"
until t operator cluster health 2>/dev/null | grep -q SERVING; do
  tries=$((tries - 2))
  if [ "$tries" -le 0 ]; then echo "Temporal at $address did not become healthy" >&2; exit 1; fi
  sleep 2
done

if t operator namespace describe --namespace "$namespace" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  echo "creating namespace $namespace (retention $retention)"
  t operator namespace create --namespace "$namespace" --retention "$retention"
fi

# A new namespace takes a moment to reach every service's namespace cache (bounded like the wait above:
# a setup that never completes would leave the worker waiting on it with nothing said).
until existing="$(t operator search-attribute list --namespace "$namespace" 2>/dev/null)"; do
  tries=$((tries - 1))
  if [ "$tries" -le 0 ]; then echo "cannot list the search attributes of namespace $namespace at $address" >&2; exit 1; fi
  sleep 1
done
for pair in $attributes; do
  name="${pair%%=*}"
  type="${pair#*=}"
  if printf '%s\n' "$existing" | awk '{print $1}' | grep -qx "$name"; then
    echo "search attribute $name exists"
  else
    echo "creating search attribute $name ($type)"
    t operator search-attribute create --namespace "$namespace" --name "$name" --type "$type"
  fi
done
echo "Temporal setup done"
