#!/usr/bin/env bash
# The Citus part of the test suite (scripts/test.sh --only citus).
#
# Builds Citus when it is missing, starts a coordinator with two workers and,
# beside it, a single node; loads the same organisation and data into both
# (setup.sql: on Citus the accounts table is distributed over 4 shards).
# The single node is the reference: pg_sharing's single-node engine is what
# the rest of the suite proves exact. Then:
#
#  1. every user, through both identity paths (their own login role mapped
#     with db_role; crm_app calling act_as), runs queries.sql on both: router
#     and multi-shard reads, aggregates, ORDER BY ... LIMIT, UPDATE / DELETE /
#     INSERT (rolled back), can_* and access_level, prepared statements;
#     crm_app serves user after user on one connection (switch.sql); an
#     administrator asks who_can_access and explain_access (inspect.sql). The
#     outputs must be identical on both, and different users must see
#     different rows (so that the comparison can fail);
#  2. an administrator changes the model (change.sql; one change is rolled
#     back) on both, and step 1 runs again;
#  3. every node's copy of the model equals the coordinator's, and
#     sharing.check() finds a shard without row level security and a worker
#     whose model was changed behind the coordinator's back;
#     forget_orphan_shares removes a deleted record's shares everywhere;
#  4. attacks on a worker: forging or replaying the relayed identity, setting
#     sharing.identity, reading a shard table directly;
#  5. a model change racing multi-shard queries: every answer lies between
#     what the model before and the model after grant;
#  6. cases of the differential test (random organisations, rules, shares),
#     their tables distributed: every active user's reach and every
#     access_level as the reference evaluator says (PG_SHARING_CITUS_CASES,
#     default 10).
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
HERE="$ROOT/tests/citus"
OUT="$RUN_DIR/citus-test"
rm -rf "$OUT"; mkdir -p "$OUT"
FAILS=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }
pass() { printf 'ok: %s\n' "$*" >&2; }

ensure_citus
start_cluster citus-single
SINGLE_PORT=$PGPORT
start_citus_cluster citus crm
# KEEP_CLUSTERS=1 leaves them running (to look into a failure).
[ -n "${KEEP_CLUSTERS:-}" ] || trap 'stop_cluster; stop_citus_cluster' EXIT
echo "single node on port $SINGLE_PORT, coordinator on $COORD_PORT, workers on ${WORKER_PORTS[*]}" >"$OUT/ports" 
psql -X -q -h 127.0.0.1 -p "$SINGLE_PORT" -U postgres -d postgres -c "CREATE DATABASE crm"

# q PORT ROLE ARGS...: psql on database crm as ROLE.
q() { local port="$1" role="$2"; shift 2; psql -X -q -h 127.0.0.1 -p "$port" -U "$role" -d crm "$@"; }

log "loading the organisation into the single node and the Citus coordinator"
q "$SINGLE_PORT" postgres -v citus=0 -f "$HERE/setup.sql" >"$OUT/setup-single.out" 2>&1 \
    || { cat "$OUT/setup-single.out" >&2; die "setup on the single node failed"; }
q "$COORD_PORT" postgres -v citus=1 -f "$HERE/setup.sql" >"$OUT/setup-citus.out" 2>&1 \
    || { cat "$OUT/setup-citus.out" >&2; die "setup on the Citus coordinator failed"; }

# Shard names differ in messages (accounts_102008 for accounts): not in what
# a user sees.
normalise() { sed -E "s/(accounts|tasks|campaigns)_[0-9]+/\\1/g"; }

LOGINS=(ceo:1 sales_manager:2 rep_east:3 rep_west:4 support_agent:5)

# compare_round NAME: runs queries.sql for every user and path, and
# switch.sql, on both; the outputs must be equal.
compare_round() {
    local round="$1" pair role uid node port
    for pair in "${LOGINS[@]}" outsider:0; do
        role="${pair%%:*}" uid="${pair##*:}"
        for node in single citus; do
            port=$SINGLE_PORT; [ "$node" = single ] || port=$COORD_PORT
            q "$port" "$role" -v app=0 -v uid="$uid" -f "$HERE/queries.sql" 2>&1 | normalise \
                >"$OUT/$round-$role-$node.out"
            if [ "$uid" != 0 ]; then
                q "$port" crm_app -v app=1 -v uid="$uid" -f "$HERE/queries.sql" 2>&1 | normalise \
                    >"$OUT/$round-app$uid-$node.out"
            fi
        done
    done
    for node in single citus; do
        port=$SINGLE_PORT; [ "$node" = single ] || port=$COORD_PORT
        q "$port" crm_app -f "$HERE/switch.sql" 2>&1 | normalise >"$OUT/$round-switch-$node.out"
        q "$port" crm_admin -f "$HERE/inspect.sql" 2>&1 | normalise >"$OUT/$round-inspect-$node.out"
    done
    local f name
    for f in "$OUT/$round"-*-single.out; do
        name="$(basename "$f" -single.out)"
        if diff -u "$f" "$OUT/$name-citus.out" >"$OUT/$name.diff"; then
            pass "$name: Citus shows what the single node shows"
        else
            fail "$name: Citus differs from the single node (see $OUT/$name.diff)"
            head -n 40 "$OUT/$name.diff" >&2
        fi
    done
    # The comparison must be able to fail: the users see different rows, and
    # the outsider nothing.
    local ceo rep outsider
    ceo="$(grep -A2 '^ *visible' "$OUT/$round-ceo-citus.out" | tail -1)"
    rep="$(grep -A2 '^ *visible' "$OUT/$round-rep_east-citus.out" | tail -1)"
    outsider="$(grep -A2 '^ *visible' "$OUT/$round-outsider-citus.out" | tail -1)"
    if [ -n "$ceo" ] && [ "$ceo" != "$rep" ] && [ -z "$(echo "$outsider" | tr -d ' ')" ]; then
        pass "$round: users see different rows (ceo ${#ceo} chars, rep_east ${#rep}), the outsider none"
    else
        fail "$round: expected different rows per user and none for the outsider (ceo '$ceo', rep_east '$rep', outsider '$outsider')"
    fi
}

log "1. every user, both identity paths, single node against Citus"
compare_round before

log "2. the model changes (as crm_admin), and everything again"
q "$SINGLE_PORT" crm_admin -f "$HERE/change.sql" >"$OUT/change-single.out" 2>&1 || fail "change.sql on the single node"
q "$COORD_PORT" crm_admin -f "$HERE/change.sql" >"$OUT/change-citus.out" 2>&1 || fail "change.sql on Citus"
cat "$OUT/change-citus.out" >&2
compare_round after
if diff -q "$OUT/before-rep_east-citus.out" "$OUT/after-rep_east-citus.out" >/dev/null; then
    fail "the model change changed nothing rep_east sees"
fi

log "3. every node's copy of the model is the coordinator's"
coord_model="$(q "$COORD_PORT" postgres -At -c "SELECT sharing._model_digest()")"
for port in "${WORKER_PORTS[@]}"; do
    worker_model="$(q "$port" postgres -At -c "SELECT sharing._model_digest()")"
    if [ -n "$coord_model" ] && [ "$worker_model" = "$coord_model" ]; then
        pass "worker on port $port has the coordinator's model"
    else
        fail "worker on port $port: model $worker_model, coordinator $coord_model"
    fi
done

# sharing.check() looks at the shards and the workers' models: clean now,
# and it reports a shard whose row level security was switched off and a
# worker whose model was changed behind the coordinator's back, until
# enable_citus copies the model again.
citus_errors() { q "$COORD_PORT" postgres -At -F '|' -c "SELECT object, message FROM sharing.check() WHERE severity = 'error'"; }
found="$(citus_errors)"
[ -z "$found" ] && pass "check() finds no error on the cluster" || fail "check() on a healthy cluster: $found"
read -r shard shard_port < <(q "$COORD_PORT" postgres -At -F ' ' -c "SELECT shard_name('accounts'::regclass, s.shardid), p.nodeport
        FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p ON p.groupid = pl.groupid
       WHERE s.logicalrelid = 'accounts'::regclass ORDER BY s.shardid LIMIT 1")
q "$shard_port" postgres -c "SET citus.enable_manual_changes_to_shards = on" \
    -c "ALTER TABLE $shard NO FORCE ROW LEVEL SECURITY" >/dev/null
found="$(citus_errors)"
echo "$found" | grep -q "shard.*row level security disabled or not forced" \
    && pass "check() reports the shard without forced row level security" || fail "check() missed the shard $shard: $found"
q "$shard_port" postgres -c "SET citus.enable_manual_changes_to_shards = on" \
    -c "ALTER TABLE $shard FORCE ROW LEVEL SECURITY" >/dev/null
q "${WORKER_PORTS[1]}" postgres -c "SET sharing.applying_coordinator_change = on" \
    -c "UPDATE sharing.roles SET share_with_peers = true WHERE name = 'Support'" >/dev/null
found="$(citus_errors)"
echo "$found" | grep -q "worker .*:${WORKER_PORTS[1]}|.*differs from the coordinator" \
    && pass "check() reports the worker whose model differs" || fail "check() missed the changed model: $found"
q "$COORD_PORT" postgres -c "SELECT sharing.enable_citus()" >/dev/null
found="$(citus_errors)"
[ -z "$found" ] && pass "enable_citus() copied the model again; check() is clean" || fail "after enable_citus: $found"

# A deleted record's shares stay (no trigger on the shards) until
# forget_orphan_shares removes them, on every node.
q "$COORD_PORT" postgres -q -c "DELETE FROM accounts WHERE id = 8" >/dev/null
left="$(q "$COORD_PORT" postgres -At -c "SELECT count(*) FROM sharing.shares WHERE record_id = '8'")"
forgot="$(q "$COORD_PORT" crm_admin -At -c "SELECT sharing.forget_orphan_shares('accounts')")"
after="$(q "${WORKER_PORTS[0]}" postgres -At -c "SELECT count(*) FROM sharing.shares WHERE record_id = '8'")"
if [ "$left" -ge 1 ] && [ "$forgot" = "$left" ] && [ "$after" = 0 ]; then
    pass "forget_orphan_shares removed the $forgot share(s) of a deleted record on every node"
else
    fail "forget_orphan_shares: $left share(s) left after the delete, $forgot forgotten, $after still on a worker"
fi

log "4. attacks on a worker"
W=${WORKER_PORTS[0]}
# expect_error PORT ROLE SQLSTATE SQL: the statement must fail with SQLSTATE.
expect_error() {
    local port="$1" role="$2" state="$3" sql="$4" got
    got="$(q "$port" "$role" -v VERBOSITY=sqlstate -c "$sql" 2>&1 >/dev/null | tail -1 || true)"
    if echo "$got" | grep -q "$state"; then
        pass "refused ($state) on port $port as $role: $sql"
    else
        fail "expected $state on port $port as $role: $sql; got: $got"
    fi
}
forged="v1:1:$(printf '0%.0s' $(seq 64)):crm_app"
expect_error "$W" crm_app 42501 "SET sharing.relayed_identity = '$forged'; SELECT count(*) FROM accounts"
expect_error "$W" rep_east 42501 "SET sharing.relayed_identity = 'v1:1:$(printf 'a%.0s' $(seq 64)):rep_east'; SELECT count(*) FROM accounts"
# (The first statement loads pg_sharing: a setting given before the library
# is loaded is refused when it loads, see regress 54_attack_setting.)
expect_error "$W" crm_app 42501 "SELECT sharing.current_user_id(); SET sharing.identity = 'u:1'"
expect_error "$W" crm_app 42501 "SELECT sharing.current_user_id(); SET sharing.relayed_identity = 'u:1'"
expect_error "$W" crm_app 42501 "SET sharing.relayed_identity = '$forged'; SELECT sharing.current_user_id()"
expect_error "$W" crm_app 42501 "ALTER ROLE crm_app SET sharing.relayed_identity = '$forged'"
# A real token, made on the coordinator for crm_app, replayed on a worker by
# another role: refused. (Replayed by crm_app itself it is what crm_app may
# do anyway through act_as.)
token="$(q "$COORD_PORT" postgres -At -c "SET ROLE crm_app" -c "BEGIN" -c "SELECT sharing.act_as(1)" \
            -c "RESET ROLE" -c "SHOW sharing.relayed_identity" -c "COMMIT" | grep '^v1:' || true)"
[ -n "$token" ] || fail "act_as on the coordinator relayed no identity"
expect_error "$W" rep_east 42501 "SET sharing.relayed_identity = '$token'; SELECT count(*) FROM accounts"
# (In a transaction, with SET LOCAL propagated, as act_as does: a query on
# a worker reaches the shards of the other worker too.)
ceo="$(q "$COORD_PORT" ceo -At -c "SELECT count(*) FROM accounts")"
n="$(q "$W" crm_app -At -c "BEGIN" -c "SET LOCAL citus.propagate_set_commands = local" \
        -c "SET LOCAL sharing.relayed_identity = '$token'" -c "SELECT count(*) FROM accounts" -c "COMMIT" | grep -v '^$' | tail -1)"
[ "$n" = "$ceo" ] && pass "the token works for the role it was made for ($n accounts, as the CEO)" \
    || fail "the real token did not work for crm_app on a worker ($n accounts, the CEO sees $ceo)"
# Without an identity a worker shows nothing: neither the distributed table
# nor a shard queried directly.
for port in "${WORKER_PORTS[@]}"; do
    n="$(q "$port" crm_app -At -c "SELECT count(*) FROM accounts")"
    [ "$n" = 0 ] && pass "crm_app without act_as sees no account on port $port" || fail "crm_app sees $n accounts on port $port"
done
# rep_east reading the shards directly on the workers sees exactly their rows.
mine="$(q "$COORD_PORT" rep_east -At -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM accounts")"
direct=""
while read -r shard port; do
    ids="$(q "$port" rep_east -At -c "SELECT string_agg(id::text, ',') FROM $shard")"
    direct="$direct${direct:+,}$ids"
done < <(q "$COORD_PORT" postgres -At -F ' ' -c "SELECT shard_name('accounts'::regclass, s.shardid), p.nodeport
            FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid)
            JOIN pg_dist_node p ON p.groupid = pl.groupid WHERE s.logicalrelid = 'accounts'::regclass")
direct="$(echo "$direct" | tr ',' '\n' | grep -v '^$' | sort -n | paste -sd, -)"
if [ -n "$mine" ] && [ "$direct" = "$mine" ]; then
    pass "shards read directly on the workers show rep_east exactly their rows ($mine)"
else
    fail "shards read directly: '$direct', through the coordinator: '$mine'"
fi
# The model cannot be changed on a worker without the coordinator.
expect_error "$W" crm_admin 25006 "SELECT sharing.create_role('Rogue')"

log "5. a model change racing multi-shard queries"
private="$(q "$COORD_PORT" rep_east -At -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM accounts")"
q "$COORD_PORT" crm_admin -q -c "SELECT sharing.set_default_access('accounts', 'public_read')" >/dev/null
public="$(q "$COORD_PORT" rep_east -At -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM accounts")"
[ "$private" != "$public" ] || fail "public_read changed nothing for rep_east"
(
    for i in $(seq 1 20); do
        for access in private public_read; do
            q "$COORD_PORT" crm_admin -q -c "SELECT sharing.set_default_access('accounts', '$access')" >/dev/null
        done
    done
) &
flipper=$!
answers="$OUT/race.txt"; : >"$answers"
while kill -0 "$flipper" 2>/dev/null; do
    q "$COORD_PORT" rep_east -At -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM accounts" >>"$answers"
done
wait "$flipper" || fail "the model changes racing the queries failed"
bad=0
lower="$(comm -12 <(tr ',' '\n' <<<"$private" | sort) <(tr ',' '\n' <<<"$public" | sort))"
upper="$(sort -u <(tr ',' '\n' <<<"$private") <(tr ',' '\n' <<<"$public"))"
while read -r answer; do
    got="$(tr ',' '\n' <<<"$answer" | sort)"
    if [ -n "$(comm -23 <(echo "$got") <(echo "$upper"))" ] || [ -n "$(comm -13 <(echo "$got") <(echo "$lower"))" ]; then
        bad=$((bad + 1))
    fi
done <"$answers"
if [ "$bad" -eq 0 ] && [ -s "$answers" ]; then
    pass "$(wc -l <"$answers") answers during 40 model changes, each between the two models"
else
    fail "$bad of $(wc -l <"$answers") answers outside what either model grants"
fi

log "6. cases of the differential test on the cluster, against the reference evaluator"
# Each case (itest/src/scenario.rs, the generator of itest/tests/differential.rs)
# in a database of its own, its tables distributed; what every active user
# reaches and every level must be what the reference evaluator says.
CASES="${PG_SHARING_CITUS_CASES:-10}"
(cd "$ROOT" && cargo build -q -p pg_sharing_itest --example citus_case) || die "building the case generator failed"
CASE_BIN="$ROOT/target/debug/examples/citus_case"
q "$COORD_PORT" postgres -q -c "CREATE ROLE reader LOGIN IN ROLE sharing_app" >/dev/null
for seed in $(seq 1 "$CASES"); do
    db="diff$seed"
    citus_database "$db"
    "$CASE_BIN" "$seed" setup >"$OUT/case-$seed-setup.sql"
    "$CASE_BIN" "$seed" queries >"$OUT/case-$seed-queries.sql"
    "$CASE_BIN" "$seed" expected >"$OUT/case-$seed-expected.txt"
    psql -X -q -h 127.0.0.1 -p "$COORD_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 \
        -c "CREATE EXTENSION pg_sharing" -c "SELECT sharing.enable_citus()" >/dev/null
    if ! psql -X -q -h 127.0.0.1 -p "$COORD_PORT" -U postgres -d "$db" -f "$OUT/case-$seed-setup.sql" \
            >"$OUT/case-$seed-setup.out" 2>&1; then
        fail "case $seed: setup failed (see $OUT/case-$seed-setup.out)"; continue
    fi
    psql -X -q -At -h 127.0.0.1 -p "$COORD_PORT" -U postgres -d "$db" -f "$OUT/case-$seed-queries.sql" \
        >"$OUT/case-$seed-got.txt" 2>&1 || true
    if diff -u "$OUT/case-$seed-expected.txt" "$OUT/case-$seed-got.txt" >"$OUT/case-$seed.diff"; then
        pass "case $seed: $(wc -l <"$OUT/case-$seed-expected.txt") lines as the reference evaluator says"
    else
        fail "case $seed differs from the reference evaluator (see $OUT/case-$seed.diff)"
        head -n 20 "$OUT/case-$seed.diff" >&2
    fi
done

if [ "$FAILS" -gt 0 ]; then
    die "$FAILS Citus check(s) failed (outputs in $OUT)"
fi
log "Citus: all checks passed (outputs in $OUT)"
