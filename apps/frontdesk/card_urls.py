"""The member-facing card page, mounted at /m/ (not under /store/: members are not staff)."""

from django.urls import path

from . import card_views as views

app_name = "member_card"

urlpatterns = [path("<str:token>/", views.member_card, name="card")]
