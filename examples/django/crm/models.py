"""Two protected tables: accounts (examples/demo_setup.sql made it and
protected it with an owner column) and notes, a child table "controlled by
parent" (migration 0001 protects it with sharing.protect_child): a note is
readable when its account is, writable when its account is."""
from django.db import models


class Account(models.Model):
    id = models.BigIntegerField(primary_key=True)
    owner_id = models.BigIntegerField()  # a sharing user id (== a Django user id here)
    name = models.TextField()
    billing_city = models.TextField(null=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        managed = False  # created by demo_setup.sql, protected there
        db_table = "accounts"


class Note(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_column="account_id",
                                related_name="notes")
    author_id = models.BigIntegerField()
    body = models.TextField()

    class Meta:
        db_table = "notes"
