from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from apps.core.admin import EstimatedCountPaginator, ImportAdminMixin, ReadOnlyModelAdmin, ReadOnlyTabularInline
from apps.core.dates import local_midnight
from apps.core.errors import DomainError
from apps.core.money import format_money

from .models import Order, OrderLine, Refund
from .selectors import sales_by
from .services import order_fulfil, order_refund

REFUND_POLICY = _(
    "Refunds: each line gives back what was paid for it (its share of coupon discounts already taken off), "
    "the points earned on that part are reversed (a shortfall is recorded when the balance is too low), "
    "stock goes back to the fulfilling store (or the reservation is released). Coupon policy: when an order is "
    "refunded in full, its coupons are given back if they are still valid; a partial refund keeps them spent."
)


class OrderLineInline(ReadOnlyTabularInline):
    model = OrderLine
    fields = ("position", "sku", "quantity", "unit_price", "discount", "total", "refunded_quantity", "refunded_amount")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sku")


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = ("external_id", "refund_total", "points_reversed", "points_shortfall", "created_at")


@admin.register(Order)
class OrderAdmin(ImportAdminMixin, admin.ModelAdmin):
    import_resource = "orders"
    list_display = (
        "number", "placed_at", "channel", "store", "member", "fulfilment", "status", "total_shown", "is_online"
    )  # fmt: skip
    list_filter = ("channel", "status", "fulfilment", "is_online", ("placed_at", admin.DateFieldListFilter), "store")
    search_fields = ("=number", "=external_id", "=member__phone", "=member__code")
    list_select_related = ("channel", "store", "member")
    date_hierarchy = "placed_at"
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = (OrderLineInline, RefundInline)
    actions = ("refund_in_full", "mark_fulfilled")
    readonly_fields = [f.name for f in Order._meta.fields]
    raw_id_fields = ("member",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("total"), ordering="total")
    def total_shown(self, order: Order) -> str:
        return format_money(order.total)

    @admin.action(description=_("Refund what is left of the selected orders"), permissions=["change"])
    def refund_in_full(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        done = 0
        for order in queryset.prefetch_related("lines__sku")[:100]:
            lines = [(line.sku.code, line.quantity - line.refunded_quantity) for line in order.lines.all()]
            lines = [line for line in lines if line[1] > 0]
            if not lines:
                continue
            try:
                order_refund(order=order, external_id=f"admin:{timezone.now():%Y%m%d%H%M%S}", lines=lines)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{order.number}: {exc.message}", messages.ERROR)
        self.message_user(request, _("%(n)d order(s) refunded. %(policy)s") % {"n": done, "policy": REFUND_POLICY})

    @admin.action(description=_("Mark pickup/delivery orders handed over"), permissions=["change"])
    def mark_fulfilled(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset[:100]:
            try:
                order_fulfil(order=order)
            except DomainError as exc:
                self.message_user(request, f"{order.number}: {exc.message}", messages.ERROR)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": REFUND_POLICY}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("sales/", self.admin_site.admin_view(self.sales_view), name="orders_order_sales"),
            *super().get_urls(),
        ]

    def sales_view(self, request: HttpRequest):
        """Sales credited to stores and guides for a date range, in store vs online."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        start = parse_date(request.GET.get("start", "")) or today.replace(day=1)
        end = parse_date(request.GET.get("end", "")) or today
        lo, hi = local_midnight(start), local_midnight(end + timedelta(days=1))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Sales by store and guide"),
            "opts": self.model._meta,
            "start": start,
            "end": end,
            "by_store": sales_by(group="store", start=lo, end=hi),
            "by_guide": sales_by(group="guide", start=lo, end=hi),
        }
        return TemplateResponse(request, "admin/orders/sales.html", context)


@admin.register(Refund)
class RefundAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    """Refunds are made with the orders' "Refund" action (the refund service); a refund is never edited."""

    list_display = ("order", "external_id", "refund_total_shown", "points_reversed", "points_shortfall", "created_at")
    search_fields = ("=order__number", "=external_id")
    list_select_related = ("order",)
    readonly_fields = ("order", "external_id", "refund_total", "points_reversed", "points_shortfall", "created_at")
    show_full_result_count = False

    @admin.display(description=_("refund total"), ordering="refund_total")
    def refund_total_shown(self, refund: Refund) -> str:
        return format_money(refund.refund_total)
