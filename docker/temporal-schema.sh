#!/bin/sh
# One-shot schema setup for the compose stack (runs in temporalio/admin-tools before the server
# starts): creates the `temporal` and `temporal_visibility` databases on PostgreSQL with their
# schemas and brings both schemas up to the versions this admin-tools release ships; creates
# toolloop's application database (its tables come from the toolloop-migrate service).
# Safe to run again: an existing database is kept and only newer schema versions are applied.
set -eu
host="${SQL_HOST:?SQL_HOST must be set, e.g. postgresql}"
port="${SQL_PORT:-5432}"
user="${SQL_USER:?SQL_USER must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}" # read by temporal-sql-tool itself
plugin="${SQL_PLUGIN:-postgres12}"
schema_root="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"
tries="${SQL_WAIT_SECONDS:-120}"

sql() { temporal-sql-tool --plugin "$plugin" --ep "$host" -p "$port" -u "$user" "$@"; }

# Returns 0 when it created the database, 1 when it already existed; exits on any other error.
create_db() {
  if out="$(sql --db "$1" create 2>&1)"; then
    echo "created database $1"
    return 0
  fi
  if printf '%s' "$out" | grep -qi "already exists"; then
    echo "database $1 exists"
    return 1
  fi
  printf '%s\n' "$out" >&2
  exit 1
}

echo "waiting for PostgreSQL at $host:$port"
until nc -z "$host" "$port" 2>/dev/null; do
  tries=$((tries - 1))
  if [ "$tries" -le 0 ]; then echo "PostgreSQL at $host:$port did not accept connections" >&2; exit 1; fi
  sleep 1
done

for pair in "${TEMPORAL_DB:-temporal}:temporal" "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"
  kind="${pair#*:}"
  # A new database gets the version table at 0.0; update-schema then applies every versioned step
  # newer than what the database records (all of them the first time, none on a re-run).
  if create_db "$db"; then sql --db "$db" setup-schema -v 0.0; fi
  sql --db "$db" update-schema -d "$schema_root/$kind/versioned"
done

create_db "${TOOLLOOP_DB:-toolloop}" || true
echo "schema setup done"
