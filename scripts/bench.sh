#!/usr/bin/env bash
# The benchmark: pg_sharing (P) against the limit (L: a plain table holding
# exactly the user's rows), the oracle filter (O: the whole unprotected table
# with the user's visibility written out as constants in the WHERE clause,
# checked to return P's rows), hand-written RLS (N) and the unprotected table
# (U), side by side in one run, for users who see from ~0.01% to ~40% of
# the rows; then an application request (act for a random user, read one of
# their records, list their 20 latest, update the record) with pgbench
# -M prepared, 8 clients, interleaved rounds: P against the unprotected table
# (U) and hand-written RLS for the role hierarchy alone (H). bench/bench.py
# explains the setups and queries.
# Sets up what is missing, builds the extension in release mode, starts its
# own throwaway cluster with the settings it prints (parallel query at
# PostgreSQL's defaults), generates the data (deterministic by seed), prints
# a markdown table and writes the results as JSON under .run/bench/.
#
#   scripts/bench.sh                      1,000,000 accounts (about 12 minutes)
#   scripts/bench.sh --rows 100000        or 4000000
#   scripts/bench.sh --repeat 15          runs per figure (median and p95)
#   scripts/bench.sh --pgbench-seconds 10 per round of the application request
#   scripts/bench.sh --pgbench-rounds 3   rounds per setup (median of tps)
#   scripts/bench.sh --skip-pgbench       without the application request
#   scripts/bench.sh --citus              instead: Q1-Q5, P against U, on a single
#                                         node and on a Citus coordinator with two
#                                         workers (same machine, same data), side by side
#   scripts/bench.sh --access-diff        instead: sharing.access_diff for three changes
#                                         (bench/access_diff.sql), against applying and
#                                         rolling back the same document
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=1000000
REPEAT=15
CITUS=
ACCESS_DIFF=
PGBENCH_SECONDS=10
PGBENCH_ROUNDS=3
PGBENCH_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --pgbench-seconds) PGBENCH_SECONDS="$2"; shift 2 ;;
        --pgbench-rounds) PGBENCH_ROUNDS="$2"; shift 2 ;;
        --skip-pgbench) PGBENCH_ARGS+=(--skip-pgbench); shift ;;
        --citus) CITUS=1; shift ;;
        --access-diff) ACCESS_DIFF=1; shift ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
case "$ROWS" in ''|*[!0-9]*) die "--rows takes a number of rows, e.g. 100000, 1000000 or 4000000, not \"$ROWS\"" ;; esac
[ "$ROWS" -ge 10000 ] || die "--rows must be at least 10000 (got $ROWS)"
case "$PGBENCH_SECONDS" in ''|*[!0-9]*|0) die "--pgbench-seconds takes a number of seconds, not \"$PGBENCH_SECONDS\"" ;; esac
case "$PGBENCH_ROUNDS" in ''|*[!0-9]*|0) die "--pgbench-rounds takes a number of rounds, not \"$PGBENCH_ROUNDS\"" ;; esac

ensure_prereqs
ensure_venv
install_extension --release

# Settings for a 2-core, 24 GiB machine; printed with the results. Parallel
# query stays at PostgreSQL's defaults (max_parallel_workers_per_gather=2),
# written out here so that the results say so.
SETTINGS=(shared_buffers=2GB effective_cache_size=8GB work_mem=64MB maintenance_work_mem=1GB
          random_page_cost=1.1 jit=off max_wal_size=8GB checkpoint_timeout=30min
          synchronous_commit=off max_parallel_workers_per_gather=2)
OUT_DIR="$RUN_DIR/bench"
mkdir -p "$OUT_DIR"

if [ -n "$CITUS" ]; then
    # Three servers share the machine: a third of the memory settings each,
    # for the single node too (it runs alone, but on the same terms).
    SETTINGS=(shared_buffers=640MB effective_cache_size=2GB work_mem=32MB maintenance_work_mem=256MB
              random_page_cost=1.1 jit=off max_wal_size=4GB checkpoint_timeout=30min
              synchronous_commit=off max_parallel_workers_per_gather=2)
    ensure_citus
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    START=$(date +%s)
    start_cluster "bench-single-$$" "${SETTINGS[@]}"
    trap 'stop_cluster; rm -rf "$CLUSTER_DIR"' EXIT
    log "server settings: ${SETTINGS[*]} (fsync=off)"
    createdb -U postgres bench
    "$VENV/bin/python" "$ROOT/bench/bench.py" --dsn "host=$PGHOST port=$PGPORT user=postgres dbname=bench" \
        --rows "$ROWS" --repeat "$REPEAT" --citus-comparison --out "$OUT_DIR/citus-single-$ROWS-$stamp.json" \
        --settings "${SETTINGS[*]} fsync=off"
    stop_cluster
    start_citus_cluster "bench-citus-$$" bench 2 "${SETTINGS[@]}"
    trap 'stop_cluster; stop_citus_cluster' EXIT
    "$VENV/bin/python" "$ROOT/bench/bench.py" --dsn "host=127.0.0.1 port=$COORD_PORT user=postgres dbname=bench" \
        --rows "$ROWS" --repeat "$REPEAT" --citus-comparison --citus --workers 2 \
        --out "$OUT_DIR/citus-cluster-$ROWS-$stamp.json" --settings "${SETTINGS[*]} fsync=off"
    "$VENV/bin/python" "$ROOT/bench/bench.py" --dsn unused --out /dev/null \
        --compare "$OUT_DIR/citus-single-$ROWS-$stamp.json" "$OUT_DIR/citus-cluster-$ROWS-$stamp.json" \
        | tee "$OUT_DIR/citus-$ROWS-$stamp.md"
    log "Citus benchmark finished in $(( $(date +%s) - START ))s"
    exit 0
fi

start_cluster "bench-$$" "${SETTINGS[@]}"
trap 'stop_cluster; rm -rf "$CLUSTER_DIR"' EXIT
log "server settings: ${SETTINGS[*]} (fsync=off)"
createdb -U postgres bench

if [ -n "$ACCESS_DIFF" ]; then
    START=$(date +%s)
    log "generating the organisation and $ROWS accounts (bench/setup.sql)"
    psql -X -q -U postgres -d bench -v rows="$ROWS" -v seed=42 -v citus=0 -f "$ROOT/bench/setup.sql" >/dev/null
    psql -X -q -U postgres -d bench -c "VACUUM ANALYZE"
    log "timing access_diff (bench/access_diff.sql)"
    psql -X -q -U postgres -d bench -v repeat="$(( REPEAT < 3 ? REPEAT : 3 ))" -f "$ROOT/bench/access_diff.sql" \
        | tee "$OUT_DIR/access-diff-$ROWS-$(date -u +%Y%m%dT%H%M%SZ).md"
    log "access_diff benchmark finished in $(( $(date +%s) - START ))s"
    exit 0
fi

OUT="$OUT_DIR/bench-$ROWS-$(date -u +%Y%m%dT%H%M%SZ).json"
START=$(date +%s)
"$VENV/bin/python" "$ROOT/bench/bench.py" --dsn "host=$PGHOST port=$PGPORT user=postgres dbname=bench" \
    --rows "$ROWS" --repeat "$REPEAT" --out "$OUT" --settings "${SETTINGS[*]} fsync=off" \
    --pgbench "$PG_BIN/pgbench" --pgbench-seconds "$PGBENCH_SECONDS" --pgbench-rounds "$PGBENCH_ROUNDS" \
    ${PGBENCH_ARGS[@]+"${PGBENCH_ARGS[@]}"}
cp "$OUT" "$OUT_DIR/latest.json"
log "benchmark finished in $(( $(date +%s) - START ))s"
