"""The wallet's data: one row per member holding the balance, the append-only ledger that must add up to it,
bonus lots (what can expire), the recharge rules and the monthly summary the liability report reads."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.members.models import Member, Tier
from apps.stores.models import Store

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


class PaymentMethod(models.TextChoices):
    """How money came in at a recharge, or went back at a withdrawal."""

    CASH = "cash", _("Cash")
    CARD = "card", _("Bank card")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    OTHER = "other", _("Other")


class Wallet(models.Model):
    """A member's stored value: principal (money paid in, refundable) and bonus (given, spent last, may expire).
    Equal to the sum of the member's ledger entries; never negative."""

    member = models.OneToOneField(
        Member, on_delete=models.PROTECT, primary_key=True, related_name="wallet", verbose_name=_("member")
    )
    principal = models.DecimalField(_("principal"), **MONEY, default=0)
    bonus = models.DecimalField(_("bonus"), **MONEY, default=0)
    store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        verbose_name=_("home store"),
        help_text=_("Where the card was first recharged: the store that owes the balance in the liability report."),
    )
    is_closed = models.BooleanField(_("closed"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    #: Set by the services' lock: the entry already booked under the key being booked (not a column).
    existing_id: int | None = None

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(condition=Q(principal__gte=0), name="wallet_principal_non_negative"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="wallet_bonus_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.principal} + {self.bonus}"

    @property
    def balance(self):
        return self.principal + self.bonus


class WalletEntry(models.Model):
    """One change of a wallet. Append-only: corrections are new entries. ``amount = principal + bonus``
    (signed: debits negative); the ``*_after`` columns are the wallet after this entry."""

    class Kind(models.TextChoices):
        RECHARGE = "recharge", _("Recharge")
        BONUS = "bonus", _("Recharge bonus")
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund of a payment")
        ADJUSTMENT = "adjustment", _("Adjustment by an operator")
        EXPIRY = "expiry", _("Bonus expired")
        WITHDRAWAL = "withdrawal", _("Unused balance refunded (card closed)")

    # No database foreign key on the member (as the points ledger): every booking locks the wallet row first,
    # and the wallet row has the foreign key.
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="wallet_entries",
        db_index=False,
        db_constraint=False,
        verbose_name=_("member"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    principal = models.DecimalField(_("principal"), **MONEY)
    bonus = models.DecimalField(_("bonus"), **MONEY)
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    principal_after = models.DecimalField(_("principal after"), **MONEY)
    bonus_after = models.DecimalField(_("bonus after"), **MONEY)
    store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        related_name="+",
        verbose_name=_("home store"),
    )
    payment_method = models.CharField(_("paid by"), max_length=16, choices=PaymentMethod.choices, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True, help_text=_("order, refund, recharge"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=150)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64, blank=True, editable=False)
    refund_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="refunds",
        verbose_name=_("refund of payment"),
    )
    bonus_expires_at = models.DateTimeField(
        _("bonus expires at"), null=True, blank=True, help_text=_("Bonus entries: when this bonus expires.")
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
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
        verbose_name = _("wallet entry")
        verbose_name_plural = _("wallet ledger")
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="wallet_entry_one_per_key"),
            models.CheckConstraint(condition=Q(principal_after__gte=0), name="wallet_entry_principal_non_negative"),
            models.CheckConstraint(condition=Q(bonus_after__gte=0), name="wallet_entry_bonus_non_negative"),
            models.CheckConstraint(
                condition=Q(amount=F("principal") + F("bonus")), name="wallet_entry_amount_is_principal_and_bonus"
            ),
            models.CheckConstraint(
                condition=Q(balance_after=F("principal_after") + F("bonus_after")),
                name="wallet_entry_balance_is_principal_and_bonus",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="wallet_entry_member_idx"),
            # The liability report's live part reads the months not yet summarised.
            models.Index(fields=["created_at"], name="wallet_entry_created_idx"),
            models.Index(fields=["refund_of"], name="wallet_entry_refund_of_idx", condition=Q(refund_of__isnull=False)),
        ]
        permissions = [
            ("adjust_wallet", "Can adjust members' wallets"),
            ("withdraw_wallet", "Can refund a member's unused balance"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+} -> {self.balance_after}"


class WalletBonusLot(models.Model):
    """Bonus granted at one time and how much of it is left; spent soonest-expiring first, expired by a task."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("member")
    )
    granted_at = models.DateTimeField(_("granted at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    amount = models.DecimalField(_("granted"), **MONEY)
    remaining = models.DecimalField(_("remaining"), **MONEY)

    class Meta:
        verbose_name = _("bonus lot")
        verbose_name_plural = _("bonus lots")
        constraints = [
            models.CheckConstraint(condition=Q(remaining__gte=0), name="wallet_lot_remaining_non_negative"),
            models.CheckConstraint(condition=Q(remaining__lte=F("amount")), name="wallet_lot_remaining_within"),
        ]
        indexes = [
            models.Index(fields=["member", "expires_at"], name="wallet_lot_member_idx", condition=Q(remaining__gt=0)),
            models.Index(fields=["expires_at"], name="wallet_lot_due_idx", condition=Q(remaining__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.remaining}/{self.amount}"


class RechargeRule(models.Model):
    """ "Recharge 500, get 50": the best rule whose threshold a recharge reaches gives its bonus."""

    name = models.CharField(_("name"), max_length=100)
    min_amount = models.DecimalField(_("recharge at least"), **MONEY)
    bonus = models.DecimalField(_("bonus"), **MONEY)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    tiers = models.ManyToManyField(
        Tier, blank=True, related_name="+", verbose_name=_("only for tiers"), help_text=_("Empty: every member.")
    )
    bonus_valid_days = models.PositiveIntegerField(
        _("bonus valid for days"), null=True, blank=True, help_text=_("Empty: the bonus does not expire.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("recharge rule")
        verbose_name_plural = _("recharge rules")
        ordering = ("min_amount", "pk")
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="recharge_rule_min_positive"),
            models.CheckConstraint(condition=Q(bonus__gt=0), name="recharge_rule_bonus_positive"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="recharge_rule_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WalletMonth(models.Model):
    """One home store's wallet movements in one closed month (business time zone), summed from the ledger by
    a task; the liability report adds the live months from the ledger itself."""

    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, null=True, blank=True, db_constraint=False, related_name="+"
    )
    month = models.DateField(_("month"))
    recharged = models.DecimalField(_("recharged"), max_digits=16, decimal_places=2, default=0)
    bonus_granted = models.DecimalField(_("bonus granted"), max_digits=16, decimal_places=2, default=0)
    spent_principal = models.DecimalField(_("spent (principal)"), max_digits=16, decimal_places=2, default=0)
    spent_bonus = models.DecimalField(_("spent (bonus)"), max_digits=16, decimal_places=2, default=0)
    withdrawn = models.DecimalField(_("refunded in cash"), max_digits=16, decimal_places=2, default=0)
    breakage = models.DecimalField(_("breakage"), max_digits=16, decimal_places=2, default=0)
    net_principal = models.DecimalField(_("principal change"), max_digits=16, decimal_places=2, default=0)
    net_bonus = models.DecimalField(_("bonus change"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("wallet month")
        verbose_name_plural = _("wallet months")
        constraints = [
            models.UniqueConstraint(fields=["month", "store"], name="wallet_month_one_per_store", nulls_distinct=False)
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.month:%Y-%m}"
