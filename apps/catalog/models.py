"""Catalog: categories, products (styles) and SKUs, one price list for every channel, member prices,
stock per store changed only through recorded movements, and what channels report they list SKUs at."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.members.models import Tier
from apps.stores.models import Channel, Store

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


class Category(models.Model):
    """A node of the category tree (e.g. Shoes > Running)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ("code",)
        constraints = [models.CheckConstraint(condition=~Q(parent=F("pk")), name="category_not_own_parent")]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A style (SPU): what a customer calls "the model"; its sellable variants are SKUs."""

    code = models.CharField(_("style code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="products", verbose_name=_("category")
    )
    description = models.TextField(_("description"), blank=True)
    image_urls = models.JSONField(
        _("image URLs"), default=list, blank=True, help_text=_("A list of image URLs, the first is the main image.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ("code",)
        indexes = [models.Index(fields=["name"], name="product_name_idx", opclasses=["varchar_pattern_ops"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Sku(models.Model):
    """A sellable variant of a product: one code, one barcode, attributes such as size and colour."""

    code = models.CharField(_("SKU code"), max_length=64, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="skus", verbose_name=_("product"))
    name = models.CharField(_("name"), max_length=200)
    barcode = models.CharField(_("barcode"), max_length=32, unique=True, null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True, help_text=_('e.g. {"size": "42"}'))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        ordering = ("code",)
        indexes = [models.Index(fields=["name"], name="sku_name_idx", opclasses=["varchar_pattern_ops"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PriceChange(models.Model):
    """One entry of the unified price list: from ``valid_from`` on, the SKU costs ``price`` on every channel.

    Append-only: the price at any instant is the entry with the greatest ``valid_from`` not after it, so a
    scheduled change takes effect by itself, and entries whose ``valid_from`` has passed can never be
    changed or deleted (a database trigger enforces it), so an order's price can always be explained.
    """

    class Source(models.TextChoices):
        ADMIN = "admin", _("Console")
        IMPORT = "import", _("Import")
        SEED = "seed", _("Demo data")
        API = "api", _("API")

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="price_changes", verbose_name=_("SKU"))
    price = models.DecimalField(_("price"), **MONEY)
    valid_from = models.DateTimeField(_("valid from"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.ADMIN)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("price change")
        verbose_name_plural = _("price changes")
        ordering = ("sku", "-valid_from")
        constraints = [
            models.UniqueConstraint(fields=["sku", "valid_from"], name="price_change_one_per_instant"),
            models.CheckConstraint(condition=Q(price__gte=0), name="price_change_non_negative"),
        ]
        indexes = [
            # The current price is one probe: the first entry of this index at or before now.
            models.Index(F("sku"), F("valid_from").desc(), F("price"), name="price_change_lookup_idx"),
            models.Index(fields=["valid_from"], name="price_change_valid_from_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id}: {self.price} from {self.valid_from:%Y-%m-%d %H:%M}"


class TierPrice(models.Model):
    """What members of one tier pay for a SKU (the current member price; history is kept by orders' lines)."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="tier_prices", verbose_name=_("SKU"))
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="sku_prices", verbose_name=_("tier"))
    price = models.DecimalField(_("member price"), **MONEY)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("member price")
        verbose_name_plural = _("member prices")
        constraints = [
            models.UniqueConstraint(fields=["sku", "tier"], name="tier_price_one_per_tier"),
            models.CheckConstraint(condition=Q(price__gte=0), name="tier_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id}/{self.tier_id}: {self.price}"


class Stock(models.Model):
    """Quantity of a SKU in a store. Changed only by the stock services, each change a ``StockMovement``."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="stock", verbose_name=_("store"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="stock", verbose_name=_("SKU"))
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        ordering = ("store", "sku")
        constraints = [
            models.UniqueConstraint(fields=["store", "sku"], name="stock_one_row_per_store_sku"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_non_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"),
        ]
        indexes = [
            # Availability: the stores that hold a SKU.
            models.Index(
                fields=["sku", "store"], name="stock_sku_available_idx", condition=Q(on_hand__gt=F("reserved"))
            )
        ]

    def __str__(self) -> str:
        return f"{self.store_id}/{self.sku_id}: {self.on_hand} ({self.reserved} reserved)"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """One recorded change of a stock row; the sum of a row's deltas is its quantity."""

    class Kind(models.TextChoices):
        SALE = "sale", _("Sale")
        REFUND = "refund", _("Refund / return")
        ADJUSTMENT = "adjustment", _("Adjustment (count, import)")
        TRANSFER = "transfer", _("Transfer between stores")
        RESERVATION = "reservation", _("Reservation")
        RELEASE = "release", _("Reservation released")
        FULFILMENT = "fulfilment", _("Reserved item picked up")

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", verbose_name=_("store"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    on_hand_delta = models.IntegerField(_("on hand change"))
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("at"), db_index=False)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ("-created_at", "-id")
        # One index only: a million-row stock import writes a movement per changed row.
        indexes = [models.Index(fields=["store", "sku", "created_at"], name="stock_movement_row_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.on_hand_delta:+d}/{self.reserved_delta:+d} {self.reference}"


class ChannelListing(models.Model):
    """What a channel last reported it lists a SKU at; the deviation report compares it with the price list."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", verbose_name=_("channel"))
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="listings", verbose_name=_("SKU"))
    listed_price = models.DecimalField(_("listed price"), **MONEY)
    reported_at = models.DateTimeField(_("reported at"))

    class Meta:
        verbose_name = _("channel listing")
        verbose_name_plural = _("channel listings")
        ordering = ("channel", "sku")
        constraints = [
            models.UniqueConstraint(fields=["channel", "sku"], name="channel_listing_one_per_sku"),
            models.CheckConstraint(condition=Q(listed_price__gte=0), name="channel_listing_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.sku_id}: {self.listed_price}"


class PriceDeviation(ChannelListing):
    """Channel listings whose price differs from the unified price now (the admin's deviation report)."""

    class Meta:
        proxy = True
        verbose_name = _("price deviation")
        verbose_name_plural = _("price deviations")
