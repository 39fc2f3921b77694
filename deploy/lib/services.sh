#!/usr/bin/env bash
# deploy/lib/services.sh — shared helpers for deploy/up, deploy/test,
# deploy/down and .ci/run. Source it from a bash script; it is not a command.
#
# It finds (or starts) the PostgreSQL and Redis that ondeck needs, checks that
# a Rust toolchain is there, and picks the cargo target directory.
#
# Functions (all print their messages on stderr, never on stdout):
#
#   ondeck_services_up [DBNAME]   (DBNAME defaults to "ondeck")
#     PostgreSQL, first that answers:
#       1. $DATABASE_URL (or the file named by $DATABASE_URL_FILE), used as is;
#       2. the system server at 127.0.0.1:${ONDECK_SYSTEM_PG_PORT:-5432} as user
#          postgres (DBNAME is created there if missing);
#       3. a private server started from the installed binaries (reused when
#          already running): data under $ONDECK_STATE_DIR (default <repo>/.data),
#          port ${ONDECK_PG_PORT:-55432}, 127.0.0.1 only, trust auth, user postgres.
#     Redis, first that answers:
#       1. $REDIS_URL (or the file named by $REDIS_URL_FILE);
#       2. the system server at 127.0.0.1:${ONDECK_SYSTEM_REDIS_PORT:-6379};
#       3. a private server on port ${ONDECK_REDIS_PORT:-56379}, 127.0.0.1 only,
#          no persistence.
#     Missing binaries are installed with apt-get (postgresql-client,
#     postgresql, redis-tools, redis-server). Exports DATABASE_URL and
#     REDIS_URL. Idempotent: a second call only checks that both still answer.
#
#   ondeck_services_down
#     Stops the private PostgreSQL and Redis started by ondeck_services_up, if
#     they run. Never touches system services. Data is kept.
#
#   ondeck_need_cargo
#     Makes sure cargo and a rustc at least as new as the workspace's
#     rust-version (1.94) are on PATH; otherwise installs Debian's cargo if that
#     is new enough, or says to install Rust with rustup and exits 1.
#
#   ondeck_malloc_env
#     Exports the glibc malloc settings every shipped way of running ondeck
#     uses (docs/operations.md, "Memory"): MALLOC_ARENA_MAX=2 and GLIBC_TUNABLES with a
#     fixed mmap threshold of 128 KiB, unless already set.
#
#   ondeck_target_dir
#     Exports CARGO_TARGET_DIR (default ~/.cache/ondeck-target, outside the
#     clone so fresh clones reuse earlier builds).
#
#   ondeck_s3s_fs
#     Makes sure s3s-fs (a local S3-compatible server; the storage tests of the
#     media crate run against it) is installed: $ONDECK_S3S_FS, s3s-fs on PATH,
#     or in ${CARGO_INSTALL_ROOT:-${CARGO_HOME:-~/.cargo}}/bin; otherwise runs
#     `cargo install s3s-fs@0.14.1 --features binary --locked` (about 3 min),
#     retried without --locked if that fails. Exports ONDECK_S3S_FS (the path
#     of the binary). Needs cargo (see ondeck_need_cargo).
#
#   ondeck_socat
#     Makes sure socat is installed (apt-get): the venue-cue tests make a
#     pseudo-terminal pair with it to stand in for the USB–DMX interface.
set -euo pipefail
# Errors inside $(...) stop the script too (bash clears -e there otherwise).
shopt -s inherit_errexit

ONDECK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_ondeck_say() { printf 'ondeck: %s\n' "$*" >&2; }
_ondeck_die() {
    printf 'ondeck: error: %s\n' "$*" >&2
    exit 1
}

# Hides a password in a URL before printing it.
_ondeck_redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# --- installing missing tools ------------------------------------------------

# Runs a command as root: directly when we are root, else through sudo
# (non-interactive sudo when there is no terminal or under CI).
_ondeck_as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [[ -t 0 && "${CI:-}" != true ]]; then sudo "$@"; else sudo -n "$@"; fi
    else
        return 1
    fi
}

_ONDECK_APT_UPDATED=""
_ondeck_try_apt_update() {
    [[ -n "$_ONDECK_APT_UPDATED" ]] && return 0
    _ondeck_say "running apt-get update"
    _ondeck_nolock _ondeck_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2 || return 1
    _ONDECK_APT_UPDATED=1
}
_ondeck_apt_update_once() {
    _ondeck_try_apt_update || _ondeck_die "apt-get update failed (are you root, or allowed to sudo?)"
}

# _ondeck_apt_install PKG... — installs Debian packages, or stops with a clear line.
_ondeck_apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        _ondeck_die "this machine has no apt-get: install $* yourself and run again"
    _ondeck_apt_update_once
    _ondeck_say "installing $* with apt-get"
    # The lock fd is closed: package scripts may start daemons that would keep it.
    _ondeck_nolock _ondeck_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" </dev/null >&2 ||
        _ondeck_die "apt-get install $* failed (are you root, or allowed to sudo?)"
}

# _ondeck_need_cmd CMD PKG — installs PKG when CMD is not on PATH.
_ondeck_need_cmd() {
    command -v "$1" >/dev/null 2>&1 && return 0
    _ondeck_apt_install "$2"
    command -v "$1" >/dev/null 2>&1 || _ondeck_die "installed $2 but still no '$1' on PATH"
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
_ondeck_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_ondeck_state_dir() { printf '%s\n' "${ONDECK_STATE_DIR:-$ONDECK_ROOT/.data}"; }

# Lock around starting private instances, so two scripts started together do
# not both run initdb. The lock fd is closed for the daemons we start.
_ONDECK_LOCK_FD=""
_ondeck_lock() {
    command -v flock >/dev/null 2>&1 || return 0
    local state
    state="$(_ondeck_state_dir)"
    mkdir -p "$state"
    exec {_ONDECK_LOCK_FD}>"$state/.services.lock"
    flock -w 300 "$_ONDECK_LOCK_FD" || _ondeck_die "another ondeck script holds $state/.services.lock for too long"
}
_ondeck_unlock() {
    [[ -n "$_ONDECK_LOCK_FD" ]] || return 0
    exec {_ONDECK_LOCK_FD}>&-
    _ONDECK_LOCK_FD=""
}
# Runs a command with the lock fd closed (for commands that leave daemons behind).
_ondeck_nolock() {
    if [[ -n "$_ONDECK_LOCK_FD" ]]; then
        "$@" {_ONDECK_LOCK_FD}>&-
    else
        "$@"
    fi
}

# X_FILE names a file holding X (Docker secrets style); use it when X is unset.
_ondeck_from_file() {
    local var="$1" file_var="${1}_FILE"
    if [[ -z "${!var:-}" && -n "${!file_var:-}" ]]; then
        [[ -r "${!file_var}" ]] || _ondeck_die "$file_var names ${!file_var}, which cannot be read"
        local value
        value="$(<"${!file_var}")"
        export "$var=${value%%[[:space:]]}"
        unset "$file_var"
    fi
}

# --- PostgreSQL --------------------------------------------------------------

_ondeck_pg_answers() { # URL
    PGCONNECT_TIMEOUT=3 psql -X -q -t -A -w -d "$1" -c 'select 1' >/dev/null 2>&1
}

_ondeck_pg_url() { printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$1" "$2"; } # PORT DB

# _ondeck_pg_ensure_db PORT DB — creates DB on the server at 127.0.0.1:PORT.
_ondeck_pg_ensure_db() {
    local port="$1" db="$2" admin found
    admin="$(_ondeck_pg_url "$port" postgres)"
    found="$(psql -X -q -t -A -w -d "$admin" -c "select 1 from pg_database where datname = '$db'" 2>/dev/null || true)"
    [[ "$found" == 1 ]] && return 0
    _ondeck_say "creating database $db on 127.0.0.1:$port"
    if ! psql -X -q -w -d "$admin" -c "create database \"$db\"" >/dev/null 2>&1; then
        # Someone else may have just created it.
        found="$(psql -X -q -t -A -w -d "$admin" -c "select 1 from pg_database where datname = '$db'" 2>/dev/null || true)"
        [[ "$found" == 1 ]] || _ondeck_die "could not create database $db on 127.0.0.1:$port"
    fi
}

# Directory holding initdb, pg_ctl and postgres; of major version $1 when given.
_ondeck_pg_bindir() {
    local want="${1:-}" d path ver
    if [[ -n "$want" && -x "/usr/lib/postgresql/$want/bin/pg_ctl" && -x "/usr/lib/postgresql/$want/bin/initdb" ]]; then
        printf '%s\n' "/usr/lib/postgresql/$want/bin"
        return 0
    fi
    if path="$(command -v pg_ctl 2>/dev/null)" && command -v initdb >/dev/null 2>&1; then
        d="$(dirname "$(readlink -f "$path")")"
        ver="$("$d/pg_ctl" --version 2>/dev/null | sed -nE 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/p')"
        if [[ -x "$d/postgres" && -x "$d/initdb" && (-z "$want" || "$ver" == "$want") ]]; then
            printf '%s\n' "$d"
            return 0
        fi
    fi
    [[ -z "$want" ]] || return 1
    while read -r d; do
        if [[ -x "$d/pg_ctl" && -x "$d/initdb" && -x "$d/postgres" ]]; then
            printf '%s\n' "$d"
            return 0
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    return 1
}

# PostgreSQL refuses to run as root: as root, the private server runs as the
# "postgres" user; otherwise as ourselves.
_ondeck_pg_run() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

_ondeck_pg_user_ensure() {
    ((EUID == 0)) || return 0
    id -u postgres >/dev/null 2>&1 && return 0
    _ondeck_say "creating system user postgres (PostgreSQL will not run as root)"
    useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
        --shell /usr/sbin/nologin postgres ||
        _ondeck_die "could not create user postgres"
}

# Where the private cluster lives (its data dir is <this>/data). With CREATE,
# makes it. As root the postgres user must reach it; when it cannot (e.g. the
# clone is under /root), it goes to /var/lib/ondeck/ instead. The choice is
# written to $ONDECK_STATE_DIR/postgres.location so later calls find it.
_ondeck_pg_base() { # [create]
    local state loc base
    state="$(_ondeck_state_dir)"
    loc="$state/postgres.location"
    if [[ -s "$loc" ]]; then
        base="$(<"$loc")"
    else
        base="$state/postgres"
        if [[ "${1:-}" == create ]]; then
            mkdir -p "$state"
            if ((EUID == 0)) && ! (cd / && runuser -u postgres -- test -x "$state"); then
                base="/var/lib/ondeck/pg-$(printf '%s' "$state" | cksum | cut -d' ' -f1)"
                _ondeck_say "user postgres cannot reach $state; keeping the private PostgreSQL in $base"
            fi
            printf '%s\n' "$base" >"$loc"
        fi
    fi
    if [[ "${1:-}" == create ]]; then
        mkdir -p "$base"
        if ((EUID == 0)); then chown postgres:postgres "$base"; fi
        chmod 700 "$base"
    fi
    printf '%s\n' "$base"
}

# Port of the private cluster when it runs (from postmaster.pid), else fails.
_ondeck_pg_private_running_port() { # BINDIR DATA
    [[ -f "$2/postmaster.pid" ]] || return 1
    _ondeck_pg_run "$1/pg_ctl" status -D "$2" >/dev/null 2>&1 || return 1
    sed -n 4p "$2/postmaster.pid"
}

# Starts (or finds running) the private cluster; prints its port.
_ondeck_pg_private_up() {
    local port="${ONDECK_PG_PORT:-55432}" base data log bindir ver running i
    _ondeck_pg_user_ensure
    base="$(_ondeck_pg_base create)"
    data="$base/data"
    log="$base/postgres.log"

    if [[ -f "$data/PG_VERSION" ]]; then
        ver="$(<"$data/PG_VERSION")"
        if ! bindir="$(_ondeck_pg_bindir "$ver")"; then
            _ondeck_apt_install "postgresql-$ver"
            bindir="$(_ondeck_pg_bindir "$ver")" ||
                _ondeck_die "$data was made by PostgreSQL $ver, whose server binaries are missing; install them or remove $base"
        fi
    else
        if ! bindir="$(_ondeck_pg_bindir)"; then
            _ondeck_apt_install postgresql
            bindir="$(_ondeck_pg_bindir)" || _ondeck_die "installed postgresql but found no initdb/pg_ctl"
        fi
        _ondeck_say "creating a private PostgreSQL cluster in $data"
        rm -rf "$data"
        if ! _ondeck_pg_run "$bindir/initdb" -D "$data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C >"$base/initdb.log" 2>&1; then
            tail -n 20 "$base/initdb.log" >&2 || true
            rm -rf "$data"
            _ondeck_die "initdb failed (full output in $base/initdb.log)"
        fi
        # TCP on 127.0.0.1 only, no Unix socket (so no /var/run/postgresql needed).
        cat >>"$data/postgresql.conf" <<'EOF'

# --- added by ondeck deploy/lib/services.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
EOF
    fi

    if running="$(_ondeck_pg_private_running_port "$bindir" "$data")"; then
        _ondeck_say "private PostgreSQL already running on 127.0.0.1:$running"
        printf '%s\n' "$running"
        return 0
    fi

    if _ondeck_port_busy "$port"; then
        _ondeck_die "port $port is taken by something else; set ONDECK_PG_PORT to a free port"
    fi
    _ondeck_say "starting private PostgreSQL on 127.0.0.1:$port (log: $log)"
    if ! _ondeck_nolock _ondeck_pg_run "$bindir/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
        tail -n 20 "$log" >&2 || true
        _ondeck_die "private PostgreSQL did not start (log: $log)"
    fi
    for ((i = 0; i < 60; i++)); do
        _ondeck_pg_answers "$(_ondeck_pg_url "$port" postgres)" && break
        sleep 0.5
    done
    _ondeck_pg_answers "$(_ondeck_pg_url "$port" postgres)" ||
        _ondeck_die "private PostgreSQL started but does not answer on 127.0.0.1:$port (log: $log)"
    printf '%s\n' "$port"
}

_ondeck_pg_up() { # DBNAME
    local db="$1" sys_port="${ONDECK_SYSTEM_PG_PORT:-5432}" port
    _ondeck_from_file DATABASE_URL
    _ondeck_need_cmd psql postgresql-client

    if [[ -n "${DATABASE_URL:-}" ]]; then
        if _ondeck_pg_answers "$DATABASE_URL"; then
            _ondeck_say "PostgreSQL: $(_ondeck_redact "$DATABASE_URL")"
            export DATABASE_URL
            return 0
        fi
        _ondeck_say "warning: DATABASE_URL ($(_ondeck_redact "$DATABASE_URL")) does not answer; looking for another PostgreSQL"
        unset DATABASE_URL
    fi

    if _ondeck_pg_answers "$(_ondeck_pg_url "$sys_port" postgres)"; then
        _ondeck_pg_ensure_db "$sys_port" "$db"
        export DATABASE_URL
        DATABASE_URL="$(_ondeck_pg_url "$sys_port" "$db")"
        _ondeck_say "PostgreSQL: system server, $DATABASE_URL"
        return 0
    fi

    _ondeck_lock
    port="$(_ondeck_pg_private_up)"
    _ondeck_unlock
    _ondeck_pg_ensure_db "$port" "$db"
    export DATABASE_URL
    DATABASE_URL="$(_ondeck_pg_url "$port" "$db")"
    _ondeck_say "PostgreSQL: private server, $DATABASE_URL"
}

# --- Redis -------------------------------------------------------------------

_ondeck_redis_answers_url() { # URL
    [[ "$(timeout 5 redis-cli -u "$1" ping 2>/dev/null)" == PONG ]]
}
_ondeck_redis_answers_port() { # PORT
    [[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]
}

_ondeck_redis_dir() { printf '%s\n' "$(_ondeck_state_dir)/redis"; }

# Pid of the private redis-server when it runs, else fails.
_ondeck_redis_private_pid() {
    local pidfile pid
    pidfile="$(_ondeck_redis_dir)/redis.pid"
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]] || return 1
    printf '%s\n' "$pid"
}

# Starts (or finds running) the private Redis; prints its port.
_ondeck_redis_private_up() {
    local port="${ONDECK_REDIS_PORT:-56379}" dir running i
    dir="$(_ondeck_redis_dir)"
    mkdir -p "$dir"
    if _ondeck_redis_private_pid >/dev/null && [[ -s "$dir/port" ]]; then
        running="$(<"$dir/port")"
        if _ondeck_redis_answers_port "$running"; then
            _ondeck_say "private Redis already running on 127.0.0.1:$running"
            printf '%s\n' "$running"
            return 0
        fi
    fi
    _ondeck_need_cmd redis-server redis-server
    if _ondeck_port_busy "$port"; then
        _ondeck_die "port $port is taken by something else; set ONDECK_REDIS_PORT to a free port"
    fi
    _ondeck_say "starting private Redis on 127.0.0.1:$port (log: $dir/redis.log)"
    if ! _ondeck_nolock redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null 2>&1; then
        tail -n 20 "$dir/redis.log" >&2 || true
        _ondeck_die "private Redis did not start (log: $dir/redis.log)"
    fi
    printf '%s\n' "$port" >"$dir/port"
    for ((i = 0; i < 50; i++)); do
        _ondeck_redis_answers_port "$port" && break
        sleep 0.2
    done
    _ondeck_redis_answers_port "$port" ||
        _ondeck_die "private Redis started but does not answer on 127.0.0.1:$port (log: $dir/redis.log)"
    printf '%s\n' "$port"
}

_ondeck_redis_up() {
    local sys_port="${ONDECK_SYSTEM_REDIS_PORT:-6379}" port
    _ondeck_from_file REDIS_URL
    _ondeck_need_cmd redis-cli redis-tools

    if [[ -n "${REDIS_URL:-}" ]]; then
        if _ondeck_redis_answers_url "$REDIS_URL"; then
            _ondeck_say "Redis: $(_ondeck_redact "$REDIS_URL")"
            export REDIS_URL
            return 0
        fi
        _ondeck_say "warning: REDIS_URL ($(_ondeck_redact "$REDIS_URL")) does not answer; looking for another Redis"
        unset REDIS_URL
    fi

    if _ondeck_redis_answers_port "$sys_port"; then
        export REDIS_URL="redis://127.0.0.1:$sys_port"
        _ondeck_say "Redis: system server, $REDIS_URL"
        return 0
    fi

    _ondeck_lock
    port="$(_ondeck_redis_private_up)"
    _ondeck_unlock
    export REDIS_URL="redis://127.0.0.1:$port"
    _ondeck_say "Redis: private server, $REDIS_URL"
}

# --- public functions --------------------------------------------------------

ondeck_services_up() { # [DBNAME]
    local db="${1:-ondeck}"
    [[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_-]*$ ]] || _ondeck_die "bad database name '$db'"
    _ondeck_pg_up "$db"
    _ondeck_redis_up
}

ondeck_services_down() {
    local stopped=0 base data ver bindir pid i
    base="$(_ondeck_pg_base)"
    data="$base/data"
    if [[ -f "$data/postmaster.pid" ]]; then
        ver="$(cat "$data/PG_VERSION" 2>/dev/null || true)"
        if bindir="$(_ondeck_pg_bindir "$ver")" &&
            _ondeck_pg_run "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
            _ondeck_say "stopping private PostgreSQL ($data)"
            _ondeck_pg_run "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null ||
                _ondeck_die "pg_ctl stop failed for $data"
            stopped=1
        elif [[ -z "${bindir:-}" ]]; then
            # No binaries to ask: signal the postmaster named in the pid file.
            pid="$(head -n 1 "$data/postmaster.pid")"
            if [[ "$pid" =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres* ]]; then
                _ondeck_say "stopping private PostgreSQL (pid $pid)"
                kill -INT "$pid"
                stopped=1
            fi
        fi
    fi
    if pid="$(_ondeck_redis_private_pid)"; then
        _ondeck_say "stopping private Redis (pid $pid)"
        kill -TERM "$pid"
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && _ondeck_die "private Redis (pid $pid) did not stop"
        rm -f "$(_ondeck_redis_dir)/redis.pid"
        stopped=1
    fi
    if ((stopped)); then
        _ondeck_say "private services stopped (PostgreSQL data kept in $data)"
    else
        _ondeck_say "no private PostgreSQL or Redis is running; nothing to stop"
    fi
}

# _ondeck_version_ge A B — true when version A >= B.
_ondeck_version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]; }

_ondeck_rust_version_wanted() {
    local v
    v="$(sed -nE 's/^rust-version[[:space:]]*=[[:space:]]*"([0-9.]+)".*/\1/p' "$ONDECK_ROOT/Cargo.toml" 2>/dev/null | head -n 1)"
    printf '%s\n' "${v:-1.94}"
}

ondeck_need_cargo() {
    local want have candidate
    want="$(_ondeck_rust_version_wanted)"
    # rustup installs into ~/.cargo/bin, which non-login shells may lack.
    if ! command -v cargo >/dev/null 2>&1; then
        local d
        for d in "${CARGO_HOME:-}/bin" "${HOME:-}/.cargo/bin"; do
            if [[ "$d" != /bin && -x "$d/cargo" ]]; then
                export PATH="$d:$PATH"
                break
            fi
        done
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        if command -v apt-cache >/dev/null 2>&1 && _ondeck_try_apt_update; then
            candidate="$(apt-cache policy rustc 2>/dev/null | sed -nE 's/^[[:space:]]*Candidate:[[:space:]]*(.*)$/\1/p')"
            candidate="$(sed -E 's/^[0-9]+://; s/[+~-].*$//' <<<"$candidate")"
            if [[ "$candidate" =~ ^[0-9]+\.[0-9]+ ]] && _ondeck_version_ge "$candidate" "$want"; then
                _ondeck_apt_install cargo
            fi
        fi
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        printf 'ondeck: error: cargo not found: install Rust %s or newer with rustup (https://rustup.rs), then run again\n' "$want" >&2
        exit 1
    fi
    have="$(rustc --version 2>/dev/null | sed -nE 's/^rustc ([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/p')"
    if [[ -z "$have" ]] || ! _ondeck_version_ge "$have" "$want"; then
        printf 'ondeck: error: rustc %s is too old: install Rust %s or newer with rustup (rustup update), then run again\n' "${have:-?}" "$want" >&2
        exit 1
    fi
}

ondeck_malloc_env() {
    export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
    export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=131072}"
}

ondeck_target_dir() {
    local home="${HOME:-}"
    [[ -n "$home" ]] || home="$(getent passwd "$(id -un)" | cut -d: -f6)"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$home/.cache/ondeck-target}"
}

# s3s-fs 0.14.1 is the last release that builds with rustc 1.94 (0.17 needs a
# newer one).
_ONDECK_S3S_FS_VERSION=0.14.1

ondeck_socat() {
    _ondeck_need_cmd socat socat
}

ondeck_s3s_fs() {
    local home bin_dir found=""
    home="${HOME:-}"
    [[ -n "$home" ]] || home="$(getent passwd "$(id -un)" | cut -d: -f6)"
    bin_dir="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$home/.cargo}}/bin"
    if [[ -n "${ONDECK_S3S_FS:-}" && -f "$ONDECK_S3S_FS" && -x "$ONDECK_S3S_FS" ]]; then
        found="$ONDECK_S3S_FS"
    elif command -v s3s-fs >/dev/null 2>&1; then
        found="$(command -v s3s-fs)"
    elif [[ -f "$bin_dir/s3s-fs" && -x "$bin_dir/s3s-fs" ]]; then
        found="$bin_dir/s3s-fs"
    elif [[ -f "$home/.cargo/bin/s3s-fs" && -x "$home/.cargo/bin/s3s-fs" ]]; then
        found="$home/.cargo/bin/s3s-fs"
    fi
    if [[ -z "$found" ]]; then
        ondeck_need_cargo
        _ondeck_say "installing s3s-fs $_ONDECK_S3S_FS_VERSION with cargo install (about 3 minutes)"
        if ! cargo install "s3s-fs@$_ONDECK_S3S_FS_VERSION" --features binary --locked </dev/null >&2; then
            _ondeck_say "cargo install --locked failed; trying again without --locked"
            cargo install "s3s-fs@$_ONDECK_S3S_FS_VERSION" --features binary </dev/null >&2 ||
                _ondeck_die "cargo install s3s-fs@$_ONDECK_S3S_FS_VERSION --features binary failed"
        fi
        if [[ -f "$bin_dir/s3s-fs" && -x "$bin_dir/s3s-fs" ]]; then
            found="$bin_dir/s3s-fs"
        elif command -v s3s-fs >/dev/null 2>&1; then
            found="$(command -v s3s-fs)"
        else
            _ondeck_die "installed s3s-fs but cannot find it (looked in $bin_dir and on PATH)"
        fi
    fi
    export ONDECK_S3S_FS="$found"
    _ondeck_say "s3s-fs: $ONDECK_S3S_FS"
}
