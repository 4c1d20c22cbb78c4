#!/usr/bin/env bash
# Runs the SQL examples of the documentation and checks their output, so the
# docs never rot:
#   - docs/reference.md on the demo org (examples/demo_setup.sql loaded first)
#   - docs/tutorial.md  from an empty database
# Each document gets a fresh throwaway cluster. Every ```sql block runs in
# order in its own psql session (a first line "-- as: LOGIN" connects as that
# login role; default postgres) and its output must equal the ```text block
# right after it (scripts/doccheck.py has the details). On a difference it
# prints a diff and exits 1.
#
#   scripts/doccheck.sh              check (scripts/test.sh --only docs runs it)
#   scripts/doccheck.sh --update     rewrite the text blocks from a real run
#   scripts/doccheck.sh [--update] docs/tutorial.md   one document
# Installs the extension first only when it is not installed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

UPDATE=()
DOCS=()
for arg in "$@"; do
    case "$arg" in
        --update) UPDATE=(--update) ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) die "unknown option $arg (try --help)" ;;
        *) DOCS+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")") ;;
    esac
done
[ ${#DOCS[@]} -gt 0 ] || DOCS=("$ROOT/docs/reference.md" "$ROOT/docs/tutorial.md")

command -v python3 >/dev/null 2>&1 || die "python3 not found"
ensure_debian_packages
if [ ! -f "$($PG_CONFIG --sharedir)/extension/pg_sharing.control" ]; then
    ensure_cargo_pgrx
    install_extension
fi

START=$(date +%s)
# Our own clusters only (scripts/test.sh exports the one it runs).
CLUSTER_DIR=""
trap 'stop_cluster; rm -rf "${CLUSTER_DIR:-}"' EXIT
FAILED=()
for doc in "${DOCS[@]}"; do
    name="$(basename "$doc" .md)"
    start_cluster "doccheck-$name-$$"
    createdb -U postgres "$name"
    case "$name" in
        reference)
            log "loading examples/demo_setup.sql into database $name"
            psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$name" -f "$ROOT/examples/demo_setup.sql" >/dev/null ;;
    esac
    set +e
    python3 "$ROOT/scripts/doccheck.py" "${UPDATE[@]}" "$doc" "$name"
    rc=$?
    set -e
    [ $rc -eq 0 ] || FAILED+=("$name")
    stop_cluster
    rm -rf "$CLUSTER_DIR"
    CLUSTER_DIR=""
done
log "docs checked in $(( $(date +%s) - START ))s"
[ ${#FAILED[@]} -eq 0 ] || { echo "docs: examples differ in: ${FAILED[*]}"; exit 1; }
