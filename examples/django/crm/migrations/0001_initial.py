"""The notes table, protected as a child of accounts, and the application
login's privileges.

Run `manage.py migrate` as a login that may manage sharing (a superuser or a
member of sharing_admin) and owns the tables -- not as the application's
login, which only needs the privileges granted at the end.
"""
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Account",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("owner_id", models.BigIntegerField()),
                ("name", models.TextField()),
                ("billing_city", models.TextField(null=True)),
                ("amount", models.DecimalField(decimal_places=2, default=0, max_digits=14)),
            ],
            options={"db_table": "accounts", "managed": False},
        ),
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("author_id", models.BigIntegerField()),
                ("body", models.TextField()),
                ("account", models.ForeignKey(db_column="account_id", on_delete=models.deletion.CASCADE,
                                              related_name="notes", to="crm.account")),
            ],
            options={"db_table": "notes"},
        ),
        # One note per account to start with (the migration's login bypasses
        # row level security as a superuser; a sharing_admin that owns the
        # table would need act_as or a policy-free path for seeding).
        migrations.RunSQL(
            "INSERT INTO notes (account_id, author_id, body) "
            "SELECT id, owner_id, 'Kick-off call with ' || name FROM accounts ORDER BY id",
            migrations.RunSQL.noop,
        ),
        # A note is readable when its account is, editable when its account is.
        migrations.RunSQL(
            "SELECT sharing.protect_child('notes', 'account_id', 'accounts')",
            "SELECT sharing.unprotect('notes')",
        ),
        # The application's login: ordinary privileges; which rows is pg_sharing's business.
        migrations.RunSQL(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO crm_app; "
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO crm_app",
            migrations.RunSQL.noop,
        ),
    ]
