#!/usr/bin/env bash
# bench/lib.sh — what the benchmark scripts share for the servers they start.
# Source it (after `cd` to the repository); it is not a command. Messages go
# to stderr, prefixed with the calling script's name.
#
#   bench_free_port
#     Prints a loopback port in 20000–49999 that nothing answers on.
#   bench_wait_ready URL PID WHAT
#     Waits up to 30 s for GET URL to succeed; fails at once if PID exits.
#   bench_stop PID
#     SIGTERM, up to 10 s of graceful shutdown, then SIGKILL; reaps PID. An
#     empty PID is nothing to stop.

_bench_die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

bench_free_port() {
    local port
    for _ in {1..100}; do
        port=$((20000 + RANDOM % 30000))
        # Nothing answers there: free, as far as a shell can tell.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    _bench_die "found no free port"
}

bench_wait_ready() {
    local url=$1 pid=$2 what=$3 i
    for ((i = 0; ; i++)); do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || _bench_die "$what exited before it was ready"
        ((i < 300)) || _bench_die "$what was not ready after 30 s ($url)"
        sleep 0.1
    done
}

bench_stop() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in {1..100}; do # graceful shutdown, 10 s at most
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
