"""The request's user becomes the database's user: the one piece of glue
between Django and pg_sharing.

Each request runs in one transaction that starts with
`SELECT sharing.act_as(<the logged-in user's id>)`. From then on, until the
transaction ends, every query of the request (views, templates, forms,
.iterator()'s server-side cursors) returns only that user's rows, and every
write reaches only rows that user may change. When the transaction ends the
identity ends with it, so the connection -- kept with CONN_MAX_AGE or
returned to a pool -- carries nothing into the next request. A request
without a logged-in user makes no act_as call and sees no protected rows.

Why an explicit atomic block here and not ATOMIC_REQUESTS alone:
ATOMIC_REQUESTS wraps only the view, not the middleware, and act_as outside
a transaction lasts for that one statement. With both, the view's atomic
block is a savepoint inside this transaction: an exception in the view rolls
back the view's writes (Django turns the exception into a 500 response
before it reaches this middleware, so this block itself commits), and
act_as stays in force until the response is complete.

Django user ids are the application's user ids here (auth_user.id ==
sharing.users.id). If yours differ, map them here, e.g. through a profile.
"""
from django.db import connection, transaction


class SharingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user  # set by AuthenticationMiddleware (reads the session)
        with transaction.atomic():
            if user.is_authenticated:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT sharing.act_as(%s)", [user.pk])
            return self.get_response(request)
