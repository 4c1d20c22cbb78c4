"""The pg_sharing benchmark (scripts/bench.sh runs it against its own cluster).

Builds the CRM org of bench/setup.sql, then times each query for a sample of
users under four setups, side by side in one run:
  L  the limit: the same query on a plain table holding exactly the rows the
     user may see (same indexes), as the superuser;
  P  pg_sharing: the protected table, as the application acting for the user;
  N  naive: hand-written RLS calling a plpgsql can_read per row;
  U  the whole unprotected table, as the superuser.
Prints a markdown table and writes JSON. Times are measured in the server
(bench.time_query: planning and execution of each run, no network).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

QUERIES = {
    "Q1": "SELECT id, name, amount FROM {a} ORDER BY updated_at DESC LIMIT 50",
    "Q2": "SELECT count(*) FROM {a}",
    "Q3": "SELECT industry, sum(amount) FROM {a} GROUP BY industry",
    "Q4": "SELECT * FROM {a} WHERE id = {visible}",
    "Q5": "SELECT * FROM {a} WHERE id = {hidden}",
    "Q6": "UPDATE {a} SET amount = amount + 1 WHERE id = {own}",
    "Q7": ("INSERT INTO {a} (id, owner_id, name, industry, billing_city, type, amount, updated_at) "
           "SELECT {base} + g, {uid}, 'new ' || g, 'Retail', 'Oslo', 'Prospect', g, now() "
           "FROM generate_series(1, 10000) g"),
    "Q8": ("SELECT n.id, n.body FROM (SELECT id FROM {a} ORDER BY updated_at DESC LIMIT 50) x "
           "JOIN {n} n ON n.account_id = x.id"),
}
NAIVE_QUERIES = ("Q1", "Q2", "Q3")


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Bench:
    def __init__(self, args):
        self.args = args
        self.dsn = args.dsn
        self.conn = psycopg.connect(self.dsn, autocommit=True)
        self.results = []

    def sql(self, q, params=None):
        with self.conn.cursor() as cur:
            cur.execute(q, params)
            return cur.fetchall() if cur.description else None

    def one(self, q, params=None):
        return self.sql(q, params)[0][0]

    def psql_file(self, path, **variables):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-f", path]
        for k, v in variables.items():
            cmd += ["-v", f"{k}={v}"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    # ------------------------------------------------------------ the data
    def setup(self):
        t0 = time.perf_counter()
        self.psql_file(os.path.join(ROOT, "bench", "setup.sql"), rows=self.args.rows, seed=self.args.seed)
        self.psql_file(os.path.join(ROOT, "bench", "harness.sql"))
        self.setup_seconds = time.perf_counter() - t0
        print(f"setup: {self.args.rows} accounts in {self.setup_seconds:.0f} s", file=sys.stderr)

    def visible_ids(self, uid):
        """The ids `uid` sees in accounts, through the protected table."""
        with self.conn.transaction():
            self.sql("SET LOCAL ROLE bench_app")
            self.sql("SELECT sharing.act_as(%s)", (uid,))
            return [r[0] for r in self.sql("SELECT id FROM accounts")]

    def pick_users(self):
        """A rep, a rep reached by criteria rules, a team lead, a manager,
        a director, a VP: from ~0.01% to ~40% of the rows."""
        total = self.args.rows
        # A leaf user in no group, and one in a group with criteria rules.
        plain_rep = self.one("""
            SELECT min(u.id) FROM sharing.users u
             WHERE u.id > 341 AND u.id NOT IN (SELECT DISTINCT owner_id FROM accounts WHERE id % 100 < 5)
               AND NOT EXISTS (SELECT 1 FROM sharing.group_members m
                                               WHERE m.member_type = 'user' AND m.member_id = u.id)""")
        rule_rep = self.one("""
            SELECT min(m.member_id) FROM sharing.group_members m
              JOIN sharing.rules r ON r.to_type = 'group' AND r.to_id = m.group_id AND r.rule_type = 'criteria'
             WHERE m.member_type = 'user'""")
        candidates = [("rep", plain_rep), ("rep+rules", rule_rep), ("team lead", 86),
                      ("manager", 22), ("director", 6), ("VP", 2)]
        users = []
        for label, uid in candidates:
            ids = self.visible_ids(uid)
            own = self.one("SELECT min(id) FROM accounts WHERE owner_id = %s", (uid,))
            visible = set(ids)
            hidden = next(i for i in range(1, total + 1) if i not in visible)
            users.append({"class": label, "uid": uid, "visible": len(ids),
                          "share": len(ids) / total, "own": own,
                          "visible_id": ids[len(ids) // 2] if ids else own, "hidden_id": hidden})
            print(f"user {uid} ({label}) sees {len(ids)} rows ({100 * len(ids) / total:.2f}%)", file=sys.stderr)
        return users

    def make_limit_tables(self, u):
        """L: plain tables with exactly the user's rows, the same indexes."""
        uid = u["uid"]
        with self.conn.transaction():
            self.sql("SET LOCAL ROLE bench_app")
            self.sql("SELECT sharing.act_as(%s)", (uid,))
            self.sql("CREATE TEMP TABLE vis_a ON COMMIT DROP AS SELECT id FROM accounts")
            self.sql("CREATE TEMP TABLE vis_n ON COMMIT DROP AS SELECT id FROM notes")
            self.sql("RESET ROLE")
            self.sql(f"DROP TABLE IF EXISTS bench.l_accounts_{uid}, bench.l_notes_{uid}")
            self.sql(f"CREATE TABLE bench.l_accounts_{uid} AS SELECT a.* FROM accounts_naive a JOIN vis_a USING (id)")
            self.sql(f"ALTER TABLE bench.l_accounts_{uid} ADD PRIMARY KEY (id)")
            self.sql(f"CREATE INDEX ON bench.l_accounts_{uid} (owner_id)")
            self.sql(f"CREATE INDEX ON bench.l_accounts_{uid} (updated_at)")
            self.sql(f"CREATE TABLE bench.l_notes_{uid} AS SELECT n.* FROM notes n JOIN vis_n USING (id)")
            self.sql(f"ALTER TABLE bench.l_notes_{uid} ADD PRIMARY KEY (id)")
            self.sql(f"CREATE INDEX ON bench.l_notes_{uid} (account_id)")
        self.sql(f"ANALYZE bench.l_accounts_{uid}, bench.l_notes_{uid}")

    # ----------------------------------------------------------- measuring
    def time(self, q, n, uid=None, role=None, timeout_ms=None):
        with self.conn.transaction():
            if timeout_ms:
                self.sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            try:
                with self.conn.transaction():
                    return self.one("SELECT bench.time_query(%s, %s, %s, %s)", (q, n, uid, role))
            except psycopg.errors.QueryCanceled:
                return None

    def measure(self, u, qname, setup, n):
        uid = u["uid"]
        tables = {
            "L": (f"bench.l_accounts_{uid}", f"bench.l_notes_{uid}", None, None),
            "P": ("accounts", "notes", uid, "bench_app"),
            "N": ("accounts_naive", "notes", uid, "bench_app"),
            "U": ("accounts_naive", "notes", None, None),
        }[setup]
        a, notes, as_uid, role = tables
        base = 10_000_000_000 + len(self.results) * 100_000
        q = QUERIES[qname].format(a=a, n=notes, visible=u["visible_id"], hidden=u["hidden_id"],
                                  own=u["own"], uid=uid, base=base)
        if qname == "Q7":
            # Each run inserts fresh ids; the rows go again afterwards.
            times = []
            for k in range(n):
                qk = QUERIES[qname].format(a=a, uid=uid, base=base + k * 10_000)
                times += self.time(qk, 1, as_uid, role)
            self.sql(f"DELETE FROM {a} WHERE id >= {base}")
        elif setup == "N":
            times = self.time(q, n, as_uid, role, timeout_ms=self.args.naive_timeout * 1000)
        else:
            self.time(q, 2, as_uid, role)  # warm-up
            times = self.time(q, n, as_uid, role)
        rec = {"query": qname, "setup": setup, "class": u["class"], "uid": uid, "share": u["share"],
               "runs": n, "times_ms": times,
               "median_ms": statistics.median(times) if times else None,
               "p95_ms": percentile(times, 95) if times else None}
        self.results.append(rec)
        return rec

    def run_queries(self, users):
        reps = self.args.repeat
        for u in users:
            self.make_limit_tables(u)
            for qname in QUERIES:
                for setup in ("L", "P", "U"):
                    n = 3 if qname == "Q7" else reps
                    self.measure(u, qname, setup, n)
                if qname in NAIVE_QUERIES and u["class"] in ("rep", "VP"):
                    self.measure(u, qname, "N", 1)
            print(f"measured {u['class']}", file=sys.stderr)

    def admin_timings(self):
        """Q9: a criteria rule matching 60% of the rows, committed.
        Q10: moving a role with its subtree of users, committed."""
        out = {}
        q9 = []
        for k in range(3):
            t0 = time.perf_counter()
            rid = self.one("""SELECT sharing.create_criteria_rule('accounts', %s,
                '{"conditions": [{"column": "industry", "op": "in",
                  "value": ["Banking", "Retail", "Energy", "Health", "Media"]}]}', 'group', 'group 5', 'read')""",
                           (f"bench Q9 {k}",))
            q9.append((time.perf_counter() - t0) * 1000)
            self.sql("SELECT sharing.drop_rule(%s)", (rid,))
        matched = self.one("SELECT count(*) FROM accounts_naive WHERE industry IN ('Banking', 'Retail', 'Energy', 'Health', 'Media')")
        out["Q9"] = {"median_ms": statistics.median(q9), "times_ms": q9, "rows_matched": matched}
        # The director role 6 (under VP 2) moves under VP 3 and back.
        below = self.one("""SELECT count(*) FROM sharing.users u
                              JOIN sharing._role_closure c ON c.descendant_id = u.role_id
                             WHERE c.ancestor_id = 6""")
        q10 = []
        for k in range(3):
            for parent in ("role 3", "role 2"):
                t0 = time.perf_counter()
                self.sql("SELECT sharing.move_role('role 6', %s)", (parent,))
                q10.append((time.perf_counter() - t0) * 1000)
        out["Q10"] = {"median_ms": statistics.median(q10), "times_ms": q10, "users_below": below}
        return out

    def explain(self, uid, q):
        with self.conn.transaction():
            self.sql("SET LOCAL ROLE bench_app")
            self.sql("SELECT sharing.act_as(%s)", (uid,))
            rows = self.sql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + q)
            return "\n".join(r[0] for r in rows)

    def sizes(self):
        return {name: size for name, size in self.sql("""
            SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid))
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'sharing' AND c.relkind = 'r' AND c.relname LIKE '\\_%'
                OR (n.nspname = 'public' AND c.relname IN ('accounts', 'notes'))
             ORDER BY c.relname""")}


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(x, digits=2):
    if x is None:
        return "—"
    return f"{x:.{digits}f}"


def report(b, users, admin, args):
    med = {(r["query"], r["setup"], r["class"]): r["median_ms"] for r in b.results}
    p95 = {(r["query"], r["setup"], r["class"]): r["p95_ms"] for r in b.results}
    lines = [f"rows: {args.rows}, users: 10000, runs per figure: {args.repeat} (Q7: 3), times in ms (median; p95 in brackets)",
             "",
             "| query | user (sees) | L | P | U | N | P/L | P/U | N/P |",
             "|---|---|---|---|---|---|---|---|---|"]
    for qname in QUERIES:
        for u in users:
            c = u["class"]
            cells = []
            for s in "LPUN":
                m = med.get((qname, s, c))
                if m is None:
                    cells.append("—" if (qname, s, c) not in med else f">{args.naive_timeout}s")
                else:
                    cells.append(f"{fmt(m)} ({fmt(p95[(qname, s, c)])})" if s != "N" else fmt(m, 0))
            pl = ratio(med.get((qname, "P", c)), med.get((qname, "L", c)))
            pu = ratio(med.get((qname, "P", c)), med.get((qname, "U", c)))
            npr = ratio(med.get((qname, "N", c)), med.get((qname, "P", c)))
            lines.append(f"| {qname} | {c} ({100 * u['share']:.2f}%) | " + " | ".join(cells)
                         + f" | {fmt(pl)} | {fmt(pu)} | {fmt(npr, 0)} |")
    lines += ["",
              f"Q9 create a criteria rule matching {admin['Q9']['rows_matched']} rows, committed: "
              f"{fmt(admin['Q9']['median_ms'], 1)} ms (median of 3)",
              f"Q10 move a role with {admin['Q10']['users_below']} users below it, committed: "
              f"{fmt(admin['Q10']['median_ms'], 1)} ms (median of 6)"]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--naive-timeout", type=int, default=20, help="seconds per naive query")
    p.add_argument("--out", required=True)
    p.add_argument("--settings", default="")
    args = p.parse_args()

    b = Bench(args)
    b.setup()
    users = b.pick_users()
    b.run_queries(users)
    admin = b.admin_timings()
    vp = next(u for u in users if u["class"] == "VP")
    rep = next(u for u in users if u["class"] == "rep")
    plans = {f"Q1 {u['class']}": b.explain(u["uid"], QUERIES["Q1"].format(a="accounts")) for u in (rep, vp)}
    plans.update({f"Q2 {u['class']}": b.explain(u["uid"], QUERIES["Q2"].format(a="accounts")) for u in (rep, vp)})
    table = report(b, users, admin, args)
    doc = {"rows": args.rows, "seed": args.seed, "repeat": args.repeat, "settings": args.settings,
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "server": b.one("SELECT version()")},
           "setup_seconds": b.setup_seconds, "users": users, "results": b.results, "admin": admin,
           "derived_table_sizes": b.sizes(), "plans": plans, "markdown": table}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(table)
    print()
    print("derived tables and data:", ", ".join(f"{k} {v}" for k, v in doc["derived_table_sizes"].items()))
    for name, plan in plans.items():
        print(f"\nplan of {name} (P):\n{plan}")
    print(f"\nresults: {args.out}")


if __name__ == "__main__":
    main()
