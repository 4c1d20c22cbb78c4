"""Settings of the example CRM on pg_sharing.

The database connection comes from the environment, so that the same project
runs its migrations as a privileged login and serves requests as the
application's login:

    CRM_DB_HOST, CRM_DB_PORT, CRM_DB_NAME  where the database is
    CRM_DB_USER       crm_app (a member of sharing_app) to serve requests;
                      an owner / sharing_admin login for `manage.py migrate`
    CRM_CONN_MAX_AGE  seconds a connection is kept between requests
                      (0: a new one per request; >0: persistent connections)
    CRM_DB_POOL       1: Django's own psycopg connection pool instead
"""
import os

SECRET_KEY = "example-only-not-secret"  # an example: read it from the environment in real life
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "crm",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After AuthenticationMiddleware (it needs request.user): opens the
    # request's transaction and calls sharing.act_as for the logged-in user.
    "crm.middleware.SharingMiddleware",
]

ROOT_URLCONF = "crm_site.urls"
WSGI_APPLICATION = "crm_site.wsgi.application"

_pool = os.environ.get("CRM_DB_POOL") == "1"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",  # psycopg 3
        "HOST": os.environ.get("CRM_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("CRM_DB_PORT", "5432"),
        "NAME": os.environ.get("CRM_DB_NAME", "crm"),
        "USER": os.environ.get("CRM_DB_USER", "crm_app"),
        # The view runs in a savepoint inside the middleware's transaction, so
        # an exception in a view undoes the view's writes (see middleware.py).
        "ATOMIC_REQUESTS": True,
        # Django's pool wants CONN_MAX_AGE 0; it keeps the connections itself.
        "CONN_MAX_AGE": 0 if _pool else int(os.environ.get("CRM_CONN_MAX_AGE", "0")),
        # .iterator() uses a server-side cursor (DECLARE ... CURSOR), which
        # lives in the request's transaction, where act_as is in force.
        "DISABLE_SERVER_SIDE_CURSORS": False,
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 2}} if _pool else {},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# The example's checks log in a few dozen times; the default hasher (PBKDF2,
# deliberately slow) would make that take seconds. Keep the default in real life.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "ERROR"}},  # 500s with their tracebacks
}
