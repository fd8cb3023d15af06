from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from .pages import store_choose, store_page

# The clerk's home screen: (label, url name). Pages that are not installed yet are left out.
MENU = [
    (_("Register a member"), "members:register"),
    (_("Find a member"), "members:find"),
    (_("Record a sale"), "orders:sale"),
    (_("Redeem a coupon"), "loyalty:redeem"),
    (_("Verify a voucher"), "orders:verify"),
    (_("Stock"), "catalog:stock"),
    (_("My day"), "stores:my_day"),
]


class StoreLoginView(auth_views.LoginView):
    template_name = "store/login.html"
    redirect_authenticated_user = True


@store_page
def home(request: HttpRequest) -> HttpResponse:
    tiles = []
    for label, name in MENU:
        try:
            tiles.append((label, reverse(name)))
        except NoReverseMatch:
            continue
    return render(request, "store/home.html", {"tiles": tiles})


@require_POST
@store_page
def choose_store(request: HttpRequest) -> HttpResponse:
    if store_choose(request, request.POST.get("store", "")) is None:
        messages.error(request, _("You do not work in that store."))
    return redirect("stores:home")
