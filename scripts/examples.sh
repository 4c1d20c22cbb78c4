#!/usr/bin/env bash
# The client examples (examples/, explained in docs/clients.md), each run
# against a throwaway cluster and asserting exactly what each user sees:
#   - python/app_psycopg.py      psycopg 3 + psycopg_pool, act_as per request
#   - python/app_sqlalchemy.py   SQLAlchemy 2, act_as in an after_begin hook
#   - rust-service/              tokio-postgres + deadpool-postgres, concurrent requests
#   - django/                    a Django 5.2 CRM (accounts, notes as a child
#                                table): a middleware opens the request's
#                                transaction and calls act_as; the test
#                                client, runserver over HTTP with persistent
#                                connections and with Django's pool,
#                                .iterator()'s server-side cursors
#   - node/                      node-postgres (pg.Pool) behind Node's http:
#                                named prepared statements, 100 concurrent
#                                requests
#   - PgBouncer in transaction pooling mode: python/pgbouncer_two_clients.py,
#     both Python apps and the Node service (unnamed statements) through it
#   - jdbc/JdbcExamples.java     pgjdbc (Java 17): BI logins (db_role) and the
#                                application path, server-side prepared
#                                statements (prepareThreshold 1 and 5), a
#                                SET ROLE gateway; directly and through PgBouncer
#   - bi_dashboard.sql           as each login role, on the primary and on a
#                                hot standby (pg_basebackup -R)
#   - dba_session.sql            apply_config, rule_overview, explain_access,
#                                who_can_access, check()
# Sets up what is missing: a virtualenv in .run/venv with
# examples/python/requirements.txt (Django included); cargo builds the Rust
# example; npm ci in examples/node when node_modules is missing or
# package-lock.json changed; apt installs libpostgresql-jdbc-java, a JDK
# (openjdk-17-jdk-headless) and Node.js when missing; the extension if it is
# not installed. Prints "examples: N passed, M failed" (with each example's
# seconds) and exits non-zero if any example fails. Logs: .run/examples-logs/.
#
#   scripts/examples.sh        (scripts/test.sh --only examples runs it too)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    "") ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
esac

EXAMPLES="$ROOT/examples"
LOG_DIR="$RUN_DIR/examples-logs"
PGBOUNCER=/usr/sbin/pgbouncer
START=$(date +%s)

# --- set-up of what is missing -----------------------------------------------

ensure_debian_packages
if [ ! -f "$($PG_CONFIG --sharedir)/extension/pg_sharing.control" ]; then
    ensure_cargo_pgrx
    install_extension
fi

ensure_venv
PYTHON="$VENV/bin/python"  # set by ensure_venv

# apt_install_missing PACKAGE...: installs those of the packages that are not installed.
apt_install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install: ${missing[*]}"
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The JDBC example: pgjdbc from Debian, and a JDK (java runs the example's
# single source file, which needs the compiler module a JRE lacks).
PGJDBC_JAR=/usr/share/java/postgresql.jar
apt_install_missing libpostgresql-jdbc-java
java_modules="$(java --list-modules 2>/dev/null || true)"
if ! grep -q '^jdk\.compiler@' <<<"$java_modules"; then
    apt_install_missing openjdk-17-jdk-headless
fi
[ -f "$PGJDBC_JAR" ] || die "$PGJDBC_JAR missing after installing libpostgresql-jdbc-java"

# The Node example: Node.js (Debian's when there is none), and its locked
# dependencies installed with npm ci when node_modules is missing or
# package-lock.json changed since (a copy of the lock marks what is installed).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install_missing nodejs npm
fi
NODE_DIR="$EXAMPLES/node"
if ! cmp -s "$NODE_DIR/package-lock.json" "$NODE_DIR/node_modules/.installed-package-lock.json"; then
    log "npm ci in $NODE_DIR"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null \
        || die "npm ci in $NODE_DIR failed"
    cp "$NODE_DIR/package-lock.json" "$NODE_DIR/node_modules/.installed-package-lock.json"
fi

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

# --- running and counting examples -------------------------------------------

PASSED=0
FAILED=()
# run_example NAME COMMAND...: runs one example, its output in a log file;
# prints the example's "ok" lines when it passes, the end of its log if not.
run_example() {
    local name="$1"; shift
    local logfile
    logfile="$LOG_DIR/$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_').log"
    local start end secs
    start=$(date +%s%N)
    if "$@" >"$logfile" 2>&1; then
        end=$(date +%s%N); secs=$(( (end - start) / 100000000 ))
        PASSED=$((PASSED + 1))
        printf '  pass  %s (%d.%ds)\n' "$name" $((secs / 10)) $((secs % 10))
        grep -E '^ok ' "$logfile" | sed 's/^/          /' || true
    else
        end=$(date +%s%N); secs=$(( (end - start) / 100000000 ))
        FAILED+=("$name")
        printf '  FAIL  %s (%d.%ds, log: %s)\n' "$name" $((secs / 10)) $((secs % 10)) "$logfile"
        tail -n 40 "$logfile" | sed 's/^/          /'
    fi
}

# --- the cluster, the demo org, and PgBouncer ---------------------------------

# start_pgbouncer: PgBouncer in transaction pooling mode in front of the
# cluster, on a free port, two server connections per database and user;
# every database name is passed through to the cluster.
start_pgbouncer() {
    BOUNCER_DIR="$CLUSTER_DIR/pgbouncer"
    BOUNCER_PORT="$(free_port)"
    mkdir -p "$BOUNCER_DIR"
    # auth_type trust still wants the users in the auth_file.
    printf '"%s" ""\n' crm_app "${LOGINS[@]}" bi_gateway | sort -u >"$BOUNCER_DIR/userlist.txt"
    cat >"$BOUNCER_DIR/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PGPORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $BOUNCER_DIR/userlist.txt
pool_mode = transaction
; pgjdbc sends extra_float_digits when it connects; PgBouncer refuses
; startup parameters it does not know unless told to ignore them.
ignore_startup_parameters = extra_float_digits
default_pool_size = 2
max_client_conn = 50
logfile = $BOUNCER_DIR/pgbouncer.log
pidfile = $BOUNCER_DIR/pgbouncer.pid
EOF
    if is_root; then chown -R postgres: "$BOUNCER_DIR"; fi
    as_server_user "$PGBOUNCER" -d -q "$BOUNCER_DIR/pgbouncer.ini" \
        || { cat "$BOUNCER_DIR/pgbouncer.log" >&2; die "pgbouncer did not start"; }
    local tries=100
    # (Not database crm: PgBouncer keeps the server connection, and copies of
    # crm need it unused.)
    until psql -X -q -At -h 127.0.0.1 -p "$BOUNCER_PORT" -U crm_app -d postgres -c 'SELECT 1' >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { cat "$BOUNCER_DIR/pgbouncer.log" >&2; die "pgbouncer does not answer on port $BOUNCER_PORT"; }
        sleep 0.1
    done
    log "pgbouncer (transaction pooling) running on port $BOUNCER_PORT"
}

stop_pgbouncer() {
    local pidfile="$BOUNCER_DIR/pgbouncer.pid"
    [ -n "$BOUNCER_DIR" ] && [ -f "$pidfile" ] || return 0
    local pid tries=100
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do tries=$((tries - 1)); sleep 0.1; done
    rm -f "$pidfile"
}

# The Django and Node checks start their own servers and stop them (also when
# they fail); each also writes its server's pid to this file, so that an
# interrupted run stops them too.
EXAMPLES_PIDFILE="$LOG_DIR/servers.pids"
export EXAMPLES_PIDFILE
stop_example_servers() {
    local pid
    [ -f "$EXAMPLES_PIDFILE" ] || return 0
    while read -r pid; do
        # Only if that pid is still one of the example servers.
        if grep -qaE 'runserver|server\.js' "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    done <"$EXAMPLES_PIDFILE"
}

BOUNCER_DIR=""
cleanup() {
    stop_example_servers
    stop_pgbouncer
    stop_standby
    stop_cluster
    rm -rf "${STANDBY_DIR:-}" "${CLUSTER_DIR:-}"
}
trap cleanup EXIT

start_cluster "examples-$$" wal_level=replica max_wal_senders=4
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -U postgres "$@"; }

log "creating the CRM org (examples/demo_setup.sql) in database crm"
createdb -U postgres crm
psql_admin -d crm -f "$EXAMPLES/demo_setup.sql" >/dev/null
# Each example that writes gets its own copy of the org, so that no example
# depends on what another one changed.
copy_of_crm() { createdb -U postgres -T crm "$1"; }

conninfo() { echo "host=127.0.0.1 port=$1 dbname=$2 user=crm_app"; }
sqlalchemy_url() { echo "postgresql+psycopg://crm_app@127.0.0.1:$1/$2"; }

# visible_ids PORT LOGIN [USER_ID]: the accounts LOGIN sees (acting as
# USER_ID, in one transaction, when given), as "101,102".
visible_ids() {
    local act_as=""
    [ -z "${3:-}" ] || act_as="SELECT sharing.act_as($3) \\g /dev/null"
    psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$2" -d crm <<SQL
BEGIN;
$act_as
SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM accounts;
COMMIT;
SQL
}

# expect_ids WHAT EXPECTED PORT LOGIN [USER_ID]
expect_ids() {
    local what="$1" expected="$2" seen
    shift 2
    seen="$(visible_ids "$@")"
    if [ "$seen" = "$expected" ]; then
        echo "ok   $what sees [$seen]"
    else
        echo "$what sees [$seen], expected [$expected]"
        return 1
    fi
}

rust_service() {
    local dir="$EXAMPLES/rust-service"
    (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build --locked) \
        && "$dir/target/debug/pg_sharing_rust_service" "$1"
}

# django_crm DB: the Django CRM (examples/django) on a copy of the org: its
# migrations run as postgres (they protect the notes table and grant crm_app
# its privileges), then check_django.py serves it as crm_app.
django_crm() {
    local dir="$EXAMPLES/django"
    copy_of_crm "$1"
    (cd "$dir" && CRM_DB_HOST=127.0.0.1 CRM_DB_PORT="$PGPORT" CRM_DB_NAME="$1" CRM_DB_USER=postgres \
        "$PYTHON" manage.py migrate -v 0) \
        && (cd "$dir" && CRM_DB_HOST=127.0.0.1 CRM_DB_PORT="$PGPORT" CRM_DB_NAME="$1" CRM_DB_USER=crm_app \
            "$PYTHON" check_django.py)
}

# jdbc_examples DB: examples/jdbc/JdbcExamples.java on a copy of the org,
# directly and through PgBouncer (running).
jdbc_examples() {
    copy_of_crm "$1"
    psql_admin -d "$1" -f "$EXAMPLES/jdbc/setup.sql" \
        && java -cp "$PGJDBC_JAR" "$EXAMPLES/jdbc/JdbcExamples.java" 127.0.0.1 "$PGPORT" "$BOUNCER_PORT" "$1"
}

# --- the examples ---------------------------------------------------------------

LOGINS=(ceo sales_manager rep_east rep_west support_agent crm_app)

log "1. an application with a pool: one login, act_as per transaction"
copy_of_crm crm_psycopg
run_example "psycopg 3 + psycopg_pool (python/app_psycopg.py)" \
    "$PYTHON" "$EXAMPLES/python/app_psycopg.py" "$(conninfo "$PGPORT" crm_psycopg)"
copy_of_crm crm_sqlalchemy
run_example "SQLAlchemy 2 (python/app_sqlalchemy.py)" \
    "$PYTHON" "$EXAMPLES/python/app_sqlalchemy.py" "$(sqlalchemy_url "$PGPORT" crm_sqlalchemy)"
copy_of_crm crm_rust
log "   (the Rust example builds first: a minute the first time)"
run_example "tokio-postgres + deadpool-postgres (rust-service/)" rust_service "$(conninfo "$PGPORT" crm_rust)"
run_example "Django 5.2: middleware + test client + runserver over HTTP (django/)" django_crm crm_django
copy_of_crm crm_node
run_example "Node.js pg.Pool + http, named statements, 100 concurrent requests (node/)" \
    node "$EXAMPLES/node/check.js" "postgresql://crm_app@127.0.0.1:$PGPORT/crm_node"

log "2. PgBouncer in transaction pooling mode; JDBC directly and through it"
start_pgbouncer
copy_of_crm crm_bouncer
run_example "PgBouncer: two clients interleaving transactions (python/pgbouncer_two_clients.py)" \
    "$PYTHON" "$EXAMPLES/python/pgbouncer_two_clients.py" "$(conninfo "$BOUNCER_PORT" crm_bouncer)"
copy_of_crm crm_bouncer_psycopg
run_example "PgBouncer: python/app_psycopg.py --pgbouncer" \
    "$PYTHON" "$EXAMPLES/python/app_psycopg.py" "$(conninfo "$BOUNCER_PORT" crm_bouncer_psycopg)" --pgbouncer
copy_of_crm crm_bouncer_sqlalchemy
run_example "PgBouncer: python/app_sqlalchemy.py --pgbouncer" \
    "$PYTHON" "$EXAMPLES/python/app_sqlalchemy.py" "$(sqlalchemy_url "$BOUNCER_PORT" crm_bouncer_sqlalchemy)" --pgbouncer
copy_of_crm crm_bouncer_node
run_example "PgBouncer: node/check.js --pgbouncer (unnamed statements)" \
    node "$EXAMPLES/node/check.js" "postgresql://crm_app@127.0.0.1:$BOUNCER_PORT/crm_bouncer_node" --pgbouncer
run_example "JDBC (pgjdbc, Java 17): BI logins, act_as, SET ROLE; directly and through PgBouncer (jdbc/)" \
    jdbc_examples crm_jdbc
stop_pgbouncer

log "3. BI dashboards through each person's own login role (db_role)"
for login in "${LOGINS[@]}"; do
    run_example "bi_dashboard.sql as $login" \
        psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U "$login" -d crm -f "$EXAMPLES/bi_dashboard.sql"
done

# A person's login is that person: it cannot act on behalf of anyone else.
login_cannot_act_as() {
    local out
    out="$(psql -X -v VERBOSITY=verbose -h 127.0.0.1 -p "$PGPORT" -U rep_east -d crm \
               -c "SELECT sharing.act_as(1)" 2>&1)"
    if grep -q 42501 <<<"$out"; then
        echo "ok   rep_east (not a member of sharing_app) cannot act_as Carol: 42501"
    else
        echo "$out"
        return 1
    fi
}
run_example "a person's login cannot act_as another user" login_cannot_act_as

log "4. a DBA session: config as code, rule list, explanations, doctor"
copy_of_crm crm_dba
run_example "dba_session.sql" psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d crm_dba \
    -f "$EXAMPLES/dba_session.sql"

log "5. a hot-standby replica enforces the same rows"
start_standby "examples-standby-$$"
wait_for_standby
for login in "${LOGINS[@]}"; do
    run_example "bi_dashboard.sql as $login on the standby" \
        psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$STANDBY_PORT" -U "$login" -d crm -f "$EXAMPLES/bi_dashboard.sql"
done
standby_app_path() {
    expect_ids "crm_app acting as Erin (3)" 101,102,201 "$STANDBY_PORT" crm_app 3 &&
        expect_ids "crm_app acting as Will (4)" 201,202 "$STANDBY_PORT" crm_app 4
}
run_example "standby: the application path, act_as per transaction" standby_app_path
# A change of the model on the primary (it regenerates the policies) reaches
# the standby with the WAL: make accounts public_read, wait for the replay.
psql_admin -d crm -c "SELECT sharing.set_default_access('accounts', 'public_read')" >/dev/null
wait_for_standby
standby_after_change() {
    expect_ids "rep_west, now that accounts are public_read," 101,102,201,202,301,401 "$STANDBY_PORT" rep_west &&
        expect_ids "crm_app without act_as (no user)" "" "$STANDBY_PORT" crm_app
}
run_example "standby: after set_default_access('accounts', 'public_read') on the primary" standby_after_change

echo
log "examples finished in $(( $(date +%s) - START ))s (logs: $LOG_DIR)"
[ ${#FAILED[@]} -eq 0 ] || printf 'failed: %s\n' "${FAILED[@]}"
echo "examples: $PASSED passed, ${#FAILED[@]} failed"
[ ${#FAILED[@]} -eq 0 ]
