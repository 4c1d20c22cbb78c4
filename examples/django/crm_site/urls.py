from django.urls import path

from crm import views

urlpatterns = [
    path("login/", views.login_view),
    path("accounts/", views.accounts),
    path("accounts/stream/", views.accounts_stream),
    path("accounts/<int:account_id>/rename/", views.rename_account),
    path("accounts/<int:account_id>/notes/", views.add_note),
    path("accounts/<int:account_id>/notes-then-fail/", views.add_note_then_fail),
    path("notes/", views.notes),
]
