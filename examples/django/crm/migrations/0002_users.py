"""Django logins for the users of examples/demo_setup.sql, with the same ids
(sharing.create_user(..., id => N) there; auth_user.id = N here), so the
middleware passes request.user.pk to sharing.act_as unchanged."""
from django.contrib.auth.hashers import make_password
from django.db import migrations

USERS = [(1, "carol"), (2, "sam"), (3, "erin"), (4, "will"), (5, "sue")]


def create_users(apps, schema_editor):
    User = apps.get_model("auth", "User")
    for user_id, username in USERS:
        User.objects.create(id=user_id, username=username, password=make_password(f"{username}-password"))
    # Ids given explicitly: move the sequence past them for users created later.
    schema_editor.execute("SELECT setval(pg_get_serial_sequence('auth_user', 'id'), (SELECT max(id) FROM auth_user))")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]
    operations = [migrations.RunPython(create_users, migrations.RunPython.noop)]
