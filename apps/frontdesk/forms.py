"""Forms of the clerk pages: they parse and check what was typed; the services decide the rest."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

# "SKU", "SKU ×2", "SKU*2", "SKU x2" or "SKU 2" (SKU codes may themselves contain an X, as in TEE-XL).
LINE = re.compile(r"^(?P<sku>\S+?)(?:\s*[*×]\s*(?P<q1>\d+)|\s+[xX]?(?P<q2>\d+))?$")
MAX_LINES = 50


class RegisterForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone"), max_length=32, widget=forms.TextInput(attrs={"inputmode": "tel", "autofocus": True})
    )
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    birthday = forms.DateField(
        label=_("Birthday (optional)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    # One checkbox per purpose (PIPL): the customer may agree to one channel and not the other.
    consent_wechat = forms.BooleanField(
        label=_(
            "The customer agrees to receive offers and news from us on WeChat. They can withdraw this at any time."
        ),
        required=False,
    )
    consent_sms = forms.BooleanField(
        label=_("The customer agrees to receive offers and news from us by SMS. They can withdraw this at any time."),
        required=False,
    )


class FindMemberForm(forms.Form):
    q = forms.CharField(
        label=_("Phone number or member code"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "autofocus": True}),
    )


class CouponRedeemForm(forms.Form):
    code = forms.CharField(
        label=_("Coupon code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off", "autofocus": True}),
    )
    member = forms.CharField(label=_("Member card or phone (for a member's own coupon)"), required=False, max_length=32)
    amount = forms.DecimalField(
        label=_("Purchase amount (for a coupon with a minimum spend)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )

    def clean_code(self) -> str:
        return re.sub(r"[\s-]", "", self.cleaned_data["code"]).upper()


class SaleForm(forms.Form):
    items = forms.CharField(
        label=_("Items: one SKU code or barcode per line, add ×2 for two"),
        widget=forms.Textarea(attrs={"rows": 4, "autocapitalize": "characters", "autocomplete": "off"}),
    )
    member = forms.CharField(label=_("Member phone or code (optional)"), max_length=40, required=False)
    coupon = forms.CharField(label=_("Coupon code (optional)"), max_length=40, required=False)
    wallet_amount = forms.DecimalField(
        label=_("Pay from the member card (optional)"), max_digits=12, decimal_places=2, min_value=0, required=False
    )
    rest_method = forms.ChoiceField(
        label=_("The rest is paid by"),
        choices=[
            ("cash", _("Cash")),
            ("card", _("Bank card")),
            ("wechat_pay", _("WeChat Pay")),
            ("alipay", _("Alipay")),
        ],
        initial="cash",
        required=False,
    )
    # One per sale screen: pressing "Record" twice books the sale once (order_create is idempotent on it).
    sale_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    @staticmethod
    def new_sale_id() -> str:
        return uuid.uuid4().hex

    def clean_items(self) -> list[tuple[str, int]]:
        lines: dict[str, int] = {}
        for raw in self.cleaned_data["items"].splitlines():
            if not raw.strip():
                continue
            match = LINE.match(raw.strip())
            quantity = int(match.group("q1") or match.group("q2") or 1) if match else 0
            if not match or not 0 < quantity <= 999:
                raise forms.ValidationError(_("Could not read the line “%(line)s”."), params={"line": raw.strip()})
            sku = match.group("sku").upper()
            lines[sku] = lines.get(sku, 0) + quantity
        if not lines:
            raise forms.ValidationError(_("Add at least one item."))
        if len(lines) > MAX_LINES:
            raise forms.ValidationError(_("At most %(n)d different items in one sale."), params={"n": MAX_LINES})
        return list(lines.items())

    def clean_coupon(self) -> str:
        return re.sub(r"[\s-]", "", self.cleaned_data["coupon"]).upper()


class VoucherForm(forms.Form):
    code = forms.CharField(
        label=_("Verification code"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "autofocus": True}),
    )

    def clean_code(self) -> str:
        return "".join(ch for ch in self.cleaned_data["code"] if ch.isdigit())


class StockForm(forms.Form):
    sku = forms.CharField(
        label=_("SKU code or barcode"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off", "autofocus": True}),
    )


class PointsMallForm(forms.Form):
    reward = forms.CharField(max_length=32)
    exchange_id = forms.CharField(max_length=64)
