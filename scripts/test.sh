#!/usr/bin/env bash
# The whole test suite: sets up what is missing, then runs
#   0. style                                (cargo fmt --check, cargo clippy -D warnings)
#   1. unit tests of the pure logic        (cargo test -p pg_sharing_core)
#   2. in-server tests                      (cargo pgrx test, #[pg_test])
#   3. SQL regression tests                 (tests/pg_regress, pg_regress)
#   4. integration tests with real clients  (cargo test -p pg_sharing_itest)
#   5. client examples                      (scripts/examples.sh: psycopg, SQLAlchemy,
#      Django, Node (pg), JDBC, tokio-postgres, pgbouncer, BI via psql, a hot
#      standby, a DBA session)
#   6. the docs' SQL examples               (scripts/doccheck.sh: docs/reference.md, docs/tutorial.md)
#   7. faults and load                      (scripts/faults.sh: backends killed mid-change, a pgbench soak)
#   8. Citus                                (tests/citus/run.sh: a coordinator and two workers against
#      a single node, both identity paths, attacks on a worker; builds Citus when missing)
#   9. the sharing console                  (console/tests/run.sh: headless Chromium drives the
#      console as an admin and as a user without manage_sharing; CONSOLE_SCREENSHOTS=1
#      also writes docs/console/*.png)
# against throwaway clusters, and exits non-zero if anything fails.
#
#   scripts/test.sh            everything
#   scripts/test.sh --only X   one part: style, unit, pgrx, regress, itest, examples, docs, faults,
#                              citus or console
#   REGRESS_TESTS="10_roles 11_users" scripts/test.sh --only regress
#                              only those regression tests (after 00_setup)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY="$2"; shift 2 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
wants() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

START=$(date +%s)
FAILED=()
PASSED=()
record() { if [ "$2" -eq 0 ]; then PASSED+=("$1"); else FAILED+=("$1"); fi; }

ensure_prereqs

if wants style; then
    log "0. style: cargo fmt --check, cargo clippy --all-targets -D warnings"
    set +e
    (cd "$ROOT" && cargo fmt --all --check && cargo clippy --workspace --all-targets -- -D warnings)
    rc=$?; set -e
    record style $rc
fi

if wants unit; then
    log "1. unit tests of the pure logic"
    set +e; (cd "$ROOT" && cargo test -p pg_sharing_core); rc=$?; set -e
    record unit $rc
fi

if wants pgrx; then
    log "2. in-server tests (cargo pgrx test)"
    runas=()
    if is_root; then
        # pgrx creates its cluster below this folder, as postgres (via sudo).
        runas=(--runas postgres --pgdata "$(cluster_dir pgrx-test)")
    fi
    set +e; (cd "$ROOT" && cargo pgrx test pg15 "${runas[@]}"); rc=$?; set -e
    record pgrx $rc
fi

if wants regress || wants itest || wants examples || wants docs; then
    # cargo pgrx test installed a build with test code; install the real one.
    install_extension
    start_cluster "test-$$"
    trap 'stop_cluster; rm -rf "$CLUSTER_DIR"' EXIT
fi

if wants regress; then
    log "3. SQL regression tests (tests/pg_regress)"
    outdir="$RUN_DIR/regress"
    [ -z "${REGRESS_TESTS:-}" ] || outdir="$RUN_DIR/regress-$$"
    rm -rf "$outdir"; mkdir -p "$outdir"
    tests=${REGRESS_TESTS:+00_setup $REGRESS_TESTS}
    tests=${tests:-$(cd "$ROOT/tests/pg_regress/sql" && ls *.sql | sed 's/\.sql$//' | sort)}
    log "results in $outdir"
    set +e
    # Tests find shared files (examples/) relative to tests/pg_regress.
    cd "$ROOT/tests/pg_regress"
    "$($PG_CONFIG --pkglibdir)/pgxs/src/test/regress/pg_regress" \
        --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir="$ROOT/tests/pg_regress" --outputdir="$outdir" \
        --dbname=pg_sharing_regress $tests
    rc=$?
    cd "$ROOT"
    set -e
    if [ $rc -ne 0 ] && [ -f "$outdir/regression.diffs" ]; then
        head -n 200 "$outdir/regression.diffs"
    fi
    record regress $rc
fi

if wants itest; then
    log "4. integration tests through real client connections"
    set +e
    (cd "$ROOT" && PG_SHARING_TEST_HOST="$PGHOST" PG_SHARING_TEST_PORT="$PGPORT" \
        cargo test -p pg_sharing_itest -- --test-threads=2)
    rc=$?
    set -e
    record itest $rc
fi

if wants examples; then
    log "5. client examples against a real cluster (scripts/examples.sh)"
    set +e; "$ROOT/scripts/examples.sh"; rc=$?; set -e
    record examples $rc
fi

if wants docs; then
    log "6. the docs' SQL examples, run and compared (scripts/doccheck.sh)"
    set +e; "$ROOT/scripts/doccheck.sh"; rc=$?; set -e
    record docs $rc
fi

if wants faults; then
    log "7. faults and load: crash recovery and a soak (scripts/faults.sh, own cluster)"
    set +e; "$ROOT/scripts/faults.sh"; rc=$?; set -e
    record faults $rc
fi

if wants citus; then
    log "8. Citus: a coordinator and two workers against a single node (tests/citus/run.sh, own clusters)"
    # Another part's cargo pgrx test may have installed a test build.
    install_extension
    set +e; "$ROOT/tests/citus/run.sh"; rc=$?; set -e
    record citus $rc
fi

if wants console; then
    log "9. the sharing console in headless Chromium (console/tests/run.sh, own cluster)"
    set +e; "$ROOT/console/tests/run.sh"; rc=$?; set -e
    record console $rc
fi

echo
log "finished in $(( $(date +%s) - START ))s"
echo "suites: ${#PASSED[@]} passed, ${#FAILED[@]} failed${FAILED:+ (${FAILED[*]})}"
[ ${#FAILED[@]} -eq 0 ]
