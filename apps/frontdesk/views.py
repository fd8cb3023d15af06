"""Store clerk pages: thin views that parse a form, call the same services and selectors the API uses, render.

Every page is wrapped in ``store_page`` (login, staff, their stores). Member details are shown only for the
clerk's own stores' members (see ``pages.member_in_scope``); orders only for their stores' orders.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.campaigns.wechat.binding import wechat_binding_for_page
from apps.catalog.errors import UnknownSku
from apps.catalog.selectors import sku_code_for, sku_stock_here_and_nearby
from apps.core.dates import local_midnight
from apps.core.errors import DomainError
from apps.loyalty.selectors import member_coupons, points_expiring, points_mall_rewards
from apps.loyalty.services import coupon_redeem, points_mall_redeem
from apps.loyalty.wallet.selectors import wallet_balance
from apps.members.errors import MemberNotFound
from apps.members.models import Member
from apps.members.phones import phone_mask
from apps.members.selectors import member_find as member_typed
from apps.members.selectors import member_get, members_recruited_summary, tier_progress
from apps.members.services import member_register
from apps.orders.errors import OrderNotFound
from apps.orders.selectors import (
    order_in_stores,
    orders_recent_for_member,
    sale_quote,
    sales_credited_summary,
    voucher_by_code,
)
from apps.orders.services import order_create, order_verify_voucher
from apps.stores.selectors import pos_channel

from .card_links import card_link_make
from .forms import CouponRedeemForm, FindMemberForm, PointsMallForm, RegisterForm, SaleForm, StockForm, VoucherForm
from .pages import audit, friendly_error, member_in_scope, qr_svg, store_choose, store_page

# The clerk's home screen: (label, url name). Pages that are not installed yet are left out.
MENU = [
    (_("Register a member"), "stores:member_register"),
    (_("Find a member"), "stores:member_find"),
    (_("Record a sale"), "stores:sale"),
    (_("Redeem a coupon"), "stores:coupon_redeem"),
    (_("Verify a voucher"), "stores:voucher_verify"),
    (_("Stock"), "stores:stock"),
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


def _refused(request: HttpRequest, *, status: int = 403) -> HttpResponse:
    """Another store's member: a polite refusal, no personal data."""
    return render(request, "store/member_refused.html", {"not_found": status == 404}, status=status)


def _member_served_here(request: HttpRequest, code: str) -> tuple[Member | None, HttpResponse | None]:
    """The member with card ``code`` if this clerk may serve them, else the refusal page to answer with."""
    try:
        member = member_get(code=code)
    except MemberNotFound:
        return None, _refused(request, status=404)
    if not member_in_scope(request, member):
        return None, _refused(request)
    return member, None


# -- members ---------------------------------------------------------------------------------------------


@store_page
def member_register_view(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member, created = member_register(
                phone=data["phone"],
                name=data["name"],
                birthday=data["birthday"],
                store=request.store,
                channel=pos_channel(),
                guide=request.staff,
                consents={"wechat": data["consent_wechat"], "sms": data["consent_sms"]},
            )
        except DomainError as exc:
            form.add_error(None, friendly_error(exc))
        else:
            if created:
                audit(request, "member_register", member=member.code)
                return redirect("stores:member_welcome", code=member.code)
            if member_in_scope(request, member):
                messages.info(request, _("This phone number is already a member. Here are their details."))
                return redirect("stores:member_detail", code=member.code)
            return render(request, "store/member_refused.html", {"already_member": True}, status=200)
    return render(request, "store/member_register.html", {"form": form})


@store_page
def member_welcome(request: HttpRequest, code: str) -> HttpResponse:
    member, refusal = _member_served_here(request, code)
    if refusal is not None:
        return refusal
    card_url = request.build_absolute_uri(card_link_make(member_code=member.code))
    return render(
        request,
        "store/member_welcome.html",
        {
            "member": member,
            "phone": phone_mask(member.phone),
            "binding": wechat_binding_for_page(member=member, store=request.store, guide=request.staff),
            "card_url": card_url,
            "card_qr": qr_svg(card_url),
        },
    )


@store_page
def member_find(request: HttpRequest) -> HttpResponse:
    # POST, not GET: a phone number must not end up in URLs, browser history or access logs.
    form = FindMemberForm(request.POST or None)
    if form.is_bound and form.is_valid():
        try:
            member = member_typed(text=form.cleaned_data["q"])
        except DomainError as exc:
            form.add_error(None, friendly_error(exc))
        else:
            if not member_in_scope(request, member):
                return _refused(request)
            return redirect("stores:member_detail", code=member.code)
    return render(request, "store/member_find.html", {"form": form})


@store_page
def member_detail(request: HttpRequest, code: str) -> HttpResponse:
    member, refusal = _member_served_here(request, code)
    if refusal is not None:
        return refusal
    if member.code != code:  # a merged card: show the surviving member under their own code
        return redirect("stores:member_detail", code=member.code)
    expiring = points_expiring(member_id=member.pk)
    context = {
        "member": member,
        "phone": phone_mask(member.phone),
        "progress": tier_progress(member=member),
        "expiring": expiring[:3],
        "coupons": list(member_coupons(member_id=member.pk, status="available")[:20]),
        "orders": orders_recent_for_member(member_id=member.pk, limit=5),
        "rewards": list(points_mall_rewards()[:10]),
        "exchange_id": SaleForm.new_sale_id(),
        "card_url": request.build_absolute_uri(card_link_make(member_code=member.code)),
        "binding": request.GET.get("wechat")
        and wechat_binding_for_page(member=member, store=request.store, guide=request.staff),
        "wallet": wallet_balance(member_id=member.pk),
    }
    return render(request, "store/member_detail.html", context)


@require_POST
@store_page
def points_mall_exchange(request: HttpRequest, code: str) -> HttpResponse:
    member, refusal = _member_served_here(request, code)
    if refusal is not None:
        return refusal
    form = PointsMallForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a reward first."))
        return redirect("stores:member_detail", code=member.code)
    reward = form.cleaned_data["reward"]
    try:
        # The key names the staff login, so the ledger entry says who made the exchange.
        coupon = points_mall_redeem(
            member=member,
            reward_code=reward,
            idempotency_key=f"store:{request.store.code}:staff:{request.staff.code}:{form.cleaned_data['exchange_id']}",
        )
    except DomainError as exc:
        messages.error(request, friendly_error(exc))
    else:
        audit(request, "points_mall", member=member.code, reward=reward, coupon=coupon.code)
        messages.success(
            request,
            _t("Exchanged %(points)d points for “%(reward)s”. The new coupon is %(code)s.")
            % {"points": coupon.template.points_cost, "reward": coupon.template.name, "code": coupon.code},
        )
    return redirect("stores:member_detail", code=member.code)


# -- coupons ---------------------------------------------------------------------------------------------


@store_page
def coupon_redeem_view(request: HttpRequest) -> HttpResponse:
    form = CouponRedeemForm(request.POST or None, initial={"member": request.GET.get("member", "")})
    if request.method == "POST" and form.is_valid():
        named = form.cleaned_data["member"]
        try:
            member = member_typed(text=named) if named else None
            channel = pos_channel()
            coupon = coupon_redeem(
                code=form.cleaned_data["code"],
                store_id=request.store.pk,
                channel_id=channel.pk if channel else None,
                member_id=member.pk if member else None,
                amount=form.cleaned_data["amount"],
                staff_id=request.staff.pk,
            )
        except DomainError as exc:
            form.add_error(None, friendly_error(exc))
        else:
            audit(request, "coupon_redeem", coupon=coupon.code, member=member.code if member else "-")
            messages.success(
                request,
                _t("Coupon %(code)s (%(name)s) is redeemed. Give the customer the benefit.")
                % {"code": coupon.code, "name": coupon.template.name},
            )
            if member is not None:
                return redirect("stores:member_detail", code=member.code)
            return redirect("stores:coupon_redeem")
    return render(request, "store/coupon_redeem.html", {"form": form})


# -- sales and orders ------------------------------------------------------------------------------------


def _sale_render(request: HttpRequest, form: SaleForm, member, lines: list[tuple[str, int]]) -> HttpResponse:
    """The sale screen with the prices checked: the same price list and coupon rules as order_create."""
    context: dict = {"form": form}
    data = form.cleaned_data
    try:
        quote = sale_quote(
            lines=lines,
            channel_id=pos_channel().pk,
            store_id=request.store.pk,
            member_id=member.pk if member else None,
            tier_id=member.tier_id if member else None,
            coupon_codes=[data["coupon"]] if data["coupon"] else [],
        )
    except DomainError as exc:
        form.add_error(None, friendly_error(exc))
        return render(request, "store/sale.html", context)
    refused = [(e.code, e.reason) for e in quote["coupons"] if not e.applies]
    context.update({"quote": quote, "member": member, "refused": refused})
    if member is not None:
        context["wallet_balance"] = wallet_balance(member_id=member.pk).balance
        context["member_label"] = member.code[-4:]
        context["member_in_scope"] = member_in_scope(request, member)
    return render(request, "store/sale.html", context)


@store_page
def sale(request: HttpRequest) -> HttpResponse:
    """Scan or type items, attach a member and a coupon, check the prices, then record the sale."""
    if request.method != "POST":
        form = SaleForm(initial={"sale_id": SaleForm.new_sale_id(), "member": request.GET.get("member", "")})
        return render(request, "store/sale.html", {"form": form})
    form = SaleForm(request.POST)
    if not form.is_valid():
        return render(request, "store/sale.html", {"form": form})
    data = form.cleaned_data
    try:
        member = member_typed(text=data["member"]) if data["member"] else None
        resolved: dict[str, int] = {}  # a typed code and a scanned barcode of the same SKU are one line
        for entry, quantity in data["items"]:
            code = sku_code_for(entry=entry)
            resolved[code] = resolved.get(code, 0) + quantity
    except UnknownSku as exc:
        form.add_error("items", _t("Unknown item: %(codes)s") % {"codes": ", ".join(exc.codes) or "?"})
        return render(request, "store/sale.html", {"form": form})
    except DomainError as exc:
        form.add_error(None, friendly_error(exc))
        return render(request, "store/sale.html", {"form": form})
    lines = list(resolved.items())
    if request.POST.get("action") != "record":
        return _sale_render(request, form, member, lines)
    try:
        payments = _sale_payments(request, data, member, lines)
        # order_create prices and checks the coupon itself: the sale is booked at the price list's prices.
        order, _created = order_create(
            channel=pos_channel(),
            external_id=f"clerk-{data['sale_id']}",
            lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
            store=request.store.code,
            member={"code": member.code} if member else None,
            guide=request.staff.code,
            coupon_codes=[data["coupon"]] if data["coupon"] else [],
            payment_method="counter",
            payments=payments,
        )
    except DomainError as exc:
        form.add_error(None, friendly_error(exc))
        return _sale_render(request, form, member, lines)
    audit(request, "sale", order=order.number, total=order.total, member=member.code if member else "-")
    messages.success(request, _t("Sale recorded: order %(number)s.") % {"number": order.number})
    return redirect("stores:order_detail", number=order.number)


def _sale_payments(request: HttpRequest, data: dict, member, lines: list[tuple[str, int]]) -> list[dict] | None:
    """Part or all of the sale from the member card, the rest by the chosen method (None: no card payment)."""
    wallet = data.get("wallet_amount")
    if not wallet or member is None:
        return None
    quote = sale_quote(
        lines=lines,
        channel_id=pos_channel().pk,
        store_id=request.store.pk,
        member_id=member.pk,
        tier_id=member.tier_id,
        coupon_codes=[data["coupon"]] if data["coupon"] else [],
    )
    rest = quote["total"] - wallet
    payments = [{"method": "wallet", "amount": wallet}]
    if rest > 0:
        payments.append({"method": data.get("rest_method") or "cash", "amount": rest})
    return payments


@store_page
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    try:
        order = order_in_stores(number=number, store_ids=request.staff_store_ids)
    except OrderNotFound:
        return render(request, "store/order_missing.html", status=404)
    return render(request, "store/order_detail.html", {"order": order})


@store_page
def voucher_verify(request: HttpRequest) -> HttpResponse:
    form = VoucherForm(request.POST or None)
    context: dict = {"form": form}
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        try:
            voucher = voucher_by_code(verification_code=code)
        except OrderNotFound:
            form.add_error(None, _t("No voucher has this code. Check the digits and try again."))
            return render(request, "store/voucher_verify.html", context)
        try:
            order = order_verify_voucher(number=voucher.number, verification_code=code, store=request.store.code)
        except DomainError as exc:
            form.add_error(None, friendly_error(exc))
            return render(request, "store/voucher_verify.html", context)
        audit(request, "voucher_verify", order=order.number)
        context.update({"verified": voucher, "form": VoucherForm()})
    return render(request, "store/voucher_verify.html", context)


# -- stock and my day ------------------------------------------------------------------------------------


@store_page
def stock(request: HttpRequest) -> HttpResponse:
    form = StockForm(request.GET or None)
    context: dict = {"form": form}
    if form.is_bound and form.is_valid():
        try:
            context["result"] = sku_stock_here_and_nearby(code=form.cleaned_data["sku"], store=request.store)
        except DomainError as exc:
            form.add_error(None, friendly_error(exc))
    return render(request, "store/stock.html", context)


@store_page
def my_day(request: HttpRequest) -> HttpResponse:
    now = timezone.now().astimezone(ZoneInfo(request.store.timezone))
    day_start = local_midnight(now.date(), now.tzinfo)
    month_start = day_start.replace(day=1)
    args = {"store_id": request.store.pk, "guide_id": request.staff.pk, "day_start": day_start}
    context = {
        "today": day_start.date(),
        "members": members_recruited_summary(**args, month_start=month_start),
        "sales": sales_credited_summary(**args, month_start=month_start),
    }
    return render(request, "store/my_day.html", context)
