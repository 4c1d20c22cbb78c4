#!/usr/bin/env python3
"""Two clients behind PgBouncer in transaction pooling mode.

PgBouncer (pool_mode = transaction) hands a client a server connection for
one transaction only; the next transaction of the same client may run on a
server connection another client has just used. pg_sharing's identity lives
in the server backend and ends with the transaction, so it cannot leak: a
client that calls `sharing.act_as` inside its transaction sees its user's
rows on whichever server connection it got, and a statement outside any
transaction sees nothing.

Two clients, Erin and Will, interleave their statements, each in its own
transaction, for several rounds; each checks every result.

    python pgbouncer_two_clients.py "host=127.0.0.1 port=6432 dbname=crm user=crm_app"

Expects the org of examples/demo_setup.sql and a PgBouncer pool of at least
two server connections. Exits non-zero on any mismatch.
"""
import sys
from collections import defaultdict

import psycopg

ERIN, WILL = 3, 4
VISIBLE = {ERIN: [101, 102, 201], WILL: [201, 202]}


def check(ok, what):
    if not ok:
        raise AssertionError(what)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    # autocommit: BEGIN and COMMIT are sent as written below, so the
    # interleaving is exactly the one you read. prepare_threshold=None: no
    # prepared statements, which transaction pooling cannot carry over.
    connect = lambda: psycopg.connect(sys.argv[1], autocommit=True, prepare_threshold=None)
    clients = {ERIN: connect(), WILL: connect()}
    backends = defaultdict(set)  # server backend pid -> users it served

    def run(user, sql):
        cursor = clients[user].execute(sql)
        return cursor.fetchall() if cursor.description else []

    def sees(user, expected, when):
        ids = [r[0] for r in run(user, "SELECT id FROM accounts ORDER BY id")]
        pid = run(user, "SELECT pg_backend_pid()")[0][0]
        check(ids == expected, f"round {rnd}, {when}: user {user} saw {ids}, expected {expected}")
        return pid

    for rnd in range(10):
        # Will commits last in each round, and PgBouncer hands out the most
        # recently released server connection first (LIFO): so Erin's next
        # BEGIN gets the connection Will has just used with his act_as.
        first, second = ERIN, WILL
        run(first, "BEGIN")
        run(first, f"SELECT sharing.act_as({first})")
        run(second, "BEGIN")
        run(second, f"SELECT sharing.act_as({second})")
        backends[sees(first, VISIBLE[first], "both in a transaction")].add(first)
        backends[sees(second, VISIBLE[second], "both in a transaction")].add(second)
        run(first, "COMMIT")
        # The first client's identity ended with its transaction; the second
        # client's transaction goes on undisturbed.
        sees(first, [], "after COMMIT, outside a transaction")
        backends[sees(second, VISIBLE[second], "the other one committed")].add(second)
        # act_as outside a transaction block lasts for that one statement only.
        run(first, f"SELECT sharing.act_as({first})")
        sees(first, [], "after act_as outside a transaction")
        run(second, "COMMIT")
        sees(second, [], "after COMMIT, outside a transaction")

    shared = [pid for pid, users in backends.items() if len(users) > 1]
    check(shared, f"the two clients never shared a server connection: {dict(backends)}")
    print(f"ok   10 rounds of interleaved transactions through PgBouncer: Erin always saw {VISIBLE[ERIN]}, "
          f"Will always saw {VISIBLE[WILL]}, on {len(backends)} server connections, {len(shared)} of them used by both")
    print("ok   outside a transaction (and after an act_as outside one) each client sees nothing")
    for c in clients.values():
        c.close()
    print("pgbouncer_two_clients: all checks passed")


if __name__ == "__main__":
    main()
