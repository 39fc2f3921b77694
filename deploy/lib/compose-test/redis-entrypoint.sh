#!/bin/bash
# The stand-in Redis image's entrypoint: like the official image, a
# redis-server started without a configuration file listens on every
# interface with protected mode off.
set -euo pipefail
if [[ "${1:-}" == redis-server && "${2:-}" != *.conf ]]; then
    shift
    set -- redis-server --bind '*' --protected-mode no "$@"
fi
exec "$@"
