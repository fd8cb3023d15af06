from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "stores"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.StoreLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="stores:login"), name="logout"),
    path("choose-store/", views.choose_store, name="choose_store"),
]
