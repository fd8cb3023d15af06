"""Member tags (manual, rule and computed), segments of members, and the KPI aggregates.

Computed per-member measures live in one wide row per member (``MemberProfile``), rewritten by one
set-based pass; manual and rule tags are ``MemberTag`` rows. KPI figures are read from aggregates
(``SalesDay``, ``MemberMonth``, ``KpiMonth`` ...) that a periodic task keeps up to date.
"""

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}


class LifecycleStage(models.TextChoices):
    NEW = "new", _("New (joined, no repeat purchase yet)")
    ACTIVE = "active", _("Active")
    AT_RISK = "at_risk", _("At risk")
    DORMANT = "dormant", _("Dormant")
    CHURNED = "churned", _("Churned")


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalists")
    NEW = "new", _("New customers")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANNOT_LOSE = "cannot_lose", _("Cannot lose them")
    HIBERNATING = "hibernating", _("Hibernating")


class ChannelHabit(models.TextChoices):
    IN_STORE_ONLY = "in_store_only", _("In store only")
    ONLINE_ONLY = "online_only", _("Online only")
    OMNICHANNEL = "omnichannel", _("Omnichannel")


class PowerBand(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    PREMIUM = "premium", _("Premium")


class InsightsConfig(models.Model):
    """The thresholds the computed tags use (one row, edited in the admin)."""

    at_risk_days = models.PositiveIntegerField(_("at risk after days without a purchase"), default=90)
    dormant_days = models.PositiveIntegerField(_("dormant after days without a purchase"), default=180)
    churned_days = models.PositiveIntegerField(_("churned after days without a purchase"), default=365)
    power_medium_from = models.DecimalField(_("medium power band from (average order value)"), default=100, **MONEY)
    power_high_from = models.DecimalField(_("high power band from (average order value)"), default=300, **MONEY)
    power_premium_from = models.DecimalField(_("premium power band from (average order value)"), default=1000, **MONEY)

    class Meta:
        verbose_name = _("tag settings")
        verbose_name_plural = _("tag settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(at_risk_days__gt=0)
                & Q(dormant_days__gt=models.F("at_risk_days"))
                & Q(churned_days__gt=models.F("dormant_days")),
                name="insights_config_lifecycle_days_increase",
            ),
            models.CheckConstraint(
                condition=Q(power_medium_from__gt=0)
                & Q(power_high_from__gt=models.F("power_medium_from"))
                & Q(power_premium_from__gt=models.F("power_high_from")),
                name="insights_config_power_bands_increase",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Tag settings"))


class Tag(models.Model):
    """A label on members: set by people (manual) or by a rule the nightly refresh evaluates."""

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual (set by operators and clerks)")
        RULE = "rule", _("Rule (computed nightly)")

    class Rule(models.TextChoices):
        BOUGHT_TOGETHER = "bought_together", _("Bought from every chosen category in one order")
        TAGGED_NEVER_BOUGHT = "tagged_never_bought", _("Carries the chosen tag, never bought the chosen categories")

    code = models.SlugField(_("code"), max_length=48, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.MANUAL)
    description = models.TextField(_("description"), blank=True)
    rule = models.CharField(_("rule"), max_length=24, choices=Rule.choices, blank=True)
    rule_categories = models.ManyToManyField(
        "catalog.Category", blank=True, related_name="+", verbose_name=_("rule categories")
    )
    rule_tag = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("rule: carries tag")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ("code",)
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="manual", rule="") | (Q(kind="rule") & ~Q(rule="")), name="tag_rule_only_for_rule_tags"
            )
        ]

    def __str__(self) -> str:
        return self.name


class MemberTag(models.Model):
    """A tag on a member; manual rows are kept, rule rows are rewritten by the nightly refresh."""

    # No single-column indexes: member_tag_once leads with the member and member_tag_by_tag_idx with the tag, and
    # a rule tag's refresh writes each of its (often hundreds of thousands of) rows into every index.
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, db_index=False, related_name="+", verbose_name=_("member")
    )
    tag = models.ForeignKey(
        Tag, on_delete=models.CASCADE, db_index=False, related_name="members", verbose_name=_("tag")
    )
    assigned_at = models.DateTimeField(_("assigned at"))
    assigned_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )

    class Meta:
        verbose_name = _("member tag")
        verbose_name_plural = _("member tags")
        constraints = [models.UniqueConstraint(fields=["member", "tag"], name="member_tag_once")]
        indexes = [models.Index(fields=["tag", "member"], name="member_tag_by_tag_idx")]

    def __str__(self) -> str:
        return f"{self.member_id}:{self.tag_id}"


class ProfileRefresh(models.Model):
    """When the profiles were last evaluated, and up to when orders and refunds have been folded in (one row).

    The evaluation date is kept here once rather than on every profile row: ``T`` of each member is this
    date less the member's first purchase day, so a new day rewrites only the rows whose values change.
    """

    computed_on = models.DateField(_("evaluation date"), null=True)
    computed_at = models.DateTimeField(_("computed at"), null=True)
    # The highest order, refund and member ids when the last two runs started: a run looks at everything
    # above the older of the two, so a row committed late by a transaction open across one run is still seen.
    seen_ids = models.JSONField(default=dict)
    full_at = models.DateTimeField(_("last full recompute"), null=True)
    rule_tags = models.JSONField(default=dict)  # rule tag id -> its definition when its members were last computed

    def __str__(self) -> str:
        return f"profiles as of {self.computed_on}"


class ProfileManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        # One row, read once per query (an InitPlan): every profile carries the evaluation date and time.
        refresh = ProfileRefresh.objects.filter(pk=1)
        return (
            super()
            .get_queryset()
            .annotate(
                evaluated_on=models.Subquery(refresh.values("computed_on")[:1]),
                evaluated_at=models.Subquery(refresh.values("computed_at")[:1]),
            )
        )


class MemberProfile(models.Model):
    """Computed measures of one member, kept by the nightly set-based refresh (``profiles.member_profiles_refresh``).

    Purchase days are the member's business days with a counted order (not refunded in full), so several
    orders on one day make one purchase day and a fully refunded order makes none. BTYD measures follow
    the usual convention (as lifetimes' ``summary_data_from_transaction_data``): ``frequency`` = purchase
    days - 1, ``recency`` = days from first to last purchase day, ``T`` = days from first purchase day to the
    evaluation date (``ProfileRefresh.computed_on``, the same for every member), ``monetary_value`` = mean
    spend of the repeat purchase days (0 if none).
    """

    # No database foreign key on the member: its per-row check cost 3.5 s of the first 1,000,000-profile refresh.
    # Profiles are derived rows written only by the refresh, which reads them off the member table in the same
    # statement; members are never deleted (erasure keeps the row), and the ORM still cascades a delete.
    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        primary_key=True,
        db_constraint=False,
        related_name="insight_profile",
        verbose_name=_("member"),
    )
    first_purchase_on = models.DateField(_("first purchase day"), null=True, blank=True)
    last_purchase_on = models.DateField(_("last purchase day"), null=True, blank=True)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    purchase_days = models.PositiveIntegerField(_("purchase days"), default=0)
    net_spend = models.DecimalField(_("net spend"), default=0, **MONEY)
    spend_12m = models.DecimalField(_("spend in the last 12 months"), default=0, **MONEY)
    frequency = models.PositiveIntegerField(_("BTYD frequency (repeat purchase days)"), default=0)
    recency = models.PositiveIntegerField(_("BTYD recency (days)"), default=0)
    monetary_value = models.DecimalField(_("BTYD monetary value"), default=0, **MONEY)
    recency_score = models.PositiveSmallIntegerField(_("R score"), null=True, blank=True)
    frequency_score = models.PositiveSmallIntegerField(_("F score"), null=True, blank=True)
    monetary_score = models.PositiveSmallIntegerField(_("M score"), null=True, blank=True)
    rfm_segment = models.CharField(_("RFM segment"), max_length=20, choices=RfmSegment.choices, blank=True)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=8, choices=LifecycleStage.choices)
    average_order_value = models.DecimalField(_("average order value"), null=True, blank=True, **MONEY)
    power_band = models.CharField(_("purchase power"), max_length=8, choices=PowerBand.choices, blank=True)
    channel_habit = models.CharField(_("channel habit"), max_length=16, choices=ChannelHabit.choices, blank=True)
    favourite_category = models.ForeignKey(
        "catalog.Category",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="+",
        verbose_name=_("favourite category"),
    )
    favourite_store = models.ForeignKey(
        "stores.Store",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="+",
        verbose_name=_("favourite store"),
    )
    # The day idleness counts from (the last purchase day, else the join day): the lifecycle stage's input.
    idle_since = models.DateField(_("idle since"), null=True, blank=True)
    # Set when the member's orders changed in a way the refresh cannot see from orders and refunds (a merge).
    is_stale = models.BooleanField(_("to recompute"), default=False)

    objects = ProfileManager()

    class Meta:
        verbose_name = _("member profile")
        verbose_name_plural = _("member profiles")
        # Few indexes: the nightly refresh writes only the rows whose values changed, and low-cardinality
        # columns (stage, segment) gain nothing from an index.
        indexes = [
            models.Index(fields=["last_purchase_on"], name="profile_last_purchase_idx"),
            models.Index(fields=["member"], name="profile_stale_idx", condition=Q(is_stale=True)),
        ]

    def __str__(self) -> str:
        return str(self.member_id)

    def _evaluation(self) -> tuple:
        if "evaluated_on" not in self.__dict__:  # fetched without the manager (e.g. member.insight_profile)
            row = ProfileRefresh.objects.filter(pk=1).values_list("computed_on", "computed_at").first()
            self.evaluated_on, self.evaluated_at = row or (None, None)
        return self.evaluated_on, self.evaluated_at

    @property
    def computed_on(self):
        """The evaluation date of the last refresh (the same for every member)."""
        return self._evaluation()[0]

    @property
    def computed_at(self):
        return self._evaluation()[1]

    @property
    def T(self) -> int:  # the BTYD name: days from the first purchase day to the evaluation date
        computed_on = self._evaluation()[0]
        if self.first_purchase_on is None or computed_on is None:
            return 0
        return max((computed_on - self.first_purchase_on).days, 0)

    @property
    def birthday_month(self) -> int | None:
        """Read from the member, so a birthday entered today counts today."""
        birthday = self.member.birthday
        return birthday.month if birthday else None


class Segment(models.Model):
    """A group of members described by conditions: AND within a group, OR between groups."""

    code = models.SlugField(_("code"), max_length=48, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ("code",)

    def __str__(self) -> str:
        return self.name


class SegmentCondition(models.Model):
    """One condition of a segment. Conditions with the same ``group`` must all hold; any group may match."""

    class Kind(models.TextChoices):
        TAG = "tag", _("has tag (code)")
        TIER = "tier", _("tier is (code)")
        JOINED_FROM = "joined_from", _("joined on or after (YYYY-MM-DD)")
        JOINED_BEFORE = "joined_before", _("joined before (YYYY-MM-DD)")
        PURCHASED_WITHIN = "purchased_within", _("last purchase within days")
        SPEND_12M_AT_LEAST = "spend_12m_at_least", _("spend in the last 12 months at least")
        SPEND_12M_BELOW = "spend_12m_below", _("spend in the last 12 months below")
        JOIN_STORE = "join_store", _("joined at store (code)")
        FAVOURITE_STORE = "favourite_store", _("favourite store (code)")
        CHANNEL_HABIT = "channel_habit", _("channel habit is")
        LIFECYCLE = "lifecycle", _("lifecycle stage is")
        RFM_SEGMENT = "rfm_segment", _("RFM segment is")
        CONSENT = "consent", _("consents to (wechat or sms)")
        HAS_WECHAT = "has_wechat", _("has a WeChat openid")
        P_ALIVE_BELOW = "p_alive_below", _("P(alive) below (0-1, lifetime value model)")
        P_ALIVE_AT_LEAST = "p_alive_at_least", _("P(alive) at least (0-1, lifetime value model)")
        VALUE_BAND = "value_band", _("predicted value band is (top10, top25, top50, bottom50)")

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="conditions", verbose_name=_("segment"))
    group = models.PositiveSmallIntegerField(_("OR group"), default=1)
    kind = models.CharField(_("condition"), max_length=20, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=100, blank=True)
    negate = models.BooleanField(_("not"), default=False)

    class Meta:
        verbose_name = _("condition")
        verbose_name_plural = _("conditions")
        ordering = ("group", "id")

    def __str__(self) -> str:
        return f"{'NOT ' if self.negate else ''}{self.kind} {self.value}".strip()


class SegmentSnapshot(models.Model):
    """The members of a segment frozen at one moment, e.g. the audience of a campaign."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="snapshots", verbose_name=_("segment"))
    taken_at = models.DateTimeField(_("taken at"))
    member_count = models.PositiveIntegerField(_("members"))
    conditions = models.JSONField(_("conditions when taken"), default=list)

    class Meta:
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        ordering = ("-taken_at",)

    def __str__(self) -> str:
        return f"{self.segment_id} @ {self.taken_at:%Y-%m-%d %H:%M}"


class SegmentSnapshotMember(models.Model):
    snapshot = models.ForeignKey(SegmentSnapshot, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        verbose_name = _("snapshot member")
        verbose_name_plural = _("snapshot members")
        constraints = [models.UniqueConstraint(fields=["snapshot", "member"], name="snapshot_member_once")]

    # -- KPI aggregates (kept up to date by ``services.kpi_aggregates_refresh``) -------------------------------

    def __str__(self) -> str:
        return f"{self.snapshot_id}:{self.member_id}"


class SalesDay(models.Model):
    """Every order (member or not) of one business day, per store and channel; net of refunds."""

    day = models.DateField(_("day"))
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    channel = models.ForeignKey("stores.Channel", on_delete=models.CASCADE, related_name="+", db_index=False)
    orders = models.PositiveIntegerField(_("orders"))
    member_orders = models.PositiveIntegerField(_("member orders"))
    sales = models.DecimalField(_("net sales"), **MONEY)
    member_sales = models.DecimalField(_("member net sales"), **MONEY)
    new_member_sales = models.DecimalField(_("sales to members who joined that month"), **MONEY)

    class Meta:
        verbose_name = _("sales day")
        verbose_name_plural = _("sales days")
        indexes = [models.Index(fields=["day"], name="sales_day_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.store_id}/{self.channel_id}"


class MemberMonth(models.Model):
    """One member's net-positive orders of one month at one store and channel."""

    month = models.DateField(_("month"))
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    channel = models.ForeignKey("stores.Channel", on_delete=models.CASCADE, related_name="+", db_index=False)
    orders = models.PositiveIntegerField(_("orders"))
    sales = models.DecimalField(_("net sales"), **MONEY)

    class Meta:
        verbose_name = _("member month")
        verbose_name_plural = _("member months")
        indexes = [
            models.Index(fields=["month", "member"], name="member_month_month_idx"),
            models.Index(fields=["member", "month"], name="member_month_member_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.member_id}"


class KpiMonth(models.Model):
    """The dashboard's figures for one month, over everything or one store and/or channel."""

    month = models.DateField(_("month"))
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    channel = models.ForeignKey("stores.Channel", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    orders = models.PositiveIntegerField(default=0)
    member_orders = models.PositiveIntegerField(default=0)
    sales = models.DecimalField(default=0, **MONEY)
    member_sales = models.DecimalField(default=0, **MONEY)
    new_member_sales = models.DecimalField(default=0, **MONEY)
    active_members = models.PositiveIntegerField(default=0)
    returning_members = models.PositiveIntegerField(default=0)
    active_12m = models.PositiveIntegerField(default=0)
    orders_12m = models.PositiveIntegerField(default=0)
    sales_12m = models.DecimalField(default=0, **MONEY)
    repeat_12m = models.PositiveIntegerField(default=0)
    base_prev_12m = models.PositiveIntegerField(default=0)
    churned = models.PositiveIntegerField(default=0)
    members_total = models.PositiveIntegerField(default=0)
    members_reachable = models.PositiveIntegerField(default=0)
    recruited = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("KPI month")
        verbose_name_plural = _("KPI dashboard")
        indexes = [models.Index(fields=["month", "store", "channel"], name="kpi_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.store_id}/{self.channel_id}"


class TierMonth(models.Model):
    """How many members each tier had at the end of a month (or now, for the running month)."""

    month = models.DateField(_("month"))
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    tier = models.ForeignKey("members.Tier", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    members = models.PositiveIntegerField(_("members"))

    class Meta:
        indexes = [models.Index(fields=["month", "store"], name="tier_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.tier_id}"


class CohortMonth(models.Model):
    """Of the members who joined in ``cohort`` (month), how many bought in ``month``."""

    cohort = models.DateField(_("join month"))
    month = models.DateField(_("month"))
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    cohort_size = models.PositiveIntegerField(_("members who joined"))
    active = models.PositiveIntegerField(_("of them buying"))

    class Meta:
        indexes = [models.Index(fields=["store", "cohort"], name="cohort_month_idx")]

    def __str__(self) -> str:
        return f"{self.cohort:%Y-%m} -> {self.month:%Y-%m}"


class PeopleMonth(models.Model):
    """Recruitment and credited sales per store or per shopping guide in one month."""

    month = models.DateField(_("month"))
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    guide = models.ForeignKey("stores.Staff", on_delete=models.CASCADE, null=True, related_name="+", db_index=False)
    recruited = models.PositiveIntegerField(_("members recruited"), default=0)
    orders = models.PositiveIntegerField(_("credited orders"), default=0)
    sales = models.DecimalField(_("credited net sales"), default=0, **MONEY)

    class Meta:
        indexes = [models.Index(fields=["month"], name="people_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.store_id}/{self.guide_id}"


class KpiStaleMonth(models.Model):
    """A month whose order aggregates the next KPI refresh rebuilds although no order in it was created or
    refunded since: a member merge moved orders between members (one active member now, not two)."""

    month = models.DateField(_("month"), unique=True)

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class KpiWatermark(models.Model):
    """Up to when orders and refunds have been folded into the aggregates (one row)."""

    orders_through = models.DateTimeField(null=True)
    refunds_through = models.DateTimeField(null=True)
    members_through = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"orders through {self.orders_through}"


# The lifetime-value models live in their own package (apps/insights/clv); imported here so Django sees them.
from .clv.models import ClvModel, MemberClv  # noqa: E402, F401
