#!/usr/bin/env bash
# The demo: sets up what is missing, builds and installs pg_sharing, starts a
# throwaway cluster, creates a small CRM org and shows, for every user, the
# accounts they see — through the application path (sharing_app + act_as)
# and through each person's own login role (db_role), with psql.
#
#   scripts/demo.sh          run the demo, then stop the cluster
#   scripts/demo.sh --keep   leave the cluster running, start the sharing console
#                            on it as the admin login org_admin (console/demo_admin.sql),
#                            and print how to connect to both
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=0
for arg in "$@"; do
    case "$arg" in
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown option $arg (try --help)" ;;
    esac
done

ensure_prereqs
install_extension
start_cluster demo
[ "$KEEP" = 1 ] || trap stop_cluster EXIT

psql_demo() { psql -X -q -v ON_ERROR_STOP=1 -d demo "$@"; }

createdb -h "$PGHOST" -p "$PGPORT" -U postgres demo
log "creating the CRM org (examples/demo_setup.sql)"
psql_demo -f "$ROOT/examples/demo_setup.sql" >/dev/null

QUERY="SELECT id, name, billing_city, owner_id FROM accounts ORDER BY id"
USERS=$(psql_demo -At -F '|' -c "SELECT id, name, db_role FROM sharing.users ORDER BY id")

log "1. through the application: one login (crm_app, a member of sharing_app) acting as each user"
while IFS='|' read -r id name _role; do
    echo
    echo "--- $name (user $id), via crm_app + sharing.act_as($id)"
    psql_demo -U crm_app <<SQL
BEGIN;
SELECT sharing.act_as($id) \\gset
$QUERY;
COMMIT;
SQL
done <<< "$USERS"

log "2. through each person's own login role (db_role), as a DBA or BI tool would connect"
while IFS='|' read -r id name role; do
    echo
    echo "--- $name, connected as login role $role"
    psql_demo -U "$role" -c "$QUERY"
done <<< "$USERS"

log "3. why can Erin see account 201, and who can see account 202?"
psql_demo -c "SELECT * FROM sharing.explain_access(3, 'accounts', '201')" \
          -c "SELECT user_id, user_name, access, reasons FROM sharing.who_can_access('accounts', '202')"

log "4. an unmapped login role sees nothing"
psql_demo -c "CREATE ROLE stranger LOGIN" -c "GRANT SELECT ON accounts TO stranger"
psql_demo -U stranger -c "SELECT count(*) AS accounts_visible_to_stranger FROM accounts"

if [ "$KEEP" = 1 ]; then
    echo
    log "cluster left running; connect with:"
    echo "  psql -h $PGHOST -p $PGPORT -U rep_east demo"
    echo "stop it with:"
    echo "  $( is_root && echo "runuser -u postgres -- " )$PG_BIN/pg_ctl -D $CLUSTER_DIR/data stop"

    # The sharing console, as the demo's administrator (a login with
    # manage_sharing, added only here so the demo above stays as it is).
    log "starting the sharing console as org_admin (console/demo_admin.sql)"
    psql_demo -f "$ROOT/console/demo_admin.sql" >/dev/null
    (cd "$ROOT" && cargo build -q -p pg_sharing_console) || die "building the console failed"
    listen=127.0.0.1:8432
    if (exec 3<>/dev/tcp/127.0.0.1/8432) 2>/dev/null; then listen=127.0.0.1:0; fi
    console_log="$RUN_DIR/demo-console.log"
    : >"$console_log"
    PGUSER=org_admin PGDATABASE=demo nohup "${CARGO_TARGET_DIR:-$ROOT/target}/debug/pg_sharing_console" \
        --listen "$listen" >"$console_log" 2>&1 </dev/null &
    console_pid=$!
    url=""
    for _ in $(seq 100); do
        url="$(sed -n 's/^pg_sharing_console listening on \(http[^ ]*\)$/\1/p' "$console_log")"
        [ -n "$url" ] && break
        kill -0 "$console_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$console_log" >&2; die "the console did not start (log: $console_log)"; }
    echo
    log "sharing console running as org_admin (Ada Admin, profile administrator); open:"
    echo "  $url"
    echo "stop it with:"
    echo "  kill $console_pid"
fi
