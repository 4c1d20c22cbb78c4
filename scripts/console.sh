#!/usr/bin/env bash
# The sharing console: builds it when needed and starts it against the
# database of the usual libpq settings (PGHOST, PGPORT, PGUSER, PGDATABASE,
# and a password from PGPASSWORD or ~/.pgpass) or the flags, which are
# passed on to it. Connect as your own login role: the database decides what
# you may change (manage_sharing). Serves http://127.0.0.1:8432/ by default.
#
#   scripts/console.sh -h 127.0.0.1 -p 5432 -U org_admin -d demo
#   scripts/console.sh --listen 127.0.0.1:9000      another address
#   scripts/console.sh --help                         all flags
#
# scripts/demo.sh --keep starts one against the demo org as its admin login.
# See docs/console.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    --help) sed -n '2,13p' "$0"; echo ;;
esac

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
log "building the console"
(cd "$ROOT" && cargo build -q -p pg_sharing_console) || die "building the console failed"
exec "${CARGO_TARGET_DIR:-$ROOT/target}/debug/pg_sharing_console" "$@"
