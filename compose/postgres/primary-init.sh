#!/bin/bash
# compose/postgres/primary-init.sh — makes the on-site PostgreSQL a
# replication primary (compose.onsite.yaml). The postgres image runs it once,
# when it creates the data directory: a role `replicator` that may only
# replicate (password: REPLICATION_PASSWORD_FILE), a physical replication
# slot `offsite` so WAL waits for a replica that is briefly away, and a
# pg_hba.conf line letting that role replicate with a password.
set -euo pipefail

password="$(<"${REPLICATION_PASSWORD_FILE:-/run/secrets/replication_password}")"
password="${password%"${password##*[![:space:]]}"}"
[[ -n "$password" ]] || {
    echo "primary-init: the replication password file is empty" >&2
    exit 1
}

psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" -v password="$password" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
\o /dev/null
SELECT pg_create_physical_replication_slot('offsite');
SQL

printf '%s\n' '# added by compose/postgres/primary-init.sh: the off-site replica' \
    'host replication replicator all scram-sha-256' >>"$PGDATA/pg_hba.conf"
echo "primary-init: role replicator and slot offsite created" >&2
