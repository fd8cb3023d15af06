"""The fitted customer-lifetime-value models and every member's scores under the current one."""

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}


class ValueBand(models.TextChoices):
    """Members ranked by predicted 365-day value; shown as the tag ``value:<band>``."""

    TOP10 = "top10", _("Top 10% by predicted value")
    TOP25 = "top25", _("Next 15% (top 10-25%)")
    TOP50 = "top50", _("Next 25% (top 25-50%)")
    BOTTOM50 = "bottom50", _("Bottom 50%")


class LikelyToBuy(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class ClvModel(models.Model):
    """One fit of BG/NBD and Gamma-Gamma as of a date (time unit: day), or a fit that failed and why.

    At most one fitted row is current: the one the members' scores come from. A failed fit is kept for
    the record and changes nothing else.
    """

    class Status(models.TextChoices):
        FITTED = "fitted", _("Fitted")
        FAILED = "failed", _("Not fitted")

    as_of = models.DateField(_("as of"))
    fitted_at = models.DateTimeField(_("fitted at"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices)
    message = models.TextField(_("message"), blank=True)
    is_current = models.BooleanField(_("current"), default=False)
    members = models.PositiveIntegerField(_("members with a purchase"), default=0)
    repeat_buyers = models.PositiveIntegerField(_("members who bought again"), default=0)
    r = models.FloatField(null=True, blank=True)
    alpha = models.FloatField(null=True, blank=True)
    a = models.FloatField(null=True, blank=True)
    b = models.FloatField(null=True, blank=True)
    log_likelihood = models.FloatField(_("BG/NBD log-likelihood"), null=True, blank=True)
    p = models.FloatField(null=True, blank=True)
    q = models.FloatField(null=True, blank=True)
    v = models.FloatField(null=True, blank=True)
    gg_log_likelihood = models.FloatField(_("Gamma-Gamma log-likelihood"), null=True, blank=True)
    seconds = models.FloatField(_("seconds to fit and score"), null=True, blank=True)
    # The holdout check and the score distributions, computed with the fit (the console page only reads them).
    diagnostics = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "insights"
        verbose_name = _("lifetime value model")
        verbose_name_plural = _("lifetime value models")
        ordering = ("-fitted_at",)
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True), name="clv_model_one_current"),
            models.CheckConstraint(condition=Q(is_current=False) | Q(status="fitted"), name="clv_model_current_fitted"),
        ]

    def __str__(self) -> str:
        return f"CLV model as of {self.as_of} ({self.get_status_display()})"


class MemberClv(models.Model):
    """One member's predictions under the current model, as of its date (rewritten by each fit, set-based)."""

    # No database foreign key, as on the profile: rows are derived and rewritten a million at a time.
    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        primary_key=True,
        db_constraint=False,
        related_name="clv",
        verbose_name=_("member"),
    )
    as_of = models.DateField(_("as of"))
    p_alive = models.FloatField(_("P(alive)"))
    # P(alive) under the previous fit: "P(alive) fell below X" journeys compare the two.
    p_alive_before = models.FloatField(_("P(alive) under the previous fit"), null=True, blank=True)
    expected_purchases_90d = models.FloatField(_("expected purchases in 90 days"))
    expected_purchases_365d = models.FloatField(_("expected purchases in 365 days"))
    expected_spend = models.DecimalField(_("expected spend per purchase"), **MONEY)
    expected_value_365d = models.DecimalField(_("predicted 365-day value"), **MONEY)
    value_band = models.CharField(_("value band"), max_length=8, choices=ValueBand.choices)

    class Meta:
        app_label = "insights"
        verbose_name = _("member lifetime value")
        verbose_name_plural = _("member lifetime values")
        indexes = [models.Index(fields=["value_band"], name="member_clv_band_idx")]

    def __str__(self) -> str:
        return str(self.member_id)

    @property
    def likely_to_buy(self) -> str | None:
        return likely_to_buy(self.expected_purchases_365d)


# "Likely to buy again", in words, from the expected purchases in the next year (not P(alive), which is 1
# for every member who never bought twice, however long ago).
LIKELY_HIGH_FROM = 1.0
LIKELY_MEDIUM_FROM = 0.3


def likely_to_buy(expected_purchases_365d: float | None) -> str | None:
    if expected_purchases_365d is None:
        return None
    if expected_purchases_365d >= LIKELY_HIGH_FROM:
        return LikelyToBuy.HIGH
    if expected_purchases_365d >= LIKELY_MEDIUM_FROM:
        return LikelyToBuy.MEDIUM
    return LikelyToBuy.LOW
