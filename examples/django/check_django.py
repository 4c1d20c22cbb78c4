#!/usr/bin/env python3
"""Checks the example CRM (this folder) against a real database: through
Django's test client, then through real server processes over HTTP.

    CRM_DB_HOST=127.0.0.1 CRM_DB_PORT=5432 CRM_DB_NAME=crm_django python check_django.py

Expects a copy of the org of examples/demo_setup.sql migrated with
`manage.py migrate` (as a superuser; see crm/migrations/0001_initial.py).
It writes (notes, account names), so give it its own copy. Every response is
compared with what the org's sharing rules say each user may see and do;
exits non-zero on the first mismatch.
"""
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))

# --- what each user may see, from the rules of examples/demo_setup.sql --------

ROLE_PARENT = {"CEO": None, "Sales Manager": "CEO", "Sales Rep": "Sales Manager", "Support": "CEO"}
USERS = {1: ("carol", "CEO"), 2: ("sam", "Sales Manager"), 3: ("erin", "Sales Rep"),
         4: ("will", "Sales Rep"), 5: ("sue", "Support")}
ACCOUNTS = {101: (3, "New York"), 102: (3, "Boston"), 201: (4, "Seattle"),  # id: (owner, city)
            202: (4, "New York"), 301: (2, "Chicago"), 401: (5, "Denver")}


def is_above(role, other):
    """role is a strict superior of other in the role hierarchy."""
    parent = ROLE_PARENT[other]
    return parent is not None and (parent == role or is_above(role, parent))


def access(user, account):
    """None, 'read' or 'edit': accounts are private; owners and the owners'
    superiors have full access (peers do not: share_with_peers is off);
    the role Support reads New York accounts (criteria rule); Will shared
    201 with Erin read-only (share_record)."""
    owner, city = ACCOUNTS[account]
    if user == owner or is_above(USERS[user][1], USERS[owner][1]):
        return "edit"
    if (USERS[user][1] == "Support" and city == "New York") or (account, user) == (201, 3):
        return "read"
    return None


VISIBLE = {u: sorted(a for a in ACCOUNTS if access(u, a)) for u in USERS}
EDITABLE = {u: sorted(a for a in ACCOUNTS if access(u, a) == "edit") for u in USERS}
# Notes are a child table "controlled by parent": readable with the account,
# writable when the account is editable. Migration 0001 wrote one per account;
# NOTES counts the notes per account as the checks add more.
NOTES = Counter({account: 1 for account in ACCOUNTS})


def expected_notes(user):
    """The account ids of the notes `user` must see, one entry per note."""
    return sorted(a for a in VISIBLE[user] for _ in range(NOTES[a]))


def check(ok, what, quiet=False):
    if not ok:
        raise AssertionError(what)
    if not quiet:
        print(f"ok   {what}")


def check_listing(answer, user, what):
    """A GET /accounts/ answer for `user` (None: no logged-in user)."""
    expected = VISIBLE[user] if user else []
    check(answer["db_user"] == user and answer["accounts"] == expected,
          f"{what}: user {user} saw {answer['accounts']} as db user {answer['db_user']}, expected {expected}",
          quiet=True)


# --- 1. Django's test client ------------------------------------------------------

def with_test_client():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    os.environ["CRM_CONN_MAX_AGE"] = "600"  # one persistent connection for all the requests below
    sys.path.insert(0, HERE)
    import django
    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    clients = {}
    for user in USERS:
        clients[user] = Client(raise_request_exception=False)
        clients[user].force_login(get_user_model().objects.get(pk=user))
    anonymous = Client(raise_request_exception=False)

    def get(client, url):
        response = client.get(url)
        check(response.status_code == 200, f"GET {url}: {response.status_code}", quiet=True)
        return response.json()

    def post(client, url, body):
        response = client.post(url, json.dumps(body), content_type="application/json")
        return response.status_code, (response.json() if response.status_code != 500 else None)

    pids = set()
    for user in USERS:
        for url in ("/accounts/", "/accounts/?iterator=1"):
            answer = get(clients[user], url)
            check_listing(answer, user, f"test client {url}")
            pids.add(answer["pid"])
            if "iterator" in url:
                check(answer["server_side_cursors"] >= 1, "iterator() used a server-side cursor", quiet=True)
        # The next request on the same connection has no logged-in user.
        answer = get(anonymous, "/accounts/")
        check_listing(answer, None, "test client, anonymous after a user")
        pids.add(answer["pid"])
    for user in USERS:
        lazy = b"".join(clients[user].get("/accounts/stream/").streaming_content).split()
        check(lazy == [], f"user {user}'s lazily streamed listing: {lazy}, expected none", quiet=True)
        eager = [int(i) for i in b"".join(clients[user].get("/accounts/stream/?materialize=1").streaming_content).split()]
        check(eager == VISIBLE[user], f"user {user}'s materialised streamed listing: {eager}", quiet=True)
    check(True, "pitfall shown: a StreamingHttpResponse over a lazy queryset runs after the request's "
                "transaction, with no identity, and streams no accounts; evaluated in the view it streams "
                "exactly the user's")
    check(True, f"test client: each of {len(USERS)} users sees exactly their accounts, also through "
                f".iterator()'s server-side cursor; {dict((u, VISIBLE[u]) for u in USERS)}")
    check(len(pids) == 1, f"test client: every request ran on one persistent connection (CONN_MAX_AGE=600), "
                          f"and an anonymous request after each user's saw no accounts and no db user")

    # Notes on every account by every user: 201 where the user may edit the
    # account, 403 where the user only reads it, 404 where the user cannot see it.
    for user in USERS:
        for account in ACCOUNTS:
            status, _ = post(clients[user], f"/accounts/{account}/notes/", {"body": f"note by {user}"})
            want = {"edit": 201, "read": 403, None: 404}[access(user, account)]
            check(status == want, f"user {user} adds a note to {account}: {status}, expected {want}", quiet=True)
            if status == 201:
                NOTES[account] += 1
    check(True, "test client: 30 note inserts (5 users x 6 accounts): 201 on editable accounts, "
                "403 on read-only ones (the INSERT policy's 42501), 404 on invisible ones")
    for user in USERS:
        seen = [a for _, a in get(clients[user], "/notes/")["notes"]]
        check(seen == expected_notes(user), f"user {user} sees notes of {seen}, expected {expected_notes(user)}",
              quiet=True)
    check(True, "test client: each user sees exactly the notes of the accounts they see (child table)")
    check(get(anonymous, "/notes/")["notes"] == [], "test client: no logged-in user, no notes")

    for user in USERS:
        for account in ACCOUNTS:
            status, answer = post(clients[user], f"/accounts/{account}/rename/", {"name": f"renamed by {user}"})
            want = 1 if access(user, account) == "edit" else 0
            check(status == 200 and answer["updated"] == want,
                  f"user {user} renames {account}: {answer}, expected {want} row", quiet=True)
    check(True, "test client: renames reach exactly the editable accounts (1 row), none else (0 rows)")

    status, _ = post(clients[3], "/accounts/101/notes-then-fail/", {})
    check(status == 500, f"a view that fails after writing answers 500 ({status})", quiet=True)
    seen = [a for _, a in get(clients[1], "/notes/")["notes"]]
    check(seen == expected_notes(1), "test client: the failed view's note was rolled back (ATOMIC_REQUESTS savepoint)")
    from django.db import connection
    connection.close()


# --- 2. real server processes over HTTP -------------------------------------------

class Browser:
    """One user's HTTP client with its own cookie jar (session, CSRF)."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = None

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if self.csrf:
            headers["X-CSRFToken"] = self.csrf
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    def login(self, user):
        name = USERS[user][0]
        status, answer = self.call("POST", "/login/", {"username": name, "password": f"{name}-password"})
        check(status == 200 and answer["user"] == user, f"login of {name}: {status} {answer}", quiet=True)
        self.csrf = answer["csrf"]
        return self


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`manage.py runserver` as a child process; stopped on exit, even on failure."""

    def __init__(self, extra_env, *options):
        self.env = {**os.environ, **extra_env}
        self.options = options
        self.process = None

    def start(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "manage.py"), "runserver", "--noreload", *self.options,
             f"127.0.0.1:{self.port}"], env=self.env, cwd=HERE, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        if os.environ.get("EXAMPLES_PIDFILE"):  # scripts/examples.sh stops it too if this script is killed
            with open(os.environ["EXAMPLES_PIDFILE"], "a") as f:
                f.write(f"{self.process.pid}\n")

    def __enter__(self):
        # A port found free may be taken before the server binds it: then the
        # server exits at once, and another port is tried (at most 3 times).
        for attempt in range(3):
            self.start()
            deadline = time.monotonic() + 30
            while self.process.poll() is None:  # poll the port, at most 30 s
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                except OSError:
                    if time.monotonic() > deadline:
                        self.__exit__()
                        raise AssertionError(f"the server does not listen on {self.port} after 30 s")
                    time.sleep(0.1)
        raise AssertionError(f"the server exited with {self.process.returncode}, three times")

    def __exit__(self, *_):
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def over_http_persistent():
    # One thread, one persistent connection: every request below runs on the
    # same server connection, one after the other, users and no user mixed.
    with Server({"CRM_CONN_MAX_AGE": "600"}, "--nothreading") as server:
        browsers = {user: Browser(server.base).login(user) for user in USERS}
        anonymous = Browser(server.base)
        pids = set()
        for round_ in range(3):
            for user in USERS:
                for path in ("/accounts/", "/accounts/?iterator=1"):
                    status, answer = browsers[user].call("GET", path)
                    check(status == 200, f"GET {path}: {status}", quiet=True)
                    check_listing(answer, user, f"HTTP {path}")
                    pids.add(answer["pid"])
                status, answer = anonymous.call("GET", "/accounts/")
                check_listing(answer, None, "HTTP, anonymous after a user")
                pids.add(answer["pid"])
        check(len(pids) == 1, f"runserver --nothreading, CONN_MAX_AGE=600: 3 rounds of the 5 users (plain and "
                              f".iterator()) and an anonymous request after each, all on one server connection "
                              f"(pid {pids}): each user saw exactly their accounts, anonymous saw none")
        for user in USERS:
            for account in ACCOUNTS:
                status, _ = browsers[user].call("POST", f"/accounts/{account}/notes/", {"body": "over HTTP"})
                want = {"edit": 201, "read": 403, None: 404}[access(user, account)]
                check(status == want, f"HTTP: user {user} adds a note to {account}: {status}, expected {want}",
                      quiet=True)
                if status == 201:
                    NOTES[account] += 1
        for user in USERS:
            status, answer = browsers[user].call("GET", "/notes/")
            seen = [a for _, a in answer["notes"]]
            check(seen == expected_notes(user), f"HTTP: user {user} sees notes of {seen}", quiet=True)
        status, _ = Browser(server.base).call("POST", "/accounts/401/notes/", {"body": "no CSRF token"})
        check(status == 403, f"HTTP: a POST without session and CSRF token is refused ({status})", quiet=True)
        check(True, "HTTP: note inserts with session and CSRF token: 201/403/404 as the rules say; "
                    "each user then sees exactly the notes of their accounts")


def over_http_pool_concurrent():
    # The threaded server (a thread per request) with Django's own psycopg
    # pool of at most 2 connections: concurrent requests of different users
    # take turns on the same pooled connections.
    with Server({"CRM_DB_POOL": "1"}) as server:
        browsers = {user: Browser(server.base).login(user) for user in USERS}
        anonymous = Browser(server.base)
        requests = [u for u in USERS for _ in range(10)] + [None] * 10

        def one(user):
            status, answer = (browsers[user] if user else anonymous).call("GET", "/accounts/")
            check(status == 200, f"GET /accounts/: {status}", quiet=True)
            check_listing(answer, user, "HTTP, concurrent")
            return answer["pid"], user

        with ThreadPoolExecutor(max_workers=8) as executor:
            results = list(executor.map(one, requests))
        users_per_pid = {}
        for pid, user in results:
            users_per_pid.setdefault(pid, set()).add(user)
        check(len(users_per_pid) <= 2 and any(len(u) > 1 for u in users_per_pid.values()),
              f"{len(results)} concurrent requests (5 users and anonymous) on runserver's threads with Django's "
              f"connection pool (OPTIONS pool, max 2): every response exact; {len(users_per_pid)} server "
              f"connections, shared between users")


def main():
    # SIGTERM (an interrupted test run) unwinds like an error: the servers stop.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with_test_client()
    over_http_persistent()
    over_http_pool_concurrent()
    print("check_django: all checks passed")


if __name__ == "__main__":
    main()
