from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.stores.models import Channel, Staff, Store


class Tier(models.Model):
    """A membership level. Higher ``rank`` is better; reached by spend over the last 12 months."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True)
    min_annual_spend = models.DecimalField(_("minimum annual spend"), max_digits=12, decimal_places=2, default=0)
    points_per_yuan = models.DecimalField(_("points per yuan"), max_digits=6, decimal_places=2, default=1)
    discount_percent = models.DecimalField(_("discount percent"), max_digits=5, decimal_places=2, default=0)
    benefits = models.TextField(_("benefits"), blank=True)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ("rank",)
        constraints = [
            models.CheckConstraint(condition=Q(min_annual_spend__gte=0), name="tier_min_spend_non_negative"),
            models.CheckConstraint(condition=Q(points_per_yuan__gte=0), name="tier_points_rate_non_negative"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100), name="tier_discount_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """One customer across every channel: one card, one tier, one points balance."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        MERGED = "merged", _("Merged into another member")
        ERASED = "erased", _("Erased on request")

    code = models.CharField(_("member code"), max_length=20, unique=True)
    # E.164; null once erased or for members known only by a channel identity.
    phone = models.CharField(_("phone"), max_length=20, unique=True, null=True, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    joined_at = models.DateTimeField(_("joined at"), db_index=True)
    join_channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("joining channel")
    )
    join_store = models.ForeignKey(
        Store, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("joining store")
    )
    recruited_by = models.ForeignKey(
        Staff, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("shopping guide")
    )
    # Not indexed: re-tiering then updates members in place (PostgreSQL HOT updates, see migration 0005); a tier
    # holds a large share of all members, so an index would not serve a filter on it anyway.
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, db_index=False, verbose_name=_("tier")
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("merged into")
    )
    # Kept equal to the sum of the points ledger by the loyalty services (checked by a test and the admin).
    points_balance = models.IntegerField(_("points balance"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ("-joined_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="member_points_non_negative"),
            models.CheckConstraint(
                condition=Q(status="merged", merged_into__isnull=False) | (~Q(status="merged") & Q(merged_into=None)),
                name="member_merged_has_target",
            ),
        ]
        indexes = [models.Index(fields=["join_store", "joined_at"], name="member_store_joined_idx")]
        permissions = [("view_full_phone", "Can see members' full phone numbers")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class Identity(models.Model):
    """A way a channel knows the member: WeChat openid/unionid or a channel's own customer id."""

    class Kind(models.TextChoices):
        WECHAT_OPENID = "wechat_openid", _("WeChat openid")
        WECHAT_UNIONID = "wechat_unionid", _("WeChat unionid")
        WECOM_EXTERNAL = "wecom_external", _("WeCom external user id")
        CHANNEL_CUSTOMER = "channel_customer", _("Channel customer id")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="identities", verbose_name=_("member"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("channel")
    )
    value = models.CharField(_("value"), max_length=128)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            # One identity belongs to one member. WeChat ids carry no channel, channel customer ids do; two
            # partial constraints, one for each.
            models.UniqueConstraint(
                fields=["kind", "value"], condition=Q(channel__isnull=True), name="identity_unique_wechat"
            ),
            models.UniqueConstraint(
                fields=["kind", "channel", "value"],
                condition=Q(channel__isnull=False),
                name="identity_unique_channel_customer",
            ),
            models.CheckConstraint(
                condition=Q(kind="channel_customer", channel__isnull=False)
                | (~Q(kind="channel_customer") & Q(channel=None)),
                name="identity_channel_only_for_channel_customer",
            ),
        ]
        indexes = [models.Index(fields=["value"], name="identity_value_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Consent(models.Model):
    """Whether a member agreed to be contacted on one outreach channel, as it stands now."""

    class Channel(models.TextChoices):
        WECHAT = "wechat", _("WeChat")
        SMS = "sms", _("SMS")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents", verbose_name=_("member"))
    channel = models.CharField(_("outreach channel"), max_length=8, choices=Channel.choices)
    granted = models.BooleanField(_("granted"))
    changed_at = models.DateTimeField(_("changed at"))
    source = models.CharField(_("where"), max_length=100, blank=True, help_text=_("store, channel or staff"))

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [models.UniqueConstraint(fields=["member", "channel"], name="consent_one_per_channel")]
        indexes = [models.Index(fields=["channel", "member"], name="consent_granted_idx", condition=Q(granted=True))]

    def __str__(self) -> str:
        return f"{self.channel}: {'yes' if self.granted else 'no'}"


class ConsentEvent(models.Model):
    """Every grant or withdrawal, kept (who asked, when, where)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member"))
    channel = models.CharField(_("outreach channel"), max_length=8, choices=Consent.Channel.choices)
    granted = models.BooleanField(_("granted"))
    at = models.DateTimeField(_("at"))
    source = models.CharField(_("where"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        indexes = [models.Index(fields=["member", "at"], name="consent_event_member_idx")]

    def __str__(self) -> str:
        return f"{self.channel} {'granted' if self.granted else 'withdrawn'} at {self.at:%Y-%m-%d}"


class TierChange(models.Model):
    """A member's move between tiers, with why (kept forever)."""

    class Reason(models.TextChoices):
        JOINED = "joined", _("Joined")
        SPEND = "spend", _("Spend reached the threshold")
        EVALUATION = "evaluation", _("Yearly evaluation")
        IMPORT = "import", _("Import")
        OPERATOR = "operator", _("Operator")
        MERGE = "merge", _("Members merged")

    # Served by tier_change_member_idx; the tiers are only looked up when a tier is deleted (rare, refused
    # while referenced). Fewer indexes keep the set-based re-tiering of a million members fast.
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="tier_changes", db_index=False, verbose_name=_("member")
    )
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="+", verbose_name=_("from")
    )
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, db_index=False, related_name="+", verbose_name=_("to"))
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    spend_12m = models.DecimalField(_("spend in the last 12 months"), max_digits=14, decimal_places=2, default=0)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ("-changed_at", "-id")
        indexes = [models.Index(fields=["member", "changed_at"], name="tier_change_member_idx")]

    def __str__(self) -> str:
        return f"{self.from_tier_id} -> {self.to_tier_id} ({self.reason})"


class MemberSpendDay(models.Model):
    """What a member spent on one day (refunds subtract); tiers are judged on the last 12 months of these."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member"))
    day = models.DateField(_("day"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("spend day")
        verbose_name_plural = _("spend days")
        constraints = [models.UniqueConstraint(fields=["member", "day"], name="spend_day_one_per_member_day")]
        indexes = [models.Index(fields=["day", "member"], name="spend_day_window_idx")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.day}: {self.amount}"


class MemberMerge(models.Model):
    """Audit of a merge: who merged which member into which, when, and what moved."""

    survivor = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("survivor"))
    merged = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("merged member"))
    operator = models.ForeignKey(
        "auth.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("operator")
    )
    merged_at = models.DateTimeField(_("merged at"))
    summary = models.JSONField(_("what moved"), default=dict)

    class Meta:
        verbose_name = _("member merge")
        verbose_name_plural = _("member merges")
        ordering = ("-merged_at",)

    def __str__(self) -> str:
        return f"{self.merged_id} -> {self.survivor_id}"


class BindingScene(models.Model):
    """A one-member WeChat binding QR: the random ``token`` in the QR's scene names this row, so a scene cannot
    be forged or pointed at another member; it works until ``expires_at`` and binds one WeChat account once."""

    token = models.CharField(_("token"), max_length=32, unique=True)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member"))
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("store")
    )
    guide = models.ForeignKey(
        Staff, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("guide")
    )
    ticket = models.CharField(_("WeChat ticket"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_by_openid = models.CharField(_("bound openid"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("WeChat binding QR")
        verbose_name_plural = _("WeChat binding QRs")
        indexes = [models.Index(fields=["member", "created_at"], name="binding_scene_member_idx")]

    def __str__(self) -> str:
        return f"bind:{self.token}"


class BindingConflict(models.Model):
    """A binding QR scanned by a WeChat account already bound to another member: nothing was changed; an
    operator decides (usually by merging the two members)."""

    scene = models.ForeignKey(BindingScene, on_delete=models.CASCADE, related_name="+", verbose_name=_("scene"))
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member of the QR code")
    )
    bound_member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("member already bound")
    )
    openid = models.CharField(_("openid"), max_length=128)
    at = models.DateTimeField(_("at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("binding conflict")
        verbose_name_plural = _("binding conflicts")
        ordering = ("-at",)
        constraints = [
            models.UniqueConstraint(fields=["scene", "openid"], name="binding_conflict_once_per_scan"),
        ]

    def __str__(self) -> str:
        return f"{self.openid}: {self.member_id} vs {self.bound_member_id}"


class WeComContact(models.Model):
    """A customer a shopping guide added in WeCom: the guide can reach ``external_userid`` from their WeCom."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+", verbose_name=_("guide"))
    external_userid = models.CharField(_("WeCom external user id"), max_length=128)
    unionid = models.CharField(_("unionid"), max_length=128, blank=True)
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("member")
    )
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        verbose_name = _("WeCom contact")
        verbose_name_plural = _("WeCom contacts")
        constraints = [
            models.UniqueConstraint(fields=["staff", "external_userid"], name="wecom_contact_once_per_guide"),
        ]
        indexes = [
            models.Index(fields=["member", "staff"], name="wecom_contact_member_idx"),
            models.Index(fields=["unionid"], name="wecom_contact_unionid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.staff_id}:{self.external_userid}"
