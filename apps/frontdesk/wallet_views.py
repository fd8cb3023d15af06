"""Clerk page: recharge a member's card at the counter (paid by cash, bank card or WeChat Pay), through the
same wallet service as the API and the console. A module of its own, beside the other clerk pages."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError
from apps.loyalty.wallet.selectors import wallet_balance
from apps.loyalty.wallet.services import wallet_recharge
from apps.members.errors import MemberNotFound
from apps.members.selectors import member_get

from .pages import audit, friendly_error, member_in_scope, store_page


class CounterRechargeForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to recharge"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "autofocus": True}),
    )
    payment_method = forms.ChoiceField(
        label=_("Paid by"), choices=[("cash", _("Cash")), ("card", _("Bank card")), ("wechat_pay", _("WeChat Pay"))]
    )
    # One per screen: pressing the button twice books the recharge once.
    recharge_id = forms.CharField(widget=forms.HiddenInput, max_length=64)


@store_page
def wallet_recharge_view(request: HttpRequest, code: str) -> HttpResponse:
    try:
        member = member_get(code=code)
    except MemberNotFound:
        return render(request, "store/member_refused.html", {"not_found": True}, status=404)
    if not member_in_scope(request, member):
        return render(request, "store/member_refused.html", {}, status=403)
    form = CounterRechargeForm(request.POST or None, initial={"recharge_id": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        store, staff = request.store, request.staff  # type: ignore[attr-defined]  # set by store_page
        try:
            result = wallet_recharge(
                member=member,
                amount=data["amount"],
                payment_method=data["payment_method"],
                idempotency_key=f"store:{store.code}:{data['recharge_id']}",
                store_id=store.pk,
                reference=f"counter {store.code} staff {staff.code}",
                user=request.user,
            )
        except DomainError as exc:
            form.add_error(None, friendly_error(exc))
        else:
            audit(request, "wallet_recharge", member=member.code, amount=result.amount, bonus=result.bonus)
            messages.success(
                request,
                _t("Recharged ¥%(amount)s (bonus ¥%(bonus)s). The card now holds ¥%(balance)s.")
                % {"amount": result.amount, "bonus": result.bonus, "balance": result.balance},
            )
            return redirect("stores:member_detail", code=member.code)
    context = {"form": form, "member": member, "wallet": wallet_balance(member_id=member.pk)}
    return render(request, "store/wallet_recharge.html", context)
