"""The catalog console: products with their SKUs, the price list, member prices, stock, deviations."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.db.models import DecimalField, F, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from import_export.admin import ExportMixin

from apps.core.admin import EstimatedCountPaginator, ImportAdminMixin, ReadOnlyModelAdmin, ReadOnlyTabularInline
from apps.core.dates import local_midnight
from apps.core.money import format_money

from .models import (
    Category,
    ChannelListing,
    PriceChange,
    PriceDeviation,
    Product,
    Sku,
    Stock,
    StockMovement,
    TierPrice,
)
from .selectors import price_deviations, sku_current_price
from .services import (
    price_change_cancel,
    price_change_schedule,
    price_change_update,
    stock_set_quantity,
    tier_price_remove,
    tier_price_set,
)

MONEY_FIELD = DecimalField(max_digits=12, decimal_places=2)


def _current_price() -> Subquery:
    return sku_current_price()


# --- export resources (columns as the import takes them, so an export can be edited and imported) -------


class SkuResource(resources.ModelResource):
    sku = fields.Field(attribute="code", column_name="sku")
    product = fields.Field(attribute="product__code", column_name="product")
    category = fields.Field(attribute="product__category__code", column_name="category")
    price = fields.Field(attribute="list_price", column_name="price")
    active = fields.Field(attribute="is_active", column_name="active")

    class Meta:
        model = Sku
        fields = ("sku", "product", "name", "category", "barcode", "price", "active")
        export_order = fields


class PriceChangeResource(resources.ModelResource):
    sku = fields.Field(attribute="sku__code", column_name="sku")

    class Meta:
        model = PriceChange
        fields = ("sku", "price", "valid_from")
        export_order = fields


class TierPriceResource(resources.ModelResource):
    sku = fields.Field(attribute="sku__code", column_name="sku")
    tier = fields.Field(attribute="tier__code", column_name="tier")

    class Meta:
        model = TierPrice
        fields = ("sku", "tier", "price")
        export_order = fields


class StockResource(resources.ModelResource):
    store = fields.Field(attribute="store__code", column_name="store")
    sku = fields.Field(attribute="sku__code", column_name="sku")
    quantity = fields.Field(attribute="on_hand", column_name="quantity")

    class Meta:
        model = Stock
        fields = ("store", "sku", "quantity", "reserved")
        export_order = fields


# --- categories and products ----------------------------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "parent")
    list_select_related = ("parent",)
    search_fields = ("=code", "name")
    autocomplete_fields = ("parent",)


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 0
    fields = ("code", "name", "barcode", "attributes", "is_active", "list_price", "sku_link")
    readonly_fields = ("list_price", "sku_link")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sku]:
        return super().get_queryset(request).annotate(list_price=_current_price())

    @admin.display(description=_("price now"))
    def list_price(self, obj: Sku):
        return format_money(getattr(obj, "list_price", None)) or None

    @admin.display(description=_("price history"))
    def sku_link(self, obj: Sku) -> str:
        if not obj.pk:
            return ""
        return format_html('<a href="{}">{}</a>', reverse("admin:catalog_sku_change", args=[obj.pk]), _("prices"))


@admin.register(Product)
class ProductAdmin(ImportAdminMixin, admin.ModelAdmin):
    import_resource = "skus"  # products are created and updated by the skus file (its product column)
    list_display = ("code", "name", "brand", "category", "created_at")
    list_filter = ("category",)
    list_select_related = ("category",)
    search_fields = ("=code", "^name", "=brand")
    search_help_text = _("Exact style code or brand, or the start of the name.")
    autocomplete_fields = ("category",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    inlines = [SkuInline]


# --- SKUs with their prices and stock -------------------------------------------------------------------


class PriceHistoryInline(admin.TabularInline):
    """Every entry of the SKU's price list, newest first; history is read-only (schedule new changes)."""

    model = PriceChange
    extra = 0
    fields = ("valid_from", "price", "status", "source", "created_by", "note")
    readonly_fields = fields
    ordering = ("-valid_from",)
    can_delete = False
    show_change_link = True
    verbose_name = _("price list entry")
    verbose_name_plural = _("price history and upcoming changes")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PriceChange]:
        return super().get_queryset(request).select_related("created_by")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("status"))
    def status(self, obj: PriceChange) -> str:
        return _("upcoming") if obj.valid_from > timezone.now() else _("taken effect")


class TierPriceForm(forms.ModelForm):
    """A member price as ``tier_price_set`` takes it: setting one for a tier that has one replaces it."""

    class Meta:
        model = TierPrice
        fields = ("sku", "tier", "price")

    def _get_validation_exclusions(self):
        # One price per SKU and tier: the service replaces the existing one, so the unique constraint is not
        # a form error here (the price's own check still is).
        return super()._get_validation_exclusions() | {"tier"}


class TierPriceInline(admin.TabularInline):
    model = TierPrice
    form = TierPriceForm
    extra = 0
    fields = ("tier", "price", "updated_at")
    readonly_fields = ("updated_at",)
    verbose_name_plural = _("member prices (the lower of it and the list price applies)")


def _tier_price_save(obj: TierPrice) -> None:
    """Write a console-entered member price through the service; ``obj`` takes the saved row's id."""
    if obj.pk:
        previous = TierPrice.objects.filter(pk=obj.pk).values_list("sku_id", "tier_id").first()
        if previous and previous != (obj.sku_id, obj.tier_id):
            tier_price_remove(sku_id=previous[0], tier_id=previous[1])
    saved = tier_price_set(sku=obj.sku, tier_id=obj.tier_id, price=obj.price)
    obj.pk, obj.updated_at = saved.pk, saved.updated_at
    obj._state.adding = False


class StockInline(ReadOnlyTabularInline):
    model = Stock
    fields = ("store", "on_hand", "reserved", "available", "updated_at")
    ordering = ("store__code",)
    show_change_link = True
    verbose_name_plural = _("stock by store")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stock]:
        return super().get_queryset(request).select_related("store")

    @admin.display(description=_("available"))
    def available(self, obj: Stock) -> int:
        return obj.available


@admin.register(Sku)
class SkuAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    import_resource = "skus"
    resource_classes = [SkuResource]
    list_display = ("code", "name", "product", "category", "barcode", "list_price", "is_active")
    list_filter = ("is_active", "product__category")
    list_select_related = ("product", "product__category")
    search_fields = ("=code",)  # see get_search_results
    search_help_text = _("Exact SKU code or barcode, or the start of the name (case-sensitive).")
    autocomplete_fields = ("product",)
    readonly_fields = ("price_now", "schedule_price_change", "created_at")
    fieldsets = (
        (None, {"fields": ("code", "product", "name", "barcode", "attributes", "is_active")}),
        (
            _("Price"),
            {
                "fields": ("price_now", "schedule_price_change"),
                "description": _(
                    "One list price for every channel. A change is scheduled with a start time and takes effect "
                    "at that instant; history cannot be edited. The skus import's price column sets the price "
                    "effective at once (for a new SKU its first price; for an existing SKU a change now if it "
                    "differs); upcoming scheduled changes stay as they are."
                ),
            },
        ),
    )
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    inlines = [PriceHistoryInline, TierPriceInline, StockInline]

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not TierPrice:
            return super().save_formset(request, form, formset, change)
        # Member prices go through their services; the other inlines are read-only.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.initial_forms + formset.extra_forms:
            if not inline_form.has_changed() and inline_form.instance.pk is None:
                continue
            obj = inline_form.instance
            if formset.can_delete and formset._should_delete_form(inline_form):
                if obj.pk:
                    tier_price_remove(sku_id=obj.sku_id, tier_id=obj.tier_id)
                    formset.deleted_objects.append(obj)
                continue
            if not inline_form.has_changed():
                continue
            is_new = obj.pk is None
            obj.sku = form.instance
            _tier_price_save(obj)
            if is_new:
                formset.new_objects.append(obj)
            else:
                formset.changed_objects.append((obj, inline_form.changed_data))
        return None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sku]:
        return super().get_queryset(request).annotate(list_price=_current_price())

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Sku], search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Each branch is an index probe: unique code, unique barcode, name prefix (varchar_pattern_ops).
        return queryset.filter(Q(code=term) | Q(barcode=term) | Q(name__startswith=term)), False

    @admin.display(description=_("category"), ordering="product__category__code")
    def category(self, obj: Sku):
        return obj.product.category

    @admin.display(description=_("price now"), ordering="list_price")
    def list_price(self, obj: Sku):
        return format_money(obj.list_price) or None

    @admin.display(description=_("price now"))
    def price_now(self, obj: Sku):
        return format_money(getattr(obj, "list_price", None)) or None if obj.pk else None

    @admin.display(description=_("schedule"))
    def schedule_price_change(self, obj: Sku) -> str:
        if not obj.pk:
            return ""
        url = reverse("admin:catalog_pricechange_add") + f"?sku={obj.pk}"
        return format_html('<a class="addlink" href="{}">{}</a>', url, _("Schedule a price change"))


# --- the price list -------------------------------------------------------------------------------------


class PriceStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("upcoming", _("Upcoming")), ("effective", _("Taken effect")))

    def queryset(self, request, queryset):
        if self.value() == "upcoming":
            return queryset.filter(valid_from__gt=timezone.now())
        if self.value() == "effective":
            return queryset.filter(valid_from__lte=timezone.now())
        return queryset


@admin.register(PriceChange)
class PriceChangeAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    """Schedule, move or cancel upcoming changes; entries that took effect are history and read-only."""

    import_resource = "price_changes"
    resource_classes = [PriceChangeResource]
    list_display = ("sku", "price", "valid_from", "is_upcoming", "source", "created_by", "created_at")
    list_filter = (PriceStatusFilter, "source")
    list_select_related = ("sku", "created_by")
    search_fields = ("=sku__code",)
    search_help_text = _("Exact SKU code.")
    autocomplete_fields = ("sku",)
    fields = ("sku", "price", "valid_from", "note")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    date_hierarchy = None
    actions = ["cancel_upcoming"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        # Price changes usually start at midnight; the past is refused.
        tomorrow = timezone.localdate() + timedelta(days=1)
        initial.setdefault("valid_from", local_midnight(tomorrow))
        return initial

    @admin.display(description=_("upcoming"), boolean=True)
    def is_upcoming(self, obj: PriceChange) -> bool:
        return obj.valid_from > timezone.now()

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # history cannot be deleted; upcoming changes are cancelled
        return actions

    def has_change_permission(self, request: HttpRequest, obj: PriceChange | None = None) -> bool:
        if obj is not None and obj.valid_from <= timezone.now():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: PriceChange | None = None) -> bool:
        if obj is not None and obj.valid_from <= timezone.now():
            return False
        return super().has_delete_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change, **kwargs)

        class PriceChangeForm(base):
            """The service's rules, shown on the form instead of as an error page."""

            def clean(self):
                cleaned = super().clean()
                valid_from, price = cleaned.get("valid_from"), cleaned.get("price")
                if valid_from is not None and valid_from < timezone.now():
                    self.add_error("valid_from", _("A price change cannot start in the past."))
                if price is not None and price < 0:
                    self.add_error("price", _("A price cannot be negative."))
                return cleaned

        return PriceChangeForm

    def save_model(self, request: HttpRequest, obj: PriceChange, form, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = price_change_update(
                change=obj, price=data["price"], valid_from=data["valid_from"], user=request.user, note=data["note"]
            )
        else:
            saved = price_change_schedule(
                sku=data["sku"],
                price=data["price"],
                valid_from=data["valid_from"],
                user=request.user,
                source=PriceChange.Source.ADMIN,
                note=data["note"],
            )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: PriceChange) -> None:
        price_change_cancel(change=obj)

    @admin.action(description=_("Cancel selected upcoming price changes"), permissions=["delete"])
    def cancel_upcoming(self, request: HttpRequest, queryset: QuerySet[PriceChange]) -> None:
        selected = queryset.count()
        upcoming = list(queryset.filter(valid_from__gt=timezone.now()))
        for change in upcoming:
            price_change_cancel(change=change)
        skipped = selected - len(upcoming)
        self.message_user(
            request,
            _("Cancelled %(n)d upcoming change(s); %(skipped)d that took effect were left as history.")
            % {"n": len(upcoming), "skipped": skipped},
        )


@admin.register(TierPrice)
class TierPriceAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    import_resource = "tier_prices"
    resource_classes = [TierPriceResource]
    list_display = ("sku", "tier", "price", "updated_at")
    list_filter = ("tier",)
    list_select_related = ("sku", "tier")
    search_fields = ("=sku__code",)
    autocomplete_fields = ("sku",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    form = TierPriceForm

    def save_model(self, request: HttpRequest, obj: TierPrice, form, change: bool) -> None:
        _tier_price_save(obj)

    def delete_model(self, request: HttpRequest, obj: TierPrice) -> None:
        tier_price_remove(sku_id=obj.sku_id, tier_id=obj.tier_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TierPrice]) -> None:
        for sku_id, tier_id in queryset.values_list("sku_id", "tier_id"):
            tier_price_remove(sku_id=sku_id, tier_id=tier_id)


# --- stock ----------------------------------------------------------------------------------------------


@admin.register(Stock)
class StockAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    """Stock by store. Quantities change through sales, refunds, transfers, imports and counts entered here,
    each recorded as a movement."""

    import_resource = "stock"
    resource_classes = [StockResource]
    list_display = ("store", "sku", "on_hand", "reserved", "available", "updated_at")
    list_filter = ("store__city", "store__kind")
    list_select_related = ("store", "sku")
    search_fields = ("=store__code", "=sku__code", "=sku__barcode")
    search_help_text = _("Exact store code, SKU code or barcode.")
    fields = ("store", "sku", "on_hand", "reserved", "updated_at")
    readonly_fields = ("store", "sku", "reserved", "updated_at")
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Rows arrive by import, transfer or refund, never by an add form; the import page needs "add".
        match = getattr(request, "resolver_match", None)
        return bool(match and match.url_name == "catalog_stock_import_file") and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("available"), ordering=F("on_hand") - F("reserved"))
    def available(self, obj: Stock) -> int:
        return obj.available

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change, **kwargs)

        class StockCountForm(base):
            def clean_on_hand(self):
                on_hand = self.cleaned_data["on_hand"]
                if on_hand < 0:
                    raise forms.ValidationError(_("A quantity cannot be negative."))
                if self.instance.pk and on_hand < self.instance.reserved:
                    raise forms.ValidationError(
                        _("%(n)d are reserved; the quantity on hand cannot be less.") % {"n": self.instance.reserved}
                    )
                return on_hand

        return StockCountForm

    def save_model(self, request: HttpRequest, obj: Stock, form, change: bool) -> None:
        stock_set_quantity(
            store_id=obj.store_id, sku_id=obj.sku_id, quantity=obj.on_hand, reference=f"count by {request.user}"
        )


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = ("created_at", "store", "sku", "kind", "on_hand_delta", "reserved_delta", "reference")
    list_filter = ("kind",)
    list_select_related = ("store", "sku")
    search_fields = ("=reference", "=sku__code", "=store__code")
    search_help_text = _("Exact reference, SKU code or store code.")
    ordering = ("-id",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False


# --- price consistency across channels ------------------------------------------------------------------


@admin.register(ChannelListing)
class ChannelListingAdmin(admin.ModelAdmin):
    list_display = ("channel", "sku", "listed_price", "reported_at")
    list_filter = ("channel",)
    list_select_related = ("channel", "sku")
    search_fields = ("=sku__code",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(PriceDeviation)
class PriceDeviationAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    """Every channel listing that differs from the unified price now, by channel, for an operator to fix."""

    list_display = ("channel", "sku", "listed_price", "unified_price", "difference", "reported_at")
    list_filter = ("channel",)
    search_fields = ("=sku__code",)
    ordering = ("channel__code", "sku__code")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChannelListing]:
        return price_deviations(queryset=PriceDeviation.objects.all())

    @admin.display(description=_("unified price"), ordering="unified_price")
    def unified_price(self, obj: ChannelListing):
        return format_money(obj.unified_price)

    @admin.display(description=_("difference"))
    def difference(self, obj: ChannelListing):
        if obj.unified_price is None:
            return _("SKU has no price")
        return format_money(obj.listed_price - obj.unified_price)
