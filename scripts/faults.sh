#!/usr/bin/env bash
# Faults and load, against a throwaway cluster of its own:
#   1. crash: a backend is killed (kill -9) in the middle of a large model
#      change — a criteria rule on a table of many rows, a large
#      apply_config document, a bulk of user creations — the cluster goes
#      through crash recovery, and then sharing.check() reports no problem,
#      the change is wholly absent, and every user sees exactly the rows
#      they saw before;
#   2. soak: pgbench runs mixed reads (act_as + SELECT), writes and model
#      changes from 16 clients for a bounded time; no transaction may fail
#      (serialization failures and deadlocks are retried, --max-tries), no
#      backend may crash, and afterwards every user's rows agree with
#      sharing.can_read for a sample of every table, and sharing.check()
#      reports no problem.
# No fixed sleeps: the killed statement is made to wait on a lock held by
# another session, and the script polls (bounded) for it to do so.
#
#   scripts/faults.sh               crash runs and a 20 s soak
#   scripts/faults.sh --soak 600    a longer soak (seconds)
#   scripts/faults.sh --no-crash    the soak only
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOAK=20
CRASH=1
while [ $# -gt 0 ]; do
    case "$1" in
        --soak) SOAK="$2"; shift 2 ;;
        --no-crash) CRASH=0; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
[[ "$SOAK" =~ ^[0-9]+$ ]] || die "--soak takes a number of seconds"

ensure_prereqs
install_extension
start_cluster "faults-$$"
trap 'stop_cluster; rm -rf "$CLUSTER_DIR"' EXIT
LOG="$CLUSTER_DIR/server.log"
WORK="$CLUSTER_DIR/work"
mkdir -p "$WORK"
chmod 777 "$WORK"

USERS=30
ACCOUNTS=60000
DB=faults
APP=faults_app

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
fail() { printf '\033[31mFAILED: %s\033[0m\n' "$*" >&2; FAILURES=$((FAILURES + 1)); }
FAILURES=0

log "setting up: $USERS users, $ACCOUNTS accounts with notes"
psql -X -q -d postgres -c "CREATE DATABASE $DB"
q >/dev/null <<SQL
CREATE EXTENSION pg_sharing;
CREATE ROLE $APP LOGIN IN ROLE sharing_app, sharing_admin;
CREATE TABLE accounts (id bigint PRIMARY KEY, owner_id bigint, city text, amount numeric);
CREATE TABLE notes (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE);
CREATE INDEX ON notes (account_id);
CREATE SEQUENCE soak_ids START 10000000;
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, notes TO $APP;
GRANT USAGE ON SEQUENCE soak_ids TO $APP;
SELECT sharing.create_role('r1');
SELECT sharing.create_role('r2', 'r1');
SELECT sharing.create_role('r3', 'r1');
SELECT sharing.create_role('r4', 'r2');
SELECT sharing.create_role('r5', 'r2', true);
SELECT sharing.create_role('r6', 'r3');
SELECT sharing.create_user('u' || i, 'r' || (1 + i % 6), id => i) FROM generate_series(1, $USERS) i;
SELECT sharing.create_group('g' || i) FROM generate_series(1, 4) i;
SELECT sharing.add_to_group('g' || (1 + i % 4), 'user', 'u' || i) FROM generate_series(1, $USERS, 3) i;
SELECT sharing.add_to_group('g1', 'role_and_subordinates', 'r3');
INSERT INTO accounts
SELECT i, 1 + i % $USERS, (ARRAY['Boston', 'New York', 'Seattle', NULL])[1 + i % 4], (i * 37) % 50000
  FROM generate_series(1, $ACCOUNTS) i;
INSERT INTO notes SELECT i * 10, i FROM generate_series(1, $ACCOUNTS, 3) i;
SELECT sharing.protect('accounts');
SELECT sharing.protect_child('notes', 'account_id', 'accounts');
SELECT sharing.create_criteria_rule('accounts', 'big deals',
    '{"conditions": [{"column": "amount", "op": ">=", "value": 45000}]}', 'role_and_subordinates', 'r2', 'read');
SELECT sharing.create_owner_rule('accounts', 'west to east', 'role', 'r4', 'group', 'g2', 'read_write');
SELECT sharing.share_record('accounts', i::text, 'user', 'u' || (1 + i % 7), 'read') FROM generate_series(1, 500, 7) i;
ANALYZE;
SQL

# Every user's visible rows, one line per user and table: user|table|count|md5.
snapshot() {
    local sql="" u
    for u in $(seq 1 "$USERS"); do
        sql+="BEGIN; SELECT sharing.act_as($u);
              SELECT '$u|accounts|' || count(*) || '|' || md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) FROM accounts;
              SELECT '$u|notes|' || count(*) || '|' || md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) FROM notes;
              COMMIT;"
    done
    q -U "$APP" -c "$sql" | grep '|'
}

# Problems sharing.check() reports, apart from the superuser that runs this.
problems() {
    q -c "SELECT severity || ' ' || object || ': ' || message FROM sharing.check()
           WHERE NOT (severity = 'warning' AND object = 'postgres')"
}

# Waits (bounded) until the server accepts queries again.
wait_for_recovery() {
    local tries=600
    until pg_isready -q -h "$PGHOST" -p "$PGPORT" && psql -X -At -d "$DB" -c 'SELECT 1' >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || die "the server did not come back after the crash"
        sleep 0.1
    done
}

# Polls (bounded) until the backend of application_name $1 satisfies the
# condition $2 (SQL over pg_stat_activity a); prints its pid.
wait_for_backend() {
    local app="$1" cond="$2" tries=600 pid=""
    while [ -z "$pid" ]; do
        pid="$(psql -X -At -d "$DB" -c "SELECT a.pid FROM pg_stat_activity a WHERE a.application_name = '$app' AND ($cond)")"
        [ -n "$pid" ] && break
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || die "backend $app never reached: $cond"
        sleep 0.05
    done
    echo "$pid"
}

CRASHES=0
LOST=0
# crash_run NAME SQL HOLD: runs SQL as a victim session, kills its backend
# with SIGKILL while it runs, waits for recovery and checks the aftermath.
# With HOLD (a LOCK TABLE statement), a blocker session holds that lock
# first and the victim is killed while it waits for it, after all the
# catalog writes before; without, it is killed once it has written to
# sharing.users.
crash_run() {
    local name="$1" sql="$2" hold="${3:-}" before after victim pid cond blocker_pid=""
    log "crash run: $name"
    before="$(snapshot)"
    local total_before
    total_before="$(q -c 'SELECT count(*) FROM accounts')/$(q -c 'SELECT count(*) FROM notes')"
    if [ -n "$hold" ]; then
        coproc BLOCKER { psql -X -At -d "$DB" 2>/dev/null; }
        blocker_pid=$BLOCKER_PID
        echo "BEGIN; $hold; SELECT 'held';" >&"${BLOCKER[1]}"
        local line=""
        while [ "$line" != held ]; do read -r line <&"${BLOCKER[0]}" || die "blocker session ended"; done
        cond="a.wait_event_type = 'Lock' AND a.state = 'active'"
    else
        cond="a.state = 'active' AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted
                 AND l.relation = 'sharing.users'::regclass AND l.mode = 'RowExclusiveLock')"
    fi
    printf '%s\n' "$sql" >"$WORK/victim.sql"
    PGAPPNAME=faults_victim psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -f "$WORK/victim.sql" >"$WORK/victim.out" 2>&1 &
    victim=$!
    pid="$(wait_for_backend faults_victim "$cond")"
    kill -9 "$pid"
    if wait "$victim"; then fail "$name: the killed statement reported success"; fi
    if [ -n "$hold" ]; then
        # The crash ended the blocker's session too; end its psql.
        eval "exec ${BLOCKER[1]}>&-"
        wait "$blocker_pid" 2>/dev/null || true
    fi
    wait_for_recovery
    grep -q "(PID $pid) was terminated by signal 9" "$LOG" || fail "$name: the server log shows no crash of backend $pid"
    CRASHES=$((CRASHES + 1))
    local p
    p="$(problems)"
    [ -z "$p" ] || fail "$name: sharing.check() after recovery: $p"
    after="$(snapshot)"
    if [ "$before" != "$after" ]; then
        local changed
        changed="$(diff <(echo "$before") <(echo "$after") | grep -c '^>' || true)"
        LOST=$((LOST + changed))
        fail "$name: $changed user/table row sets differ after recovery"
        diff <(echo "$before") <(echo "$after") | head -20 >&2
    fi
    local total_after
    total_after="$(q -c 'SELECT count(*) FROM accounts')/$(q -c 'SELECT count(*) FROM notes')"
    [ "$total_before" = "$total_after" ] || fail "$name: rows before/after: $total_before vs $total_after"
}

if [ "$CRASH" -eq 1 ]; then
    crash_run "create_criteria_rule on $ACCOUNTS rows, killed waiting for its table lock" \
        "SELECT sharing.create_criteria_rule('accounts', 'crash rule',
            '{\"conditions\": [{\"column\": \"city\", \"op\": \"in\", \"value\": [\"Boston\", \"Seattle\"]}]}',
            'all_users', NULL, 'read_write');" \
        "LOCK TABLE accounts IN ACCESS SHARE MODE"
    [ "$(q -c "SELECT count(*) FROM sharing.rules WHERE name = 'crash rule'")" = 0 ] \
        || fail "the killed criteria rule exists after recovery"

    # A large document: today's model plus 2000 users, 50 groups and a
    # criteria rule (its policy change waits for the lock, after the users).
    q -c "SELECT jsonb_set(jsonb_set(jsonb_set(c, '{users}', (c -> 'users') || (
              SELECT jsonb_agg(jsonb_build_object('name', 'bulk' || i, 'role', 'r' || (1 + i % 6), 'id', 100000 + i,
                                                  'profile', 'standard', 'active', true, 'db_role', NULL))
                FROM generate_series(1, 2000) i)),
            '{groups}', (c -> 'groups') || (SELECT jsonb_agg(jsonb_build_object('name', 'bulkg' || i,
                  'members', jsonb_build_array(jsonb_build_object('type', 'user', 'name', 'bulk' || i))))
                FROM generate_series(1, 50) i)),
            '{rules}', (c -> 'rules') || jsonb_build_array(jsonb_build_object('table', 'public.accounts',
                  'name', 'config rule', 'type', 'criteria', 'criteria', '{\"conditions\": [{\"column\": \"amount\", \"op\": \"<\", \"value\": 100}]}'::jsonb,
                  'to_type', 'all_users', 'to_name', NULL, 'access', 'read', 'superiors_allowed', false, 'active', true)))
           FROM (SELECT sharing.export_config() AS c) x" >"$WORK/big.json"
    chmod 644 "$WORK/big.json"
    crash_run "apply_config of a document with 2000 more users, killed waiting for a table lock" \
        "SELECT count(*) FROM sharing.apply_config(pg_read_file('$WORK/big.json')::jsonb);" \
        "LOCK TABLE accounts IN ACCESS SHARE MODE"
    crash_run "2000 create_user in one statement, killed while running" \
        "SELECT count(sharing.create_user('mass' || i, 'r' || (1 + i % 6))) FROM generate_series(1, 2000) i;"
    [ "$(q -c "SELECT count(*) FROM sharing.users WHERE name LIKE 'bulk%' OR name LIKE 'mass%'")" = 0 ] \
        || fail "users of a killed change exist after recovery"
    # The same changes, not killed, go through: the crashes broke nothing.
    q -c "SELECT count(*) FROM sharing.apply_config(pg_read_file('$WORK/big.json')::jsonb)" >/dev/null \
        || fail "apply_config of the document after recovery failed"
    [ "$(q -c "SELECT count(*) FROM sharing.users WHERE name LIKE 'bulk%'")" = 2000 ] \
        || fail "apply_config after recovery did not create the users"
    p="$(problems)"
    [ -z "$p" ] || fail "sharing.check() after applying the document: $p"
fi

# ------------------------------------------------------------------ the soak
log "soak: 16 clients for ${SOAK}s (reads, writes, model changes)"
cat >"$WORK/read.sql" <<'SQL'
\set u random(1, 30)
\set a random(1, 60000)
BEGIN;
SELECT sharing.act_as(:u);
SELECT count(*) FROM accounts WHERE city = 'Boston';
SELECT id, amount FROM accounts WHERE owner_id = :u ORDER BY id LIMIT 5;
SELECT count(*) FROM notes WHERE account_id BETWEEN :a AND :a + 500;
SELECT sharing.can_read(:u, 'accounts', :a::text);
END;
SQL
cat >"$WORK/write.sql" <<'SQL'
\set u random(1, 30)
\set a random(1, 60000)
BEGIN;
SELECT sharing.act_as(:u);
UPDATE accounts SET amount = amount + 1 WHERE id = :a;
INSERT INTO accounts (id, owner_id, city, amount) VALUES (nextval('soak_ids'), :u, 'Soak', :a);
INSERT INTO notes (id, account_id) VALUES (currval('soak_ids'), currval('soak_ids'));
DELETE FROM accounts WHERE id = (SELECT min(id) FROM accounts WHERE owner_id = :u AND city = 'Soak' AND id >= 10000000);
END;
SQL
cat >"$WORK/model.sql" <<'SQL'
\set u random(1, 30)
\set r random(1, 6)
\set g random(1, 4)
\set a random(1, 60000)
\set k random(1, 6)
BEGIN;
SELECT sharing.alter_user('u' || :u, jsonb_build_object('role', 'r' || :r));
SELECT sharing.add_to_group('g' || :g, 'user', 'u' || :u);
DELETE FROM sharing.group_members WHERE group_id = (SELECT id FROM sharing.groups WHERE name = 'g' || (1 + :g % 4))
   AND member_type = 'user' AND member_id = :u;
SELECT sharing.move_role('r6', CASE WHEN :k % 2 = 0 THEN 'r1' ELSE 'r3' END);
SELECT sharing.share_record('accounts', :a::text, 'user', 'u' || :u, 'read');
\if :k <= 2
SELECT sharing.drop_rule(id) FROM sharing.rules WHERE name = 'soak ' || :client_id;
SELECT sharing.create_criteria_rule('accounts', 'soak ' || :client_id,
    jsonb_build_object('conditions', jsonb_build_array(jsonb_build_object('column', 'amount', 'op', '>=', 'value', 40000 + :k * 1000))),
    'role', 'r' || :r, 'read');
\endif
\if :k = 1
SELECT sharing.set_default_access('accounts', CASE WHEN random() < 0.5 THEN 'public_read' ELSE 'private' END);
\endif
END;
SQL
chmod 644 "$WORK"/*.sql
log_offset=$(stat -c %s "$LOG")
set +e
"$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U "$APP" -c 16 -j 4 -T "$SOAK" --max-tries=50 \
    --failures-detailed -f "$WORK/read.sql@10" -f "$WORK/write.sql@4" -f "$WORK/model.sql@1" "$DB" \
    >"$WORK/pgbench.out" 2>"$WORK/pgbench.err"
bench_rc=$?
set -e
grep -E "^(number of|latency average|tps)|aborted" "$WORK/pgbench.out" "$WORK/pgbench.err" | sed 's/^[^:]*://' >&2 || true
[ "$bench_rc" -eq 0 ] || { fail "pgbench exited with $bench_rc"; tail -20 "$WORK/pgbench.err" >&2; }
processed="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")"
failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")"
retried="$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")"
[ "${failed:-x}" = 0 ] || fail "soak: ${failed:-?} failed transactions"
[ "${processed:-0}" -gt 0 ] || fail "soak: no transaction processed"
if tail -c +"$((log_offset + 1))" "$LOG" | grep -q "terminated by signal"; then
    fail "soak: a backend crashed"; tail -c +"$((log_offset + 1))" "$LOG" | grep "terminated by signal" >&2
fi

log "soak: checking every user's rows against sharing.can_read"
p="$(problems)"
[ -z "$p" ] || fail "sharing.check() after the soak: $p"
# For every user, a sample of each table (80 accounts, 20 of those the
# soak inserted, 40 notes): what the policies let them SELECT must be
# exactly what can_read says.
q >/dev/null <<SQL
CREATE TABLE sample AS
(SELECT 'accounts' AS tbl, id FROM accounts WHERE id < 10000000 ORDER BY md5(id::text) LIMIT 80)
UNION ALL (SELECT 'accounts', id FROM accounts WHERE id >= 10000000 ORDER BY md5(id::text) LIMIT 20)
UNION ALL (SELECT 'notes', id FROM notes ORDER BY md5(id::text) LIMIT 40);
CREATE TABLE seen (user_id bigint, tbl text, id bigint);
GRANT SELECT ON sample TO $APP;
GRANT INSERT ON seen TO $APP;
SQL
sql=""
for u in $(seq 1 "$USERS"); do
    sql+="BEGIN; SELECT sharing.act_as($u);
          INSERT INTO seen SELECT $u, 'accounts', id FROM accounts WHERE id IN (SELECT id FROM sample WHERE tbl = 'accounts');
          INSERT INTO seen SELECT $u, 'notes', id FROM notes WHERE id IN (SELECT id FROM sample WHERE tbl = 'notes');
          COMMIT;"
done
q -U "$APP" -c "$sql" >/dev/null
checked="$(q -c "SELECT count(*) FROM sample, sharing.users u WHERE u.id <= $USERS")"
disagree="FROM sample s CROSS JOIN sharing.users u
          WHERE u.id <= $USERS
            AND EXISTS (SELECT 1 FROM seen w WHERE w.user_id = u.id AND w.tbl = s.tbl AND w.id = s.id)
                IS DISTINCT FROM sharing.can_read(u.id, s.tbl::regclass, s.id::text)"
mismatch="$(q -c "SELECT count(*) $disagree")"
if [ "$mismatch" != 0 ]; then
    fail "soak: policies and can_read disagree on $mismatch (user, row) pairs, e.g.:"
    q -c "SELECT 'user ' || u.id || ' ' || s.tbl || ' ' || s.id $disagree LIMIT 10" >&2
fi

echo
log "faults: $CRASHES crash runs ($LOST row sets changed), soak ${SOAK}s: ${processed:-0} transactions, ${retried:-0} retried, ${failed:-?} failed; $checked (user, row) pairs checked after it"
[ "$FAILURES" -eq 0 ] || die "$FAILURES fault check(s) failed"
log "faults: all checks passed"
