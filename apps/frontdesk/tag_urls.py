from django.urls import path

from . import tag_views as views

app_name = "insights"

urlpatterns = [
    path("members/<str:code>/tags/", views.member_tags, name="member_tags"),
]
