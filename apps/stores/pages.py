"""What every store clerk page shares: who the clerk is and which store they are serving.

A clerk page is wrapped in ``store_page``: it needs a logged-in, active staff member with the
``stores.use_store_pages`` permission and at least one store; ``request.staff`` and ``request.store``
are then set. Queries in clerk pages are scoped to ``request.staff_store_ids``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Store
from .selectors import staff_for_user

SESSION_STORE_KEY = "store_code"


def store_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        staff = staff_for_user(request.user)
        if staff is None or not staff.is_active or not request.user.has_perm("stores.use_store_pages"):
            return render(request, "store/not_store_staff.html", status=403)
        stores = list(staff.stores.filter(is_active=True).order_by("code"))
        if not stores:
            return render(request, "store/not_store_staff.html", {"no_store": True}, status=403)
        chosen = request.session.get(SESSION_STORE_KEY)
        request.staff = staff
        request.staff_stores = stores
        request.staff_store_ids = [s.pk for s in stores]
        request.store = next((s for s in stores if s.code == chosen), stores[0])
        return view(request, *args, **kwargs)

    return wrapper


def store_choose(request: HttpRequest, code: str) -> Store | None:
    """Switch the store a clerk is serving, among their own stores only."""
    store = next((s for s in request.staff_stores if s.code == code), None)
    if store is not None:
        request.session[SESSION_STORE_KEY] = store.code
        request.store = store
    return store
