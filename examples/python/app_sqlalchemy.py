#!/usr/bin/env python3
"""A web-style application on pg_sharing with SQLAlchemy 2 (ORM, psycopg 3).

The engine connects with ONE login (crm_app, a member of sharing_app); its
connection pool serves every user. Each request gets its own Session, created
with the request's user in `Session.info`; an `after_begin` event hook calls
`sharing.act_as(user_id)` as the first statement of every transaction the
session begins. Rows are then filtered by PostgreSQL itself: the ORM queries
are the ordinary ones, with no user filter written anywhere.

    python app_sqlalchemy.py "postgresql+psycopg://crm_app@127.0.0.1:5432/crm"
    python app_sqlalchemy.py "postgresql+psycopg://crm_app@127.0.0.1:6432/crm" --pgbouncer

Expects a fresh copy of the org in examples/demo_setup.sql (it edits
accounts). Prints what it checks; exits non-zero on any mismatch.
"""
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Optional

from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

# The accounts each user of examples/demo_setup.sql sees (see app_psycopg.py for why).
VISIBLE = {
    1: {101, 102, 201, 202, 301, 401},
    2: {101, 102, 201, 202, 301},
    3: {101, 102, 201},
    4: {201, 202},
    5: {101, 202, 401},
}
ERIN, WILL, SUE, SAM = 3, 4, 5, 2


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int]
    name: Mapped[str]
    billing_city: Mapped[Optional[str]]
    amount: Mapped[Decimal]


# --- the pattern: a session per request, act_as at the start of each transaction

RequestSession = sessionmaker()


@event.listens_for(RequestSession, "after_begin")
def act_as_request_user(session, transaction, connection):
    # Runs on the connection the session just began a transaction on, before
    # any query of the request. No user in the session: fail loudly.
    user_id = session.info["user_id"]
    connection.execute(text("SELECT sharing.act_as(:user_id)"), {"user_id": user_id})


def request_session(user_id) -> Session:
    return RequestSession(info={"user_id": user_id})


# --- the checks ---------------------------------------------------------------

def check(ok, what, quiet=False):
    if not ok:
        raise AssertionError(what)
    if not quiet:
        print(f"ok   {what}")


def one_request(user_id):
    with request_session(user_id) as session, session.begin():
        ids = set(session.scalars(select(Account.id)))
        pid = session.scalar(select(func.pg_backend_pid()))
    check(ids == VISIBLE[user_id], f"user {user_id} saw {sorted(ids)}, expected {sorted(VISIBLE[user_id])}", quiet=True)
    return user_id, pid


def interleaved_requests():
    users = list(VISIBLE) * 20
    with ThreadPoolExecutor(max_workers=8) as executor:
        results = list(executor.map(one_request, users))
    users_per_backend = defaultdict(set)
    for user_id, pid in results:
        users_per_backend[pid].add(user_id)
    check(len(results) == len(users),
          f"{len(results)} interleaved sessions of {len(VISIBLE)} users: each saw exactly its own accounts")
    check(any(len(u) > 1 for u in users_per_backend.values()),
          f"pooled connections were shared between users ({len(users_per_backend)} backends)")


def edits():
    # The ORM unit of work: load, change an attribute, commit.
    with request_session(ERIN) as session, session.begin():
        session.get(Account, 101).name = "Acme East Inc."
    with request_session(ERIN) as session:
        check(session.get(Account, 101).name == "Acme East Inc.", "Erin edits her own account 101 through the ORM")

    # Sue reads 101 (New York rule, read-only) but may not edit it: the UPDATE
    # the ORM flushes reaches 0 rows, which SQLAlchemy reports as StaleDataError.
    try:
        with request_session(SUE) as session, session.begin():
            account = session.get(Account, 101)
            check(account is not None, "Sue can load 101 (New York rule)")
            account.name = "Support was here"
        check(False, "Sue's edit of 101 should not have been applied")
    except StaleDataError:
        check(True, "Sue's ORM edit of 101 reaches 0 rows: StaleDataError, rolled back")

    # Bulk UPDATE statements report the rows they reached.
    with request_session(WILL) as session, session.begin():
        result = session.execute(update(Account).where(Account.id.in_([101, 102])).values(name="Stolen")
                                 .execution_options(synchronize_session=False))
        check(result.rowcount == 0, "Will's UPDATE of Erin's 101 and 102 reaches 0 rows")
        check(session.get(Account, 102) is None, "Will cannot even load Erin's 102")
    with request_session(SAM) as session, session.begin():
        result = session.execute(update(Account).where(Account.owner_id == ERIN).values(amount=Account.amount + 1)
                                 .execution_options(synchronize_session=False))
        check(result.rowcount == 2, "Sam, Erin's manager, updates both of her accounts: 2 rows")

    # An INSERT the policies refuse: SQLSTATE 42501, the session rolls back.
    try:
        with request_session(ERIN) as session, session.begin():
            session.add(Account(id=104, owner_id=WILL, name="For Will", amount=0))
        check(False, "Erin should not create an account owned by her peer Will")
    except ProgrammingError as e:
        check(e.orig.sqlstate == "42501", "Erin may not create an account owned by her peer Will (42501)")

    with request_session(ERIN) as session:
        rows = session.execute(select(Account.id, Account.name, Account.amount).order_by(Account.id)).all()
        check([tuple(r) for r in rows] == [(101, "Acme East Inc.", 50001), (102, "Boston Widgets", 12001),
                                           (201, "West Coast Co", 8000)],
              "Erin sees her edit, Sam's +1 on her accounts and 201 unchanged")


def a_session_without_user_fails():
    # Forgetting the user is a bug that must not run queries as "someone".
    try:
        with RequestSession() as session:
            session.scalars(select(Account.id)).all()
        check(False, "a session without a user should not run queries")
    except KeyError:
        check(True, "a session without a user in Session.info runs no query (KeyError in the hook)")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    # Through PgBouncer (transaction pooling): no server-side prepared statements.
    connect_args = {"prepare_threshold": None} if "--pgbouncer" in sys.argv[2:] else {}
    engine = create_engine(sys.argv[1], pool_size=3, max_overflow=0, connect_args=connect_args)
    RequestSession.configure(bind=engine)
    interleaved_requests()
    edits()
    a_session_without_user_fails()
    # What the engine's pooled connections hold between requests: nothing.
    with engine.connect() as conn:
        me = conn.scalar(text("SELECT sharing.current_user_id()"))
        n = conn.scalar(text("SELECT count(*) FROM accounts"))
        check(me is None and n == 0, "a pooled connection outside a request has no identity and sees 0 accounts")
    engine.dispose()
    print("app_sqlalchemy: all checks passed")


if __name__ == "__main__":
    main()
