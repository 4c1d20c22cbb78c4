#!/usr/bin/env python3
"""A web-style application on pg_sharing with psycopg 3 and a connection pool.

The application connects with ONE login (crm_app, a member of sharing_app)
and serves every user through a pool of connections. Each request is one
transaction that starts with `SELECT sharing.act_as(user_id)`: from then on,
until COMMIT or ROLLBACK, every query returns only that user's rows, and
writes reach only rows that user may change. The identity ends with the
transaction, so the next request on the same pooled connection starts with
no identity at all (it sees nothing) until it calls act_as itself.

    python app_psycopg.py "host=127.0.0.1 port=5432 dbname=crm user=crm_app"
    python app_psycopg.py "host=127.0.0.1 port=6432 dbname=crm user=crm_app" --pgbouncer

--pgbouncer turns off psycopg's server-side prepared statements
(prepare_threshold=None), which PgBouncer's transaction pooling needs.

Expects a fresh copy of the org in examples/demo_setup.sql (it edits and
inserts accounts). Prints what it checks; exits non-zero on any mismatch.
"""
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

# The accounts each user of examples/demo_setup.sql sees, and why.
VISIBLE = {
    1: {101, 102, 201, 202, 301, 401},  # Carol CEO: top of the role hierarchy
    2: {101, 102, 201, 202, 301},       # Sam Manager: his own and his reps'
    3: {101, 102, 201},                 # Erin East: her own, and 201 that Will shared with her (read)
    4: {201, 202},                      # Will West: his own
    5: {101, 202, 401},                 # Sue Support: her own, and New York accounts (rule, read)
}
ERIN, WILL, SUE, SAM, CAROL = 3, 4, 5, 2, 1


# --- the pattern: one transaction per request, act_as first ------------------

@contextmanager
def request(pool, user_id):
    """A request on behalf of `user_id`: a pooled connection, one transaction,
    `sharing.act_as` as its first statement. Commits when the block ends,
    rolls back if it raises; either way the identity is gone afterwards."""
    with pool.connection() as conn:
        with conn.transaction():
            conn.execute("SELECT sharing.act_as(%s)", (user_id,))
            yield conn


def list_accounts(conn):
    return conn.execute("SELECT id, name FROM accounts ORDER BY id").fetchall()


def rename_account(conn, account_id, name):
    """Returns how many rows the UPDATE reached: 0 when the user may not edit it."""
    return conn.execute("UPDATE accounts SET name = %s WHERE id = %s", (name, account_id)).rowcount


# --- the checks ---------------------------------------------------------------

def check(ok, what, quiet=False):
    if not ok:
        raise AssertionError(what)
    if not quiet:
        print(f"ok   {what}")


def one_request(pool, user_id):
    """A listing request; returns (user, backend pid, ids seen)."""
    with request(pool, user_id) as conn:
        ids = {row[0] for row in list_accounts(conn)}
        me = conn.execute("SELECT sharing.current_user_id()").fetchone()[0]
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    check(me == user_id, f"request for user {user_id} ran as {me}", quiet=True)
    check(ids == VISIBLE[user_id], f"user {user_id} saw {sorted(ids)}, expected {sorted(VISIBLE[user_id])}", quiet=True)
    return user_id, pid, ids


def interleaved_requests(pool):
    # 8 threads share at most 3 connections: requests of different users run
    # at the same time and take turns on the same server connections.
    users = list(VISIBLE) * 20
    with ThreadPoolExecutor(max_workers=8) as executor:
        results = list(executor.map(lambda u: one_request(pool, u), users))
    users_per_backend = defaultdict(set)
    for user_id, pid, _ in results:
        users_per_backend[pid].add(user_id)
    check(len(results) == len(users),
          f"{len(results)} interleaved requests of {len(VISIBLE)} users: each saw exactly its own accounts")
    check(any(len(u) > 1 for u in users_per_backend.values()),
          f"server connections were shared between users ({len(users_per_backend)} backends)")


def edits(pool):
    with request(pool, ERIN) as conn:
        check(rename_account(conn, 101, "Acme East Inc.") == 1, "Erin renames her own account 101: 1 row")
        check(rename_account(conn, 201, "Mine now") == 0, "Erin cannot edit 201, shared with her read-only: 0 rows")
        check(rename_account(conn, 202, "Mine now") == 0, "Erin cannot edit 202, which she cannot see: 0 rows")
    with request(pool, SUE) as conn:
        check(rename_account(conn, 101, "Support was here") == 0,
              "Sue reads 101 through the New York rule but cannot edit it: 0 rows")
        check(conn.execute("DELETE FROM accounts WHERE id = 202").rowcount == 0,
              "Sue cannot delete 202 (read-only through the rule): 0 rows")
    with request(pool, WILL) as conn:
        check(rename_account(conn, 101, "Stolen") == 0, "Will cannot edit Erin's 101: 0 rows")
    with request(pool, SAM) as conn:
        check(rename_account(conn, 102, "Boston Widgets (key account)") == 1,
              "Sam, Erin's manager, edits her 102 through the hierarchy: 1 row")

    # A write that fails rolls the whole request back, identity included.
    try:
        with request(pool, ERIN) as conn:
            conn.execute("INSERT INTO accounts (id, owner_id, name) VALUES (103, %s, 'For Will')", (WILL,))
        check(False, "Erin may not create an account owned by her peer Will")
    except psycopg.errors.InsufficientPrivilege as e:  # SQLSTATE 42501, from the INSERT policy
        check(e.sqlstate == "42501", "Erin may not create an account owned by her peer Will (42501)")
    with request(pool, ERIN) as conn:
        conn.execute("INSERT INTO accounts (id, owner_id, name) VALUES (103, %s, 'Erin New Co')", (ERIN,))

    with request(pool, ERIN) as conn:
        check(dict(list_accounts(conn)) == {101: "Acme East Inc.", 102: "Boston Widgets (key account)",
                                            201: "West Coast Co", 103: "Erin New Co"},
              "Erin sees her edit, her manager's edit, her new account 103 and 201 unchanged")
    with request(pool, CAROL) as conn:
        check({row[0] for row in list_accounts(conn)} == VISIBLE[CAROL] | {103},
              "Carol (CEO) sees every account, 103 included")
    with request(pool, WILL) as conn:
        check({row[0] for row in list_accounts(conn)} == VISIBLE[WILL], "Will still sees only 201 and 202")


def no_identity_without_act_as(pool):
    # A request that forgets act_as (a bug) sees nothing: it fails closed,
    # whatever the pooled connection ran before.
    # Hold all 3 connections of the pool at once, each used by many users above.
    with pool.connection() as c1, pool.connection() as c2, pool.connection() as c3:
        for conn in (c1, c2, c3):
            with conn.transaction():
                me = conn.execute("SELECT sharing.current_user_id()").fetchone()[0]
                n = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
            check(me is None and n == 0, f"no act_as: current_user_id() is {me}, {n} accounts seen", quiet=True)
    check(True, "each pooled connection, without act_as, has no identity and sees 0 accounts")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    conninfo = sys.argv[1]
    # Through PgBouncer (transaction pooling) consecutive transactions of one
    # client may run on different server connections: no prepared statements.
    kwargs = {"prepare_threshold": None} if "--pgbouncer" in sys.argv[2:] else {}
    with ConnectionPool(conninfo, min_size=2, max_size=3, kwargs=kwargs, open=True) as pool:
        pool.wait(timeout=30)
        interleaved_requests(pool)
        edits(pool)
        no_identity_without_act_as(pool)
    print("app_psycopg: all checks passed")


if __name__ == "__main__":
    main()
