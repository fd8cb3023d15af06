from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.members.models import Member
from apps.stores.models import Store


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
    while ``sending`` becomes ``in_doubt`` and is never resent automatically (WeChat may have it).
    """

    class Kind(models.TextChoices):
        TEMPLATE = "template", _("Official Account template message")
        SUBSCRIBE = "subscribe", _("Subscribe message")
        CUSTOM = "custom", _("Customer-service text")
        WECOM = "wecom", _("Through the shopping guide on WeCom")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Claimed by a dispatcher")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        IN_DOUBT = "in_doubt", _("In doubt (worker died while sending)")

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
