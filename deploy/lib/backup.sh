#!/usr/bin/env bash
# deploy/lib/backup.sh — what deploy/backup and deploy/restore share. Source
# it from bash; it is not a command. Needs only bash, coreutils, the
# PostgreSQL client (pg_dump, pg_restore, psql) and, for S3, curl ≥ 7.75
# (--aws-sigv4), so it runs on the mini PC, in the postgres image and in CI.
#
#   ondeck_pg_env URL
#     Splits a postgres:// URL for libpq: exports PGPASSWORD (percent-decoded)
#     and sets ONDECK_PG_URL to the URL without the password, so that the
#     password never shows in `ps` or in a message.
#   ondeck_s3_settings
#     Reads S3_BUCKET, S3_REGION (default us-east-1), S3_ENDPOINT (optional:
#     an S3-compatible server, path-style) and the credentials:
#     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, each also as X_FILE, else the
#     [default] profile of AWS_SHARED_CREDENTIALS_FILE — the same settings
#     ondeck's own storage uses.
#   ondeck_s3_url KEY       the object's https URL
#   ondeck_s3_put FILE KEY  uploads FILE (signed with SigV4 by curl)
#   ondeck_s3_get KEY FILE  downloads an object
set -euo pipefail
shopt -s inherit_errexit

_ondeck_bk_die() {
    printf '%s: error: %s\n' "${ONDECK_CMD:-ondeck}" "$*" >&2
    exit 1
}
_ondeck_bk_say() { printf '%s: %s\n' "${ONDECK_CMD:-ondeck}" "$*" >&2; }

# X_FILE names a file holding X (Docker secrets); setting both is an error,
# as in ondeck itself.
ondeck_from_file() { # VAR
    local var="$1" file_var="${1}_FILE" value
    [[ -n "${!file_var:-}" ]] || return 0
    [[ -z "${!var:-}" ]] || _ondeck_bk_die "both $var and $file_var are set; keep one"
    [[ -r "${!file_var}" ]] || _ondeck_bk_die "$file_var names ${!file_var}, which cannot be read"
    value="$(<"${!file_var}")"
    # Trailing newlines and spaces of the file are not part of the value.
    value="${value%"${value##*[![:space:]]}"}"
    export "$var=$value"
}

_ondeck_urldecode() { # TEXT
    # Backslashes first, so that only %XX escapes are interpreted.
    local s="${1//\\/\\\\}"
    printf '%b' "${s//%/\\x}"
}

ondeck_pg_env() { # URL
    local url="$1" re='^(postgres(ql)?://)([^:@/]*)(:([^@/]*))?@(.*)$'
    [[ "$url" =~ ^postgres(ql)?:// ]] ||
        _ondeck_bk_die "the database URL must start with postgres:// (got something else)"
    if [[ "$url" =~ $re ]]; then
        if [[ -n "${BASH_REMATCH[4]}" ]]; then
            export PGPASSWORD
            PGPASSWORD="$(_ondeck_urldecode "${BASH_REMATCH[5]}")"
        fi
        ONDECK_PG_URL="${BASH_REMATCH[1]}${BASH_REMATCH[3]}@${BASH_REMATCH[6]}"
    else
        ONDECK_PG_URL="$url"
    fi
}

# The database named by a URL (its path), and the same URL on another database.
ondeck_pg_dbname() { # URL
    local rest="${1#*://}"
    rest="${rest#*/}"
    [[ "$rest" != "${1#*://}" ]] || {
        printf 'postgres\n'
        return
    }
    _ondeck_urldecode "${rest%%\?*}"
    printf '\n'
}
ondeck_pg_with_db() { # URL DBNAME
    local scheme_less="${1#*://}" query=""
    [[ "$1" == *\?* ]] && query="?${1#*\?}"
    printf '%s://%s/%s%s\n' "${1%%://*}" "${scheme_less%%/*}" "$2" "$query"
}

_ondeck_aws_profile_value() { # FILE KEY — from the [default] section
    awk -F '=' -v key="$2" '
        /^[[:space:]]*\[/ { in_default = ($0 ~ /^[[:space:]]*\[[[:space:]]*default[[:space:]]*\]/) ; next }
        in_default {
            k = $1; gsub(/[[:space:]]/, "", k)
            if (k == key) { v = substr($0, index($0, "=") + 1); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v); print v; exit }
        }' "$1"
}

ondeck_s3_settings() {
    ondeck_from_file S3_BUCKET
    ondeck_from_file S3_ENDPOINT
    ondeck_from_file AWS_ACCESS_KEY_ID
    ondeck_from_file AWS_SECRET_ACCESS_KEY
    [[ -n "${S3_BUCKET:-}" ]] || _ondeck_bk_die "S3_BUCKET is not set (needed to use S3)"
    S3_REGION="${S3_REGION:-us-east-1}"
    local shared="${AWS_SHARED_CREDENTIALS_FILE:-}"
    if [[ -z "${AWS_ACCESS_KEY_ID:-}" && -n "$shared" ]]; then
        [[ -r "$shared" ]] || _ondeck_bk_die "AWS_SHARED_CREDENTIALS_FILE names $shared, which cannot be read"
        AWS_ACCESS_KEY_ID="$(_ondeck_aws_profile_value "$shared" aws_access_key_id)"
        AWS_SECRET_ACCESS_KEY="$(_ondeck_aws_profile_value "$shared" aws_secret_access_key)"
    fi
    [[ -n "${AWS_ACCESS_KEY_ID:-}" && -n "${AWS_SECRET_ACCESS_KEY:-}" ]] ||
        _ondeck_bk_die "S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE, or AWS_SHARED_CREDENTIALS_FILE)"
    command -v curl >/dev/null 2>&1 || _ondeck_bk_die "S3 needs curl (apt-get install curl)"
}

ondeck_s3_url() { # KEY
    if [[ -n "${S3_ENDPOINT:-}" ]]; then
        printf '%s/%s/%s\n' "${S3_ENDPOINT%/}" "$S3_BUCKET" "$1"
    else
        printf 'https://%s.s3.%s.amazonaws.com/%s\n' "$S3_BUCKET" "$S3_REGION" "$1"
    fi
}

# curl with SigV4; the credentials go in through a config on stdin, never argv.
_ondeck_s3_curl() { # ARGS...
    local user="${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}"
    user="${user//\\/\\\\}"
    printf 'user = "%s"\n' "${user//\"/\\\"}" |
        curl --config - --silent --show-error --fail --retry 3 \
            --aws-sigv4 "aws:amz:${S3_REGION}:s3" "$@"
}

ondeck_s3_put() { # FILE KEY
    local sha
    sha="$(sha256sum "$1" | cut -d' ' -f1)"
    _ondeck_s3_curl --upload-file "$1" -H "x-amz-content-sha256: $sha" \
        -H 'content-type: application/octet-stream' -o /dev/null "$(ondeck_s3_url "$2")"
}

ondeck_s3_get() { # KEY FILE
    # SHA-256 of the empty body: a GET has none.
    _ondeck_s3_curl -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
        -o "$2" "$(ondeck_s3_url "$1")"
}
