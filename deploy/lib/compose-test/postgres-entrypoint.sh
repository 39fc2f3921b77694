#!/bin/bash
# The stand-in PostgreSQL image's entrypoint (docker-entrypoint.sh): the
# parts of the official image's that the Compose files rely on. As root it
# prepares PGDATA and runs itself again as postgres; with an empty PGDATA it
# runs initdb (superuser POSTGRES_USER with POSTGRES_PASSWORD[_FILE], password
# logins from anywhere), creates POSTGRES_DB, runs
# /docker-entrypoint-initdb.d/*.sh and *.sql against a server listening on its
# socket only, then starts the command.
set -euo pipefail

file_env() { # VAR [DEFAULT]
    local var="$1" file_var="${1}_FILE" value="${2:-}"
    if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
        echo "docker-entrypoint: both $var and $file_var are set" >&2
        exit 1
    fi
    if [[ -n "${!var:-}" ]]; then
        value="${!var}"
    elif [[ -n "${!file_var:-}" ]]; then
        value="$(<"${!file_var}")"
    fi
    export "$var=$value"
    unset "$file_var"
}

if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi

if [[ "${1:-}" == postgres ]]; then
    if ((EUID == 0)); then
        mkdir -p "$PGDATA"
        chown postgres:postgres "$PGDATA"
        chmod 700 "$PGDATA"
        exec gosu postgres "${BASH_SOURCE[0]}" "$@"
    fi
    if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
        file_env POSTGRES_USER postgres
        file_env POSTGRES_PASSWORD
        file_env POSTGRES_DB "$POSTGRES_USER"
        if [[ -z "$POSTGRES_PASSWORD" ]]; then
            echo "docker-entrypoint: POSTGRES_PASSWORD (or _FILE) is not set" >&2
            exit 1
        fi
        initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
            --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >&2
        printf '%s\n' "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
        printf '%s\n' 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
        pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -k /var/run/postgresql" start >&2
        export PGHOST=/var/run/postgresql PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
        if [[ "$POSTGRES_DB" != postgres ]]; then
            psql -v ON_ERROR_STOP=1 -X -q -d postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
        fi
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
            *.sh)
                echo "docker-entrypoint: running $f" >&2
                # shellcheck disable=SC1090 # the scripts of the mounted directory
                if [[ -x "$f" ]]; then "$f"; else . "$f"; fi
                ;;
            *.sql)
                echo "docker-entrypoint: running $f" >&2
                psql -v ON_ERROR_STOP=1 -X -q -d "$POSTGRES_DB" -f "$f"
                ;;
            esac
        done
        pg_ctl -D "$PGDATA" -m fast -w stop >&2
        unset PGHOST PGUSER PGPASSWORD
        echo "docker-entrypoint: database initialised" >&2
    fi
fi
exec "$@"
