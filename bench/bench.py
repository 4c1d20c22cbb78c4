"""The pg_sharing benchmark (scripts/bench.sh runs it against its own cluster).

Builds the CRM org of bench/setup.sql, then times each query for a sample of
users under five setups, side by side in one run:
  L  the limit: the same query on a plain table holding exactly the rows the
     user may see (same indexes), as the superuser;
  P  pg_sharing: the protected table, as the application acting for the user;
  O  the oracle filter: the query on the whole unprotected table, as the
     superuser, with the user's visibility written out as constants in its
     WHERE clause (owners, shared records and the compiled criteria rules
     that reach the user, computed from the sharing catalog beforehand; TRUE
     for view_all or a public default access). What RLS could cost at best
     with no lookups at all (planning the constants included: a few ms for
     a VP's thousands of owners); checked to return exactly P's rows;
  N  naive: hand-written RLS calling a plpgsql can_read per row;
  U  the whole unprotected table, as the superuser.
Prints a markdown table and writes JSON. Times are measured in the server
(bench.time_query: planning and execution of each run, no network).

Then an application request measured with pgbench (-M prepared, 8 clients,
2 threads, interleaved rounds of a fixed duration, medians of tps): a
transaction acting for a random user that reads one of the user's records,
lists the 20 most recently updated records the user sees and updates the
record, under
  P  pg_sharing (act_as, as a member of sharing_app);
  U  the unprotected copy, as the superuser (app.user_id set, not used);
  H  hand-written RLS for the role hierarchy alone: a policy
     owner_id = ANY ((SELECT hand.visible_owners())::bigint[]) over a
     materialised closure table, as a plain login (bench/harness.sql).
PostgreSQL's parallel settings are left at their defaults
(max_parallel_workers_per_gather = 2) and recorded.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg
from psycopg.conninfo import make_conninfo

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
# What the Citus comparison measures (scripts/bench.sh --citus).
CITUS_QUERIES = ("Q1", "Q2", "Q3", "Q4", "Q5")
APP_CLIENTS, APP_THREADS = 8, 2
# O: the same queries on the whole table with the user's visibility {f} as
# constants (Q6 at the edit level; Q8 filters the accounts it joins).
ORACLE_QUERIES = {
    "Q1": "SELECT id, name, amount FROM {a} WHERE {f} ORDER BY updated_at DESC LIMIT 50",
    "Q2": "SELECT count(*) FROM {a} WHERE {f}",
    "Q3": "SELECT industry, sum(amount) FROM {a} WHERE {f} GROUP BY industry",
    "Q4": "SELECT * FROM {a} WHERE id = {visible} AND {f}",
    "Q5": "SELECT * FROM {a} WHERE id = {hidden} AND {f}",
    "Q6": "UPDATE {a} SET amount = amount + 1 WHERE id = {own} AND {f}",
    "Q8": ("SELECT n.id, n.body FROM (SELECT id FROM {a} WHERE {f} ORDER BY updated_at DESC LIMIT 50) x "
           "JOIN {n} n ON n.account_id = x.id"),
}
READ, EDIT = 1, 2
LEVELS = {"read": 1, "read_write": 2, "read_write_delete": 3}
# Criteria operators the oracle compiles (as core/src/criteria.rs does).
COMPARISONS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# The application request (pgbench -M prepared): the same statements under
# each setup, for a random (user, own record) pair of bench_pairs.
APP_SCRIPT = """\\set n random(1, {pairs})
SELECT uid, id FROM bench_pairs WHERE n = :n \\gset
BEGIN;
{act}
SELECT * FROM {a} WHERE id = :id;
SELECT id, name, amount FROM {a} ORDER BY updated_at DESC LIMIT 20;
UPDATE {a} SET amount = amount + 1 WHERE id = :id;
COMMIT;
"""
SET_USER = "SELECT set_config('app.user_id', :uid::text, true);"
APP_SETUPS = {  # table, login (None: the superuser of --dsn), how the user is named
    "P": ("accounts", "bench_app", "SELECT sharing.act_as(:uid);"),
    "U": ("accounts_naive", None, SET_USER),
    "H": ("accounts_hand", "bench_hand", SET_USER),
}
PARALLEL_SETTINGS = ("max_parallel_workers_per_gather", "max_parallel_workers", "max_worker_processes",
                     "parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size")


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value):
    """As core/src/sql.rs quotes: backslashes force the E'' form."""
    text = "'" + value.replace("'", "''").replace("\\", "\\\\") + "'"
    return "E" + text if "\\" in value else text


def json_scalar(v):
    """A criteria value as the text cast to the column's type."""
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def compile_criteria(criteria, column_types):
    """A criteria rule's condition as SQL on the row, as core/src/criteria.rs
    compiles it, for the conditions without a pattern (all AND-ed) that
    bench/setup.sql creates; anything else fails loudly."""
    if criteria.get("pattern") is not None:
        raise SystemExit(f"the oracle does not compile criteria patterns: {criteria}")
    parts = []
    for c in criteria["conditions"]:
        col, op, sql_type = quote_ident(c["column"]), c["op"], column_types[c["column"]]
        values = c.get("value")
        values = values if isinstance(values, list) else [values]
        lits = [f"{quote_literal(json_scalar(v))}::{sql_type}" for v in values]
        if op in COMPARISONS:
            parts.append(f"{col} {COMPARISONS[op]} {lits[0]}")
        elif op in ("in", "not_in"):
            parts.append(f"{col} {'IN' if op == 'in' else 'NOT IN'} ({', '.join(lits)})")
        elif op in ("is_null", "is_not_null"):
            parts.append(f"{col} IS {'NULL' if op == 'is_null' else 'NOT NULL'}")
        else:
            raise SystemExit(f"the oracle does not compile criteria op {op!r}: {criteria}")
    return "(" + " AND ".join(f"({p})" for p in parts) + ")"


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Bench:
    def __init__(self, args):
        self.args = args
        self.dsn = args.dsn
        self.conn = psycopg.connect(self.dsn, autocommit=True)
        self.results = []
        self.filters = {}  # (uid, level) -> the oracle's condition

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
        citus = 1 if self.args.citus else 0
        self.psql_file(os.path.join(ROOT, "bench", "setup.sql"), rows=self.args.rows, seed=self.args.seed,
                       citus=citus)
        self.psql_file(os.path.join(ROOT, "bench", "harness.sql"), citus=citus)
        self.setup_seconds = time.perf_counter() - t0
        print(f"setup: {self.args.rows} accounts in {self.setup_seconds:.0f} s", file=sys.stderr)

    def as_app(self, uid, q, params=None):
        """`q` as the application acting for `uid`, in a transaction rolled
        back afterwards."""
        with self.conn.transaction():
            self.sql("SET LOCAL ROLE bench_app")
            self.sql("SELECT sharing.act_as(%s)", (uid,))
            rows = self.sql(q, params)
            raise psycopg.Rollback()
        return rows

    def visible_ids(self, uid):
        """The ids `uid` sees in accounts, through the protected table."""
        return [r[0] for r in self.as_app(uid, "SELECT id FROM accounts")]

    def pick_users(self):
        """A rep, a rep reached by criteria rules, a team lead, a manager,
        a director, a VP: from ~0.01% to ~40% of the rows."""
        total = self.args.rows
        # A leaf user in no group, and one in a group with criteria rules;
        # each owns a record (for Q6: at small sizes some users own none).
        # (Sets joined here rather than in SQL: on Citus the catalog is a
        # local table and accounts a distributed one.)
        owners = {r[0] for r in self.sql("SELECT DISTINCT owner_id FROM accounts")}
        big = {r[0] for r in self.sql("SELECT DISTINCT owner_id FROM accounts WHERE id % 100 < 5")}
        in_groups = {r[0] for r in self.sql(
            "SELECT member_id FROM sharing.group_members WHERE member_type = 'user'")}
        plain_rep = min(u for u in range(342, 10001) if u in owners and u not in big and u not in in_groups)
        rule_rep = min(r[0] for r in self.sql("""
            SELECT m.member_id FROM sharing.group_members m
              JOIN sharing.rules r ON r.to_type = 'group' AND r.to_id = m.group_id AND r.rule_type = 'criteria'
             WHERE m.member_type = 'user'""") if r[0] in owners)
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

    # ----------------------------------------------------------- the oracle
    def oracle_filter(self, uid, level):
        """O: the rows of accounts `uid` reaches at `level` (READ or EDIT) as a
        condition with constants, computed from the sharing catalog now
        rather than by the policies at run time. Returns the condition and
        what went into it."""
        default_access, pk, owner = self.sql("""
            SELECT default_access, pk_column::text, owner_column::text
              FROM sharing.protected_tables WHERE tbl = 'accounts'::regclass""")[0]
        # An inactive user reaches nothing, nor one whose profile does not
        # allow the action (read; edit, which needs read too).
        allowed = self.one("""
            SELECT u.active AND coalesce((SELECT pp.can_read AND (%s = 1 OR pp.can_edit)
                                            FROM sharing.profile_permissions pp
                                           WHERE pp.profile_id = u.profile_id
                                             AND pp.tbl = 'accounts'::regclass), true)
              FROM sharing.users u WHERE u.id = %s""", (level, uid))
        if not allowed:
            return "FALSE", {"all": False, "allowed": False}
        if (LEVELS.get(default_access.removeprefix("public_"), 0) >= level
                or self.one("SELECT sharing._bypass_of(%s, %s)", (uid, level))):
            return "TRUE", {"all": True}
        owners = sorted(self.one("SELECT sharing._visible_owners_of(%s, 'accounts', %s)", (uid, level)))
        shared = sorted(int(r) for r in self.one("SELECT sharing._shared_records_of(%s, 'accounts', %s)",
                                                 (uid, level)))
        rules = self.sql("""
            SELECT id, criteria FROM sharing.rules
             WHERE tbl = 'accounts'::regclass AND rule_type = 'criteria' AND active
               AND id = ANY (sharing._rules_reaching_of(%s))
               AND CASE access WHEN 'read' THEN 1 WHEN 'read_write' THEN 2 ELSE 3 END >= %s
             ORDER BY id""", (uid, level))
        arms = [f"{quote_ident(owner)} = ANY ('{{{','.join(map(str, owners))}}}'::bigint[])",
                f"{quote_ident(pk)} = ANY ('{{{','.join(map(str, shared))}}}'::bigint[])"]
        arms += [compile_criteria(criteria, self.column_types) for _, criteria in rules]
        return ("(" + " OR ".join(arms) + ")",
                {"all": False, "owners": len(owners), "shared": len(shared), "rules": [r for r, _ in rules]})

    def oracle_filters(self, uid):
        """Sets the user's oracle conditions (read and edit level); returns
        what went into them."""
        info = {}
        for name, level in (("read", READ), ("edit", EDIT)):
            self.filters[uid, level], info[name] = self.oracle_filter(uid, level)
        return info

    def check_oracle(self, uid, label):
        """O must return exactly P's rows: all of them at the read level (Q2's
        count, and the ids compared in the server), and at the edit level
        those of a sample of the rows P reads (P: SELECT ... FOR UPDATE,
        which RLS checks against the UPDATE policy). Fails loudly otherwise."""
        read, edit = self.filters[uid, READ], self.filters[uid, EDIT]
        p_count = self.as_app(uid, QUERIES["Q2"].format(a="accounts"))[0][0]
        o_count = self.one(ORACLE_QUERIES["Q2"].format(a="accounts_naive", f=read))
        with self.conn.transaction():
            self.sql("SET LOCAL ROLE bench_app")
            self.sql("SELECT sharing.act_as(%s)", (uid,))
            self.sql("CREATE TEMP TABLE oracle_p ON COMMIT DROP AS SELECT id FROM accounts")
            self.sql("RESET ROLE")
            o_rows = f"SELECT id FROM accounts_naive WHERE {read}"
            only_p = [r[0] for r in self.sql(f"SELECT id FROM oracle_p EXCEPT {o_rows} ORDER BY 1 LIMIT 10")]
            only_o = [r[0] for r in self.sql(f"{o_rows} EXCEPT SELECT id FROM oracle_p ORDER BY 1 LIMIT 10")]
            sample = [r[0] for r in self.sql(f"""
                SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM oracle_p) s
                 WHERE k % {max(1, p_count // 1000)} = 0""")]
        p_edit = {r[0] for r in self.as_app(uid, "SELECT id FROM accounts WHERE id = ANY (%s) FOR UPDATE",
                                            (sample,))}
        o_edit = {r[0] for r in self.sql("SELECT id FROM accounts_naive WHERE id = ANY (%s) AND "
                                         + edit.replace("%", "%%"), (sample,))}
        if p_count != o_count or only_p or only_o or p_edit != o_edit:
            raise SystemExit(
                f"the oracle filter of user {uid} ({label}) disagrees with pg_sharing: "
                f"Q2 count(*) P {p_count}, O {o_count}; read: only P {only_p}, only O {only_o}; "
                f"edit (of {len(sample)}): only P {sorted(p_edit - o_edit)[:10]}, "
                f"only O {sorted(o_edit - p_edit)[:10]}")
        print(f"oracle of user {uid} ({label}) returns P's rows: {o_count} read, "
              f"{len(o_edit)} of {len(sample)} sampled editable", file=sys.stderr)

    def prepare_oracle(self, users):
        """Each user's oracle conditions, checked against P; and checked for
        users the sample may miss, for the oracle's other paths: a manual
        share, view_all (TRUE), a profile that may not edit (FALSE)."""
        self.column_types = dict(self.sql("""
            SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped"""))
        for u in users:
            u["oracle"] = self.oracle_filters(u["uid"])
            self.check_oracle(u["uid"], u["class"])
        extra = self.sql("""
            SELECT 'shared', min(to_id) FROM sharing.shares WHERE tbl = 'accounts'::regclass AND to_type = 'user'
            UNION ALL
            SELECT p.name, min(u.id) FROM sharing.users u JOIN sharing.profiles p ON p.id = u.profile_id
             WHERE p.name IN ('analyst', 'light_agent') GROUP BY p.name""")
        for label, uid in extra:
            if uid is not None and (uid, READ) not in self.filters:
                self.oracle_filters(uid)
                self.check_oracle(uid, label)

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
            "O": ("accounts_naive", "notes", None, None),
            "N": ("accounts_naive", "notes", uid, "bench_app"),
            "U": ("accounts_naive", "notes", None, None),
        }[setup]
        a, notes, as_uid, role = tables
        base = 10_000_000_000 + len(self.results) * 100_000
        template = ORACLE_QUERIES[qname] if setup == "O" else QUERIES[qname]
        f = self.filters.get((uid, EDIT if qname == "Q6" else READ))
        q = template.format(a=a, n=notes, visible=u["visible_id"], hidden=u["hidden_id"],
                            own=u["own"], uid=uid, base=base, f=f)
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
                for setup in ("L", "P", "O", "U"):
                    if setup == "O" and qname not in ORACLE_QUERIES:
                        continue
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

    # ------------------------------------------------ the application request
    def pgbench(self, script, login, seconds, table):
        """One pgbench run of `script` as `login` (None: the superuser);
        checks that every transaction updated exactly one row of `table`."""
        dsn = make_conninfo(self.dsn, user=login) if login else self.dsn
        total = f"SELECT sum(amount) FROM {table} WHERE id IN (SELECT id FROM bench_pairs)"
        before = self.one(total)
        cmd = [self.args.pgbench, "-n", "-M", "prepared", "-c", str(APP_CLIENTS), "-j", str(APP_THREADS),
               "-T", str(seconds), "-f", script, dsn]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"pgbench failed ({' '.join(cmd)}):\n{out.stdout}{out.stderr}")

        def field(pattern, convert=float):
            m = re.search(pattern, out.stdout, re.M)
            if not m:
                raise SystemExit(f"no {pattern!r} in pgbench's output:\n{out.stdout}")
            return convert(m.group(1))
        run = {"tps": field(r"^tps = ([0-9.]+)"),
               "latency_ms": field(r"^latency average = ([0-9.]+) ms"),
               "transactions": field(r"^number of transactions actually processed: (\d+)", int)}
        updated = self.one(total) - before
        if updated != run["transactions"]:
            raise SystemExit(f"pgbench as {login or 'the superuser'} on {table}: {run['transactions']} "
                             f"transactions updated the amounts by {updated}, not one row each")
        return run

    def app_request(self):
        """The application request under P, U and H: a short warm-up of each,
        then interleaved rounds (P, U, H, P, U, H, ...); medians of tps."""
        a = self.args
        pairs = self.one("SELECT count(*) FROM bench_pairs")
        scripts = {}
        with tempfile.TemporaryDirectory(prefix="pg_sharing-bench-") as tmp:
            for s, (table, login, act) in APP_SETUPS.items():
                scripts[s] = APP_SCRIPT.format(pairs=pairs, act=act, a=table)
                path = os.path.join(tmp, f"{s}.sql")
                with open(path, "w") as f:
                    f.write(scripts[s])
            runs = {s: [] for s in APP_SETUPS}
            for k in range(-1, a.pgbench_rounds):
                for s, (table, login, _) in APP_SETUPS.items():
                    seconds = min(2, a.pgbench_seconds) if k < 0 else a.pgbench_seconds
                    run = self.pgbench(os.path.join(tmp, f"{s}.sql"), login, seconds, table)
                    if k >= 0:
                        runs[s].append(run)
                    print(f"pgbench {'warm-up' if k < 0 else f'round {k + 1}'} {s}: {run['tps']:.0f} tps",
                          file=sys.stderr)
        median = {s: statistics.median(r["tps"] for r in rs) for s, rs in runs.items()}
        return {"mode": "prepared", "clients": APP_CLIENTS, "threads": APP_THREADS, "seconds": a.pgbench_seconds,
                "rounds": a.pgbench_rounds, "pairs": pairs, "scripts": scripts, "runs": runs,
                "median_tps": median,
                "median_latency_ms": {s: statistics.median(r["latency_ms"] for r in rs) for s, rs in runs.items()},
                "P/U": ratio(median["P"], median["U"]), "P/H": ratio(median["P"], median["H"])}

    def parallel_settings(self):
        """The parallel settings as the superuser sees them, and
        max_parallel_workers_per_gather as each login sees it (a role-level
        setting would show there)."""
        out = dict(self.sql("SELECT name, setting FROM pg_settings WHERE name = ANY (%s) ORDER BY name",
                            (list(PARALLEL_SETTINGS),)))
        for login in ("bench_app", "bench_hand"):
            with psycopg.connect(make_conninfo(self.dsn, user=login)) as c:
                out[f"max_parallel_workers_per_gather as {login}"] = \
                    c.execute("SHOW max_parallel_workers_per_gather").fetchone()[0]
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


def app_line(app):
    m = app["median_tps"]
    return (f"application request: P {fmt(m['P'], 0)} tps, U {fmt(m['U'], 0)} tps, H {fmt(m['H'], 0)} tps, "
            f"P/U {fmt(app['P/U'])}, P/H {fmt(app['P/H'])} (pgbench -M {app['mode']}, {app['clients']} clients, "
            f"{app['threads']} threads, medians of {app['rounds']} interleaved rounds of {app['seconds']} s)")


def report(b, users, admin, app, parallel, args):
    med = {(r["query"], r["setup"], r["class"]): r["median_ms"] for r in b.results}
    p95 = {(r["query"], r["setup"], r["class"]): r["p95_ms"] for r in b.results}
    lines = [f"rows: {args.rows}, users: 10000, runs per figure: {args.repeat} (Q7: 3), times in ms (median; p95 in brackets)",
             "parallel: " + ", ".join(f"{k} {v}" for k, v in parallel.items()),
             "",
             "| query | user (sees) | L | P | O | U | N | P/L | P/O | P/U | N/P |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for qname in QUERIES:
        for u in users:
            c = u["class"]
            cells = []
            for s in "LPOUN":
                m = med.get((qname, s, c))
                if m is None:
                    cells.append("—" if (qname, s, c) not in med else f">{args.naive_timeout}s")
                else:
                    cells.append(f"{fmt(m)} ({fmt(p95[(qname, s, c)])})" if s != "N" else fmt(m, 0))
            pl = ratio(med.get((qname, "P", c)), med.get((qname, "L", c)))
            po = ratio(med.get((qname, "P", c)), med.get((qname, "O", c)))
            pu = ratio(med.get((qname, "P", c)), med.get((qname, "U", c)))
            npr = ratio(med.get((qname, "N", c)), med.get((qname, "P", c)))
            lines.append(f"| {qname} | {c} ({100 * u['share']:.2f}%) | " + " | ".join(cells)
                         + f" | {fmt(pl)} | {fmt(po)} | {fmt(pu)} | {fmt(npr, 0)} |")
    lines += ["",
              f"Q9 create a criteria rule matching {admin['Q9']['rows_matched']} rows, committed: "
              f"{fmt(admin['Q9']['median_ms'], 1)} ms (median of 3)",
              f"Q10 move a role with {admin['Q10']['users_below']} users below it, committed: "
              f"{fmt(admin['Q10']['median_ms'], 1)} ms (median of 6)"]
    if app:
        lines += ["", app_line(app)]
    return "\n".join(lines)


def citus_report(single, cluster):
    """The Citus comparison: P against U on each, and each setup on the
    cluster against the same on the single node."""
    def medians(doc):
        return {(r["query"], r["setup"], r["class"]): r["median_ms"] for r in doc["results"]}
    s, c = medians(single), medians(cluster)
    lines = [f"rows: {cluster['rows']}, runs per figure: {cluster['repeat']}, times in ms (median); "
             f"single node and a Citus coordinator with {cluster.get('workers', '?')} workers on the same machine",
             "",
             "| query | user (sees) | P single | U single | P Citus | U Citus | P/U single | P/U Citus | "
             "P Citus/single | U Citus/single |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for qname in CITUS_QUERIES:
        for u in cluster["users"]:
            k = u["class"]
            ps, us, pc, uc = (s.get((qname, "P", k)), s.get((qname, "U", k)),
                              c.get((qname, "P", k)), c.get((qname, "U", k)))
            lines.append(f"| {qname} | {k} ({100 * u['share']:.2f}%) | {fmt(ps)} | {fmt(us)} | {fmt(pc)} | "
                         f"{fmt(uc)} | {fmt(ratio(ps, us))} | {fmt(ratio(pc, uc))} | {fmt(ratio(pc, ps))} | "
                         f"{fmt(ratio(uc, us))} |")
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
    p.add_argument("--pgbench", default="pgbench", help="the pgbench binary")
    p.add_argument("--pgbench-seconds", type=int, default=10, help="seconds per pgbench round")
    p.add_argument("--pgbench-rounds", type=int, default=3, help="pgbench rounds per setup")
    p.add_argument("--skip-pgbench", action="store_true", help="no application request")
    p.add_argument("--citus", action="store_true",
                   help="the database is a Citus coordinator: distribute the tables")
    p.add_argument("--citus-comparison", action="store_true",
                   help="only Q1-Q5 with P and U (what the Citus comparison measures)")
    p.add_argument("--workers", type=int, default=0, help="the Citus cluster's workers (reported)")
    p.add_argument("--compare", nargs=2, metavar=("SINGLE", "CITUS"),
                   help="print the Citus comparison of two result files and exit")
    args = p.parse_args()

    if args.compare:
        with open(args.compare[0]) as f1, open(args.compare[1]) as f2:
            print(citus_report(json.load(f1), json.load(f2)))
        return

    b = Bench(args)
    if args.citus_comparison:
        b.setup()
        users = b.pick_users()
        for u in users:
            for qname in CITUS_QUERIES:
                for setup in ("P", "U"):
                    b.measure(u, qname, setup, args.repeat)
            print(f"measured {u['class']}", file=sys.stderr)
        doc = {"rows": args.rows, "seed": args.seed, "repeat": args.repeat, "settings": args.settings,
               "citus": args.citus, "workers": args.workers, "users": users, "results": b.results,
               "setup_seconds": b.setup_seconds}
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"results: {args.out}", file=sys.stderr)
        return
    b.setup()
    parallel = b.parallel_settings()
    users = b.pick_users()
    b.prepare_oracle(users)
    b.run_queries(users)
    admin = b.admin_timings()
    vp = next(u for u in users if u["class"] == "VP")
    rep = next(u for u in users if u["class"] == "rep")
    plans = {f"Q1 {u['class']}": b.explain(u["uid"], QUERIES["Q1"].format(a="accounts")) for u in (rep, vp)}
    plans.update({f"Q2 {u['class']}": b.explain(u["uid"], QUERIES["Q2"].format(a="accounts")) for u in (rep, vp)})
    app = None if args.skip_pgbench else b.app_request()
    table = report(b, users, admin, app, parallel, args)
    doc = {"rows": args.rows, "seed": args.seed, "repeat": args.repeat, "settings": args.settings,
           "parallel": parallel,
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "server": b.one("SELECT version()")},
           "setup_seconds": b.setup_seconds, "users": users, "results": b.results, "admin": admin,
           "app_request": app,
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
