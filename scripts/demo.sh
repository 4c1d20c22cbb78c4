#!/usr/bin/env bash
# The demo: sets up what is missing, builds and installs pg_sharing, starts a
# throwaway cluster, creates a small CRM org and shows, for every user, the
# accounts they see — through the application path (sharing_app + act_as)
# and through each person's own login role (db_role), with psql.
#
#   scripts/demo.sh          run the demo, then stop the cluster
#   scripts/demo.sh --keep   leave the cluster running and print how to connect
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=0
for arg in "$@"; do
    case "$arg" in
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
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
fi
