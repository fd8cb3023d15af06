from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.members.models import Member
from apps.stores.models import Store

from .conditions import CONDITION_CHOICES


class SendingControl(models.Model):
    """The global kill switch for outreach (one row). Paused: the dispatcher sends nothing."""

    is_paused = models.BooleanField(_("paused"), default=False)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("sending control")
        verbose_name_plural = _("sending control")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="sending_control_single_row")]

    def __str__(self) -> str:
        return str(_("paused") if self.is_paused else _("sending"))


class OutboxMessage(models.Model):
    """One touch to one member, created once per ``touch_key`` and sent at most once.

    Life of a row: pending -> claimed (a dispatcher took it) -> sending (the request is going out) ->
    sent -> delivered | failed. A claimed row whose worker died goes back to pending; a row that died
    while ``sending``, or whose request went out and got no answer in time, becomes ``in_doubt`` and is
    never resent automatically (WeChat may have it).
    """

    class Kind(models.TextChoices):
        TEMPLATE = "template", _("Official Account template message")
        SUBSCRIBE = "subscribe", _("Subscribe message")
        CUSTOM = "custom", _("Customer-service text")
        WECOM = "wecom", _("Through the shopping guide on WeCom")
        REWARD = "reward", _("Coupon or points only (no message)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Claimed by a dispatcher")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        IN_DOUBT = "in_doubt", _("In doubt (WeChat may have it)")

    touch_key = models.CharField(_("touch key"), max_length=200, unique=True)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member"))
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("store")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    recipient = models.CharField(_("recipient"), max_length=64, help_text=_("openid, or WeCom external user id"))
    sender_userid = models.CharField(_("guide's WeCom user id"), max_length=64, blank=True)
    template_id = models.CharField(_("template id"), max_length=64, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True)
    sending_at = models.DateTimeField(_("sending at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    msgid = models.CharField(_("WeChat message id"), max_length=64, blank=True)
    last_errcode = models.IntegerField(_("last error code"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    broadcast_variant = models.ForeignKey(
        "BroadcastVariant",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("broadcast variant"),
    )
    journey_step = models.ForeignKey(
        "JourneyStep",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("journey step"),
    )

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        ordering = ("-id",)
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], name="outbox_due_idx", condition=Q(status="pending")),
            models.Index(
                fields=["member", "sent_at"], name="outbox_member_sent_idx", condition=Q(sent_at__isnull=False)
            ),
            models.Index(fields=["msgid"], name="outbox_msgid_idx", condition=~Q(msgid="")),
            models.Index(
                fields=["status", "claimed_at"],
                name="outbox_claims_idx",
                condition=Q(status__in=["claimed", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.touch_key} [{self.status}]"


# -- journeys and broadcasts ---------------------------------------------------------------------------------


class Journey(models.Model):
    """A lifecycle journey: a trigger and touches at offsets after it. Scanned by one periodic task."""

    class Trigger(models.TextChoices):
        JOINED = "joined", _("Joined")
        FIRST_PURCHASE = "first_purchase", _("First purchase")
        NO_PURCHASE = "no_purchase", _("No purchase for N days")
        BIRTHDAY = "birthday", _("Birthday (every year)")
        TIER_UPGRADE = "tier_upgrade", _("Tier upgrade")
        POINTS_EXPIRING = "points_expiring", _("Points expire (offset before: negative days)")
        COUPON_EXPIRING = "coupon_expiring", _("Coupon expires (offset before: negative days)")
        P_ALIVE_BELOW = "p_alive_below", _("P(alive) fell below N% (the weekly lifetime value fit)")
        BALANCE_BELOW = "balance_below", _("Card balance falls below an amount")

    code = models.SlugField(_("code"), max_length=48, unique=True)
    name = models.CharField(_("name"), max_length=100)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    trigger_days = models.PositiveIntegerField(
        _("N days"),
        null=True,
        blank=True,
        help_text=_("For 'no purchase for N days': N. For 'P(alive) fell below N%': N (1-99)."),
    )
    trigger_amount = models.DecimalField(
        _("amount"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("For 'card balance falls below an amount': the amount (the day a payment takes it below)."),
    )
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Paused journeys create no touches."))
    catch_up_days = models.PositiveSmallIntegerField(
        _("catch-up days"),
        default=2,
        help_text=_("Touches that fell due this many days ago and were missed (e.g. beat was down) are still made."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ("code",)
        constraints = [
            models.CheckConstraint(
                condition=~Q(trigger="no_purchase") | Q(trigger_days__gt=0), name="journey_no_purchase_has_days"
            ),
            models.CheckConstraint(
                condition=~Q(trigger="balance_below") | Q(trigger_amount__gt=0), name="journey_balance_below_has_amount"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Action(models.TextChoices):
    """How a touch reaches the member (a reward without a message uses ``reward_only``)."""

    WECHAT_TEMPLATE = "template", _("WeChat template message")
    WECHAT_SUBSCRIBE = "subscribe", _("WeChat subscribe message")
    WECOM_GUIDE = "wecom", _("Through the shopping guide on WeCom")
    REWARD_ONLY = "reward", _("No message (coupon or points only)")


class TouchContent(models.Model):
    """What a touch does: a message (template + content with member variables), a coupon, points."""

    action = models.CharField(_("message"), max_length=10, choices=Action.choices, default=Action.WECHAT_SUBSCRIBE)
    template_id = models.CharField(_("WeChat template id"), max_length=64, blank=True)
    content = models.TextField(
        _("content"),
        blank=True,
        help_text=_(
            "One 'field: text' line per template field (WeCom: the text). Variables: {name}, {points}, "
            "{expiring_points}, {expiring_at}, {coupon_code}, {coupon_expires}, {store}, {tier}, {code}, {balance}."
        ),
    )
    page = models.CharField(_("link or mini-program page"), max_length=200, blank=True)
    coupon_template = models.ForeignKey(
        "loyalty.CouponTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issue coupon"),
    )
    points = models.PositiveIntegerField(_("award points"), null=True, blank=True)

    class Meta:
        abstract = True


class JourneyStep(TouchContent):
    """One touch of a journey, ``offset`` days or months after the trigger, if its condition holds then."""

    class Unit(models.TextChoices):
        DAYS = "days", _("days")
        MONTHS = "months", _("months")

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps", verbose_name=_("journey"))
    offset = models.IntegerField(_("offset"), help_text=_("After the trigger; negative: before (expiry, birthday)."))
    unit = models.CharField(_("unit"), max_length=6, choices=Unit.choices, default=Unit.DAYS)
    condition = models.CharField(
        _("only if (checked at send time)"), max_length=32, blank=True, choices=CONDITION_CHOICES
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        ordering = ("journey", "unit", "offset", "id")

    def __str__(self) -> str:
        return f"{self.journey_id} +{self.offset} {self.unit}"


class Broadcast(models.Model):
    """A one-off send to a segment at a time, with A/B variants and a random holdout that gets nothing."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Handed to the outbox")

    code = models.SlugField(_("code"), max_length=48, unique=True)
    name = models.CharField(_("name"), max_length=100)
    segment = models.ForeignKey(
        "insights.Segment", on_delete=models.PROTECT, related_name="+", verbose_name=_("segment")
    )
    send_at = models.DateTimeField(_("send at"))
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout %"), default=10, help_text=_("A random share of the audience that gets nothing, to measure uplift.")
    )
    attribution_days = models.PositiveSmallIntegerField(_("results window (days)"), default=14)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    audience_size = models.PositiveIntegerField(_("audience"), null=True, blank=True, editable=False)
    materialised_at = models.DateTimeField(_("handed to the outbox at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ("-send_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="broadcast_holdout_at_most_half")
        ]

    def __str__(self) -> str:
        return self.name


class BroadcastVariant(TouchContent):
    """One A/B arm of a broadcast; ``weight`` shares the non-holdout audience between arms."""

    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, related_name="variants", verbose_name=_("broadcast")
    )
    label = models.CharField(_("label"), max_length=16, default="A")
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ("broadcast", "label", "id")
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "label"], name="broadcast_variant_label_once"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="broadcast_variant_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.broadcast_id} {self.label}"


class BroadcastAudience(models.Model):
    """Who a broadcast was for, frozen when it went out, and their arm (none: the holdout)."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    variant = models.ForeignKey(BroadcastVariant, on_delete=models.CASCADE, null=True, related_name="+")

    class Meta:
        verbose_name = _("broadcast audience member")
        verbose_name_plural = _("broadcast audience")
        constraints = [models.UniqueConstraint(fields=["broadcast", "member"], name="broadcast_audience_once")]

    def __str__(self) -> str:
        return f"{self.broadcast_id}:{self.member_id} -> {self.variant_id or 'holdout'}"
