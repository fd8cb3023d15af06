from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Category
from apps.members.models import Member
from apps.stores.models import Channel, Staff, Store

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


class PointsEntry(models.Model):
    """One change of a member's points. Append-only: corrections are new entries, never edits."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted by an operator")
        REVERSE = "reverse", _("Reversed (refund)")
        MERGE_IN = "merge_in", _("Moved in from a merged member")
        MERGE_OUT = "merge_out", _("Moved out to the surviving member")

    # Indexes are kept to what reads use (points_entry_member_idx, the key's unique constraint): a month's
    # expiry writes an entry for every member, and each extra index is paid a million times.
    # No database foreign key on the member, for the same reason (its check cost 10 s of a 1,000,000-member
    # expiry): every booking locks the member row first in the same transaction, which is the existence
    # check, members are never deleted (erasure keeps the row), and the ORM still refuses (PROTECT).
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="points_entries",
        db_index=False,
        db_constraint=False,
        verbose_name=_("member"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    balance_after = models.IntegerField(_("balance after"))
    reference = models.CharField(_("reference"), max_length=100, blank=True, help_text=_("order, refund, campaign"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=150)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    shortfall = models.PositiveIntegerField(
        _("shortfall"), default=0, help_text=_("Points that could not be taken back because the balance was too low.")
    )
    created_at = models.DateTimeField(_("at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        verbose_name=_("by"),
    )

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="points_entry_balance_non_negative"),
            # A constraint rather than unique=True: the same guarantee without a second (LIKE) index.
            models.UniqueConstraint(fields=["idempotency_key"], name="points_entry_one_per_key"),
        ]
        indexes = [models.Index(fields=["member", "-created_at", "-id"], name="points_entry_member_idx")]
        permissions = [("adjust_points", "Can adjust members' points")]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} -> {self.balance_after}"


class PointsLot(models.Model):
    """Points earned in one month, and how many of them are left; they expire together, and the expiry
    deletes the lot (the ledger keeps the history), so lots hold only points that can still be spent."""

    # Served by points_lot_one_per_month (member first).
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("member")
    )
    earned_month = models.DateField(_("earned in month"))
    expires_at = models.DateTimeField(_("expires at"))
    points = models.PositiveIntegerField(_("earned"))
    remaining = models.PositiveIntegerField(_("remaining"))

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        constraints = [
            models.UniqueConstraint(fields=["member", "earned_month"], name="points_lot_one_per_month"),
            models.CheckConstraint(condition=Q(remaining__lte=F("points")), name="points_lot_remaining_within_earned"),
        ]
        indexes = [
            # The expiry deletes due lots whatever is left in them: no predicate on ``remaining`` here.
            models.Index(fields=["expires_at"], name="points_lot_expires_idx"),
            models.Index(fields=["member", "expires_at"], name="points_lot_member_idx", condition=Q(remaining__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.earned_month:%Y-%m}: {self.remaining}/{self.points}"


class CouponTemplate(models.Model):
    """What a coupon is worth, when and where it applies, and how many may be issued."""

    class Kind(models.TextChoices):
        AMOUNT = "amount", _("Amount off")
        PERCENT = "percent", _("Percent off")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    value = models.DecimalField(_("value"), **MONEY, help_text=_("Yuan off, or percent off."))
    max_discount = models.DecimalField(_("cap"), **MONEY, null=True, blank=True, help_text=_("Percent coupons only."))
    min_spend = models.DecimalField(_("minimum spend"), **MONEY, default=0)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid for days after issue"), null=True, blank=True)
    stores = models.ManyToManyField(Store, blank=True, related_name="+", verbose_name=_("only in stores"))
    channels = models.ManyToManyField(Channel, blank=True, related_name="+", verbose_name=_("only on channels"))
    categories = models.ManyToManyField(Category, blank=True, related_name="+", verbose_name=_("only for categories"))
    is_stackable = models.BooleanField(_("stacks with other coupons"), default=False)
    total_limit = models.PositiveIntegerField(_("total limit"), null=True, blank=True)
    per_member_limit = models.PositiveIntegerField(_("per member limit"), null=True, blank=True, default=1)
    points_cost = models.PositiveIntegerField(_("points cost (points mall)"), null=True, blank=True)
    issued_count = models.PositiveIntegerField(_("issued"), default=0, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering = ("code",)
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="coupon_template_value_positive"),
            models.CheckConstraint(
                condition=Q(kind="amount") | Q(value__lte=100), name="coupon_template_percent_at_most_100"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=False) | Q(valid_days__isnull=False),
                name="coupon_template_has_validity",
            ),
            models.CheckConstraint(
                condition=Q(total_limit__isnull=True) | Q(issued_count__lte=F("total_limit")),
                name="coupon_template_within_total_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Coupon(models.Model):
    """One single-use coupon with an unguessable code."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        REDEEMED = "redeemed", _("Redeemed")
        EXPIRED = "expired", _("Expired")
        VOID = "void", _("Void")

    # Indexes are kept to what reads use (the Meta indexes and the code's unique constraint): issuing to every
    # member writes a million coupons, and each extra index (a NULL redeemed_* entry included) is paid each time.
    code = models.CharField(_("code"), max_length=20)
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, db_index=False, related_name="coupons", verbose_name=_("template")
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="coupons",
        verbose_name=_("member"),
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField(_("issued at"))
    valid_from = models.DateTimeField(_("valid from"))
    expires_at = models.DateTimeField(_("expires at"))
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    redeemed_store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        verbose_name=_("redeemed in"),
    )
    redeemed_channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        verbose_name=_("redeemed on"),
    )
    redeemed_order = models.CharField(_("order"), max_length=64, blank=True)
    redeemed_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        verbose_name=_("redeemed by"),
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ("-issued_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["code"], name="coupon_one_per_code"),
            models.CheckConstraint(
                condition=~Q(status="redeemed") | Q(redeemed_at__isnull=False), name="coupon_redeemed_has_time"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "status", "expires_at"], name="coupon_member_idx"),
            models.Index(fields=["template", "member"], name="coupon_template_member_idx"),
            models.Index(fields=["template", "status"], name="coupon_template_status_idx"),
            models.Index(fields=["expires_at"], name="coupon_due_idx", condition=Q(status="issued")),
        ]

    def __str__(self) -> str:
        return self.code


class IdempotencyRecord(models.Model):
    """The first answer to a request with an ``Idempotency-Key``, replayed for repeats of that key."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", verbose_name=_("channel"))
    key = models.CharField(_("key"), max_length=150)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status"))
    body = models.JSONField(_("response"))
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="idempotency_one_per_key")]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.key}"


from .wallet.models import (  # noqa: E402 - the wallet's models belong to this app
    PaymentMethod,
    RechargeRule,
    Wallet,
    WalletBonusLot,
    WalletEntry,
    WalletMonth,
)

__all__ = [
    "Coupon",
    "CouponTemplate",
    "IdempotencyRecord",
    "PaymentMethod",
    "PointsEntry",
    "PointsLot",
    "RechargeRule",
    "Wallet",
    "WalletBonusLot",
    "WalletEntry",
    "WalletMonth",
]
