from django.db import models
from django.db.models import Q, Value
from django.utils.translation import gettext_lazy as _


class Order(models.Model):
    """One order from one channel, priced once by the server; unique per (channel, external_id)."""

    class Status(models.TextChoices):
        PLACED = "placed", _("Placed (awaiting pickup, delivery or verification)")
        COMPLETED = "completed", _("Completed")
        PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")
        REFUNDED = "refunded", _("Refunded")

    class Fulfilment(models.TextChoices):
        IN_STORE = "in_store", _("In store")
        PICKUP = "pickup", _("Pickup")
        DELIVERY = "delivery", _("Delivery")
        VOUCHER = "voucher", _("Voucher")

    number = models.CharField(_("number"), max_length=24, unique=True)
    channel = models.ForeignKey(
        "stores.Channel", db_index=False, on_delete=models.PROTECT, related_name="+", verbose_name=_("channel")
    )
    external_id = models.CharField(_("external id"), max_length=100)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64, blank=True, editable=False)
    store = models.ForeignKey(
        "stores.Store",
        db_index=False,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("store"),
    )
    member = models.ForeignKey(
        "members.Member",
        db_index=False,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("member"),
    )
    guide = models.ForeignKey(
        "stores.Staff",
        db_index=False,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("guide"),
    )
    credited_store = models.ForeignKey(
        "stores.Store",
        db_index=False,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credited store"),
    )
    credited_guide = models.ForeignKey(
        "stores.Staff",
        db_index=False,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credited guide"),
    )
    is_online = models.BooleanField(_("online"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.COMPLETED)
    fulfilment = models.CharField(
        _("fulfilment"), max_length=16, choices=Fulfilment.choices, default=Fulfilment.IN_STORE
    )
    is_fulfilled = models.BooleanField(_("fulfilled"), default=True)
    delivery_address = models.CharField(_("delivery address"), max_length=255, blank=True)
    placed_at = models.DateTimeField(_("placed at"), db_index=True)
    is_paid = models.BooleanField(_("paid"), default=True)
    payment_method = models.CharField(_("payment method"), max_length=32, blank=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    refunded_total = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    points_earned = models.IntegerField(_("points earned"), default=0)
    coupons_applied = models.JSONField(_("coupons applied"), default=list, blank=True)
    # Split payments as given ([{"method", "amount", "refunded"}]); empty: one payment by payment_method.
    payments = models.JSONField(
        _("payments"), default=list, db_default=Value([], output_field=models.JSONField()), blank=True
    )
    verification_code = models.CharField(_("verification code"), max_length=16, null=True, blank=True, unique=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_store = models.ForeignKey(
        "stores.Store",
        db_index=False,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified at store"),
    )
    is_historic = models.BooleanField(_("imported"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ("-placed_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=("channel", "external_id"), name="order_channel_external_id_uniq"),
            models.CheckConstraint(
                condition=Q(total__gte=0) & Q(refunded_total__lte=models.F("total")), name="order_refund_within_total"
            ),
        ]
        indexes = [
            models.Index(fields=("-placed_at", "-id"), name="order_placed_idx"),
            # A member's orders in date order; the included columns let the member profiles read every
            # member's orders from this index alone, already in member order (no scan of the wide order rows, no sort).
            models.Index(
                fields=("member", "placed_at"),
                include=("store", "is_online", "total", "refunded_total", "id"),
                name="order_member_cover_idx",
            ),
            models.Index(fields=("credited_store", "placed_at"), name="order_credited_store_idx"),
            models.Index(fields=("store", "placed_at"), name="order_store_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", db_index=False, verbose_name=_("order")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    sku = models.ForeignKey(
        "catalog.Sku", on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("SKU")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    refunded_quantity = models.PositiveIntegerField(_("refunded quantity"), default=0)
    refunded_amount = models.DecimalField(_("refunded amount"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ("order", "position")
        constraints = [
            models.UniqueConstraint(fields=("order", "position"), name="order_line_position_uniq"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")), name="order_line_refund_within_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.position}"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    external_id = models.CharField(_("external id"), max_length=100)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64, blank=True, editable=False)
    refund_total = models.DecimalField(_("refund total"), max_digits=12, decimal_places=2)
    points_reversed = models.IntegerField(_("points reversed"), default=0)
    points_shortfall = models.IntegerField(_("points shortfall"), default=0)
    # How the refund goes back: [{"method", "amount"}] (the wallet's proportional share to the card).
    payments = models.JSONField(
        _("refunded by"), default=list, db_default=Value([], output_field=models.JSONField()), blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=("order", "external_id"), name="refund_order_external_id_uniq")]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.external_id}"


class RefundLine(models.Model):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines", verbose_name=_("refund"))
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+", verbose_name=_("order line"))
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")

    def __str__(self) -> str:
        return f"{self.refund_id}:{self.order_line_id}x{self.quantity}"
