"""A small JSON API over the protected tables. None of these views filters
by user: pg_sharing does, through the act_as of crm.middleware."""
import json

from django.contrib.auth import authenticate, login
from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .models import Account, Note


def _scalar(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _session_facts(request):
    """Who the database thinks we are, and on which server connection."""
    return {
        "django_user": request.user.pk,
        "db_user": _scalar("SELECT sharing.current_user_id()"),
        "pid": _scalar("SELECT pg_backend_pid()"),
    }


@csrf_exempt  # the login form itself; everything after it sends the CSRF token
@require_POST
def login_view(request):
    body = json.loads(request.body)
    user = authenticate(request, username=body["username"], password=body["password"])
    if user is None:
        return JsonResponse({"error": "bad credentials"}, status=401)
    login(request, user)
    return JsonResponse({"user": user.pk, "csrf": get_token(request)})


@require_GET
def accounts(request):
    facts = _session_facts(request)
    queryset = Account.objects.order_by("id")
    if request.GET.get("iterator"):
        # .iterator() fetches through a server-side cursor (DECLARE ... CURSOR)
        # in chunks; it runs inside the request's transaction, as its user.
        ids, open_cursors = [], 0
        for account in queryset.iterator(chunk_size=2):
            ids.append(account.id)
            open_cursors = max(open_cursors, _scalar("SELECT count(*) FROM pg_cursors"))
        facts["server_side_cursors"] = open_cursors
    else:
        ids = [account.id for account in queryset]
    return JsonResponse({**facts, "accounts": ids})


@require_GET
def notes(request):
    rows = Note.objects.order_by("account_id", "id").values_list("id", "account_id")
    return JsonResponse({**_session_facts(request), "notes": [list(r) for r in rows]})


@require_POST
def add_note(request, account_id):
    if not Account.objects.filter(pk=account_id).exists():
        return JsonResponse({"error": "no such account"}, status=404)  # or not visible to this user
    try:
        # Its own savepoint: a refused INSERT aborts only the savepoint, and
        # the request can still answer (and later queries still run).
        with transaction.atomic():
            note = Note.objects.create(account_id=account_id, author_id=request.user.pk,
                                       body=json.loads(request.body)["body"])
    except DatabaseError as e:
        if getattr(e.__cause__, "sqlstate", None) == "42501":  # the INSERT policy refused
            return JsonResponse({"error": "read-only account"}, status=403)
        raise
    return JsonResponse({"note": note.id}, status=201)


@require_POST
def rename_account(request, account_id):
    # An UPDATE reaches only rows this user may edit: 0 rows otherwise.
    updated = Account.objects.filter(pk=account_id).update(name=json.loads(request.body)["name"])
    return JsonResponse({"updated": updated})


@require_POST
def add_note_then_fail(request, account_id):
    """Writes, then fails: ATOMIC_REQUESTS rolls the view's savepoint back."""
    Note.objects.create(account_id=account_id, author_id=request.user.pk, body="never committed")
    raise RuntimeError("the view failed after writing")


@require_GET
def accounts_stream(request):
    """A streamed listing, one id per line. The response body is produced
    after the view returns -- after SharingMiddleware's transaction has
    ended, so with no identity: a lazy queryset streams nothing. Evaluate it
    in the view (?materialize=1) and stream the result instead."""
    queryset = Account.objects.order_by("id").values_list("id", flat=True)
    rows = list(queryset) if request.GET.get("materialize") else queryset

    def lines():  # runs when the response is sent
        for account_id in rows:
            yield f"{account_id}\n"

    return StreamingHttpResponse(lines(), content_type="text/plain")
