"""The wallet in the console: recharge rules, the ledger (recharge, adjust, close a card, check), the
liability report with CSV. Every write goes through the wallet services."""

from __future__ import annotations

import csv
import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from apps.core.admin import EstimatedCountPaginator
from apps.core.errors import DomainError
from apps.members.errors import InvalidPhone, MemberNotFound
from apps.members.models import Member
from apps.members.selectors import member_get
from apps.stores.models import Store

from .models import PaymentMethod, RechargeRule, WalletEntry
from .selectors import wallet_ledger_mismatches, wallet_liability
from .services import wallet_adjust, wallet_recharge, wallet_withdraw


class _MemberForm(forms.Form):
    member = forms.CharField(label=_("Member code or phone"), max_length=32)
    request_id = forms.CharField(widget=forms.HiddenInput)

    def clean_member(self) -> Member:
        term = self.cleaned_data["member"].strip()
        try:
            return member_get(code=term) if term.isdigit() and len(term) == 12 else member_get(phone=term)
        except (MemberNotFound, InvalidPhone):
            try:
                return member_get(code=term)
            except MemberNotFound as exc:
                raise forms.ValidationError(exc.message) from None


class RechargeForm(_MemberForm):
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2)
    payment_method = forms.ChoiceField(label=_("Paid by"), choices=PaymentMethod.choices)
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.filter(is_active=True), required=False)


class AdjustForm(_MemberForm):
    principal = forms.DecimalField(label=_("Principal (negative to take away)"), max_digits=12, decimal_places=2)
    bonus = forms.DecimalField(label=_("Bonus (negative to take away)"), max_digits=12, decimal_places=2)
    reason = forms.CharField(label=_("Reason"), max_length=255)


class WithdrawForm(_MemberForm):
    payment_method = forms.ChoiceField(label=_("Principal paid back by"), choices=PaymentMethod.choices)
    reason = forms.CharField(label=_("Reason"), max_length=255)


@admin.register(RechargeRule)
class RechargeRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "min_amount", "bonus", "bonus_valid_days", "valid_from", "valid_until", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name",)
    filter_horizontal = ("tiers",)


@admin.register(WalletEntry)
class WalletEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "member",
        "kind",
        "amount",
        "principal",
        "bonus",
        "balance_after",
        "payment_method",
        "reference",
        "created_by",
    )
    list_filter = ("kind", "payment_method")
    list_select_related = ("member", "created_by")
    search_fields = ("=member__code", "=idempotency_key", "=reference")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    change_list_template = "admin/loyalty/walletentry_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the ledger is append-only

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("recharge/", view(self.recharge_view), name="loyalty_walletentry_recharge"),
            path("adjust/", view(self.adjust_view), name="loyalty_walletentry_adjust"),
            path("withdraw/", view(self.withdraw_view), name="loyalty_walletentry_withdraw"),
            path("check/", view(self.check_view), name="loyalty_walletentry_check"),
            path("liability/", view(self.liability_view), name="loyalty_walletentry_liability"),
            *super().get_urls(),
        ]

    def _form_page(self, request, form_class, *, perm: str, title: Any, book) -> HttpResponse:
        if not request.user.has_perm(perm):
            raise PermissionDenied
        form = form_class(request.POST or None, initial={"request_id": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            try:
                # The form's own id is the idempotency key: a double-submitted form books once.
                message = book(form.cleaned_data, f"console:{form.cleaned_data['request_id']}")
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, message)
                return HttpResponseRedirect(reverse("admin:loyalty_walletentry_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "title": title}
        return TemplateResponse(request, "admin/loyalty/wallet_form.html", context)

    def recharge_view(self, request: HttpRequest) -> HttpResponse:
        def book(data, key):
            store = data["store"]
            result = wallet_recharge(
                member=data["member"],
                amount=data["amount"],
                payment_method=data["payment_method"],
                idempotency_key=key,
                store_id=store.pk if store else None,
                user=request.user,
            )
            return _("Recharged %(amount)s (bonus %(bonus)s) for %(member)s; balance %(balance)s.") % {
                "amount": result.amount,
                "bonus": result.bonus,
                "member": data["member"].code,
                "balance": result.balance,
            }

        return self._form_page(
            request, RechargeForm, perm="loyalty.adjust_wallet", title=_("Recharge a member card"), book=book
        )

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        def book(data, key):
            entry = wallet_adjust(
                member=data["member"],
                principal=data["principal"],
                bonus=data["bonus"],
                reason=data["reason"],
                user=request.user,
                idempotency_key=key,
            )
            return _("Adjusted %(member)s's card by %(amount)s; balance %(balance)s.") % {
                "member": data["member"].code,
                "amount": entry.amount,
                "balance": entry.balance_after,
            }

        return self._form_page(
            request, AdjustForm, perm="loyalty.adjust_wallet", title=_("Adjust a member card"), book=book
        )

    def withdraw_view(self, request: HttpRequest) -> HttpResponse:
        def book(data, key):
            entry = wallet_withdraw(
                member=data["member"],
                reason=data["reason"],
                user=request.user,
                idempotency_key=key,
                payment_method=data["payment_method"],
            )
            return _("Card of %(member)s closed: %(principal)s paid back, %(bonus)s bonus forfeited.") % {
                "member": data["member"].code,
                "principal": -entry.principal,
                "bonus": -entry.bonus,
            }

        return self._form_page(
            request,
            WithdrawForm,
            perm="loyalty.withdraw_wallet",
            title=_("Refund the unused balance (close the card)"),
            book=book,
        )

    def check_view(self, request: HttpRequest) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Wallets against the ledger"),
            "mismatches": wallet_ledger_mismatches(),
        }
        return TemplateResponse(request, "admin/loyalty/wallet_check.html", context)

    def liability_view(self, request: HttpRequest) -> HttpResponse:
        store = Store.objects.filter(code=request.GET.get("store", "")).first()
        rows = wallet_liability(store_id=store.pk if store else None)
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="wallet-liability.csv"'
            writer = csv.writer(response)
            writer.writerow(
                [
                    "store", "month", "recharged", "bonus_granted", "spent_principal", "spent_bonus", "withdrawn",
                    "breakage", "outstanding_principal", "outstanding_bonus",
                ]
            )  # fmt: skip
            for r in rows:
                writer.writerow(
                    [
                        r.store, f"{r.month:%Y-%m}", r.recharged, r.bonus_granted, r.spent_principal, r.spent_bonus,
                        r.withdrawn, r.breakage, r.outstanding_principal, r.outstanding_bonus,
                    ]
                )  # fmt: skip
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Stored value owed to members (liability)"),
            "rows": rows,
            "stores": Store.objects.order_by("code").values_list("code", flat=True),
            "store": store.code if store else "",
        }
        return TemplateResponse(request, "admin/loyalty/wallet_liability.html", context)
