#!/usr/bin/env bash
# The console test (scripts/test.sh --only console): the console's unit
# tests, then a throwaway cluster with the demo org and its administrator
# login, the console started as the admin
# (org_admin) and as a user without manage_sharing (rep_east), and headless
# Chromium driving the page (console/tests/browser.cjs), checking what the
# page shows and what the database then holds.
#
#   console/tests/run.sh                      run it
#   CONSOLE_SCREENSHOTS=1 console/tests/run.sh   also write docs/console/*.png
#
# Needs chromium (Debian package) and playwright-core (npm, pinned, kept in
# .run/console-browser); installs them when missing.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

PLAYWRIGHT_VERSION=1.61.1  # the newest that runs on Debian 12's Node 18
BROWSER_DIR="$RUN_DIR/console-browser"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

ensure_browser() {
    if [ ! -x "$CHROMIUM" ]; then
        command -v apt-get >/dev/null 2>&1 || die "$CHROMIUM not found; install Chromium or set CHROMIUM"
        log "installing chromium (Debian package)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "installing nodejs and npm (Debian packages)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    local installed=""
    [ -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] \
        && installed="$(node -p "require('$BROWSER_DIR/node_modules/playwright-core/package.json').version")"
    if [ "$installed" != "$PLAYWRIGHT_VERSION" ]; then
        log "installing playwright-core $PLAYWRIGHT_VERSION into $BROWSER_DIR"
        mkdir -p "$BROWSER_DIR"
        echo '{"private": true}' > "$BROWSER_DIR/package.json"
        (cd "$BROWSER_DIR" && npm install --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION")
    fi
}

# start_console NAME LOGIN: the console as LOGIN on a free port, its URL in
# CONSOLE_URL (read from its first line of output, polled).
CONSOLE_PIDS=()
start_console() {
    local name="$1" login="$2" out="$CONSOLE_LOGS/$1.log" tries=300
    : >"$out"
    PGUSER="$login" PGDATABASE=demo "$CONSOLE_BIN" --listen 127.0.0.1:0 >"$out" 2>&1 &
    CONSOLE_PIDS+=($!)
    CONSOLE_URL=""
    while [ -z "$CONSOLE_URL" ]; do
        CONSOLE_URL="$(sed -n 's/^pg_sharing_console listening on \(http[^ ]*\)$/\1/p' "$out")"
        [ -n "$CONSOLE_URL" ] && break
        kill -0 "${CONSOLE_PIDS[-1]}" 2>/dev/null || { cat "$out" >&2; die "console $name exited"; }
        tries=$((tries - 1)); [ "$tries" -gt 0 ] || { cat "$out" >&2; die "console $name did not start"; }
        sleep 0.1
    done
    log "console as $login: $CONSOLE_URL"
}

cleanup() {
    local pid
    for pid in "${CONSOLE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_cluster
    [ -z "${CLUSTER_DIR:-}" ] || rm -rf "$CLUSTER_DIR"
}

START=$(date +%s)
ensure_debian_packages
ensure_browser
if [ ! -f "$($PG_CONFIG --sharedir)/extension/pg_sharing.control" ]; then
    ensure_cargo_pgrx
    install_extension
fi

log "building the console and running its unit tests"
(cd "$ROOT" && cargo build -q -p pg_sharing_console && cargo test -q -p pg_sharing_console)
CONSOLE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/pg_sharing_console"

CLUSTER_DIR=""
trap cleanup EXIT
start_cluster "console-test-$$"
CONSOLE_LOGS="$RUN_DIR/console-test-logs"
rm -rf "$CONSOLE_LOGS"; mkdir -p "$CONSOLE_LOGS"
createdb -U postgres demo
psql -X -q -v ON_ERROR_STOP=1 -U postgres -d demo -f "$ROOT/examples/demo_setup.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -U postgres -d demo -f "$ROOT/console/demo_admin.sql" >/dev/null

start_console admin org_admin
ADMIN_URL="$CONSOLE_URL"
start_console user rep_east
USER_URL="$CONSOLE_URL"

log "driving headless Chromium"
set +e
ADMIN_URL="$ADMIN_URL" USER_URL="$USER_URL" CHROMIUM="$CHROMIUM" PGDATABASE=demo \
    FAILURE_SCREENSHOT="$CONSOLE_LOGS/failure.png" \
    SCREENSHOT_DIR="$( [ "${CONSOLE_SCREENSHOTS:-}" = 1 ] && echo "$ROOT/docs/console" )" \
    NODE_PATH="$BROWSER_DIR/node_modules" node "$ROOT/console/tests/browser.cjs"
rc=$?
set -e
if [ $rc -ne 0 ]; then
    log "console logs in $CONSOLE_LOGS"
    tail -n 20 "$CONSOLE_LOGS"/*.log >&2 || true
fi
log "console test finished in $(( $(date +%s) - START ))s"
exit $rc
