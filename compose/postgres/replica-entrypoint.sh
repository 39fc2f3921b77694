#!/bin/bash
# compose/postgres/replica-entrypoint.sh — the off-site PostgreSQL
# (compose.offsite.yaml): when its data directory is empty, copies the
# on-site primary with `pg_basebackup -R` (which writes standby.signal and
# primary_conninfo), retrying until the primary answers over the VPN; then
# starts the image's usual entrypoint, so the server runs as a hot standby
# that streams from the primary through the replication slot.
#
# PRIMARY_HOST, PRIMARY_PORT (5432), REPLICATION_USER (replicator),
# REPLICATION_SLOT (offsite), REPLICATION_PASSWORD_FILE.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${PRIMARY_HOST:?PRIMARY_HOST names the on-site primary}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
REPLICATION_SLOT="${REPLICATION_SLOT:-offsite}"

# As root (the image's default), the copy is made as the postgres user.
as_postgres() {
    if ((EUID == 0)); then gosu postgres "$@"; else "$@"; fi
}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    password="$(<"${REPLICATION_PASSWORD_FILE:-/run/secrets/replication_password}")"
    export PGPASSWORD="${password%"${password##*[![:space:]]}"}"
    mkdir -p "$PGDATA"
    if ((EUID == 0)); then chown postgres:postgres "$PGDATA"; fi
    chmod 700 "$PGDATA"
    # PID 1 of the container: stop at once on `docker stop` while waiting.
    trap 'exit 143' TERM
    trap 'exit 130' INT
    until as_postgres pg_basebackup --host="$PRIMARY_HOST" --port="$PRIMARY_PORT" \
        --username="$REPLICATION_USER" --pgdata="$PGDATA" --write-recovery-conf \
        --wal-method=stream --slot="$REPLICATION_SLOT" --checkpoint=fast --no-password; do
        echo "replica: pg_basebackup from $PRIMARY_HOST:$PRIMARY_PORT failed; trying again in 10 s" >&2
        find "$PGDATA" -mindepth 1 -delete
        sleep 10 &
        wait $!
    done
    trap - TERM INT
    unset PGPASSWORD
    echo "replica: copied the primary; starting as a hot standby" >&2
fi

exec docker-entrypoint.sh "$@"
