"""The console's home: how we are doing (last complete month against the one before, today so far), whether
messages go out, whether the scheduled jobs run, and the pages operators open every day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.campaigns.selectors import sending_status
from apps.core.dates import last_complete_month
from apps.core.models import Heartbeat
from apps.insights.kpis import DEFINITIONS, KpiScope, kpi_trend
from apps.insights.selectors import refresh_status
from apps.members.selectors import members_joined_count
from apps.orders.selectors import sales_summary

# The figures on the home page, how each is shown, and whether up is good.
HEADLINE = (
    ("member_share_of_transactions", "percent", True),
    ("member_share_of_sales", "percent", True),
    ("active_members", "number", True),
    ("average_order_value", "money", True),
    ("repurchase_rate", "percent", True),
    ("churn_rate", "percent", False),
)
HEADLINE_LABELS = {
    "member_share_of_transactions": _("Member share of transactions"),
    "member_share_of_sales": _("Member share of sales"),
    "active_members": _("Active members"),
    "average_order_value": _("Average order value"),
    "repurchase_rate": _("Repurchase rate"),
    "churn_rate": _("Churn rate"),
}
# A refresh older than this is shown as late (the KPIs refresh hourly, the profiles nightly).
KPIS_LATE = timedelta(hours=3)
PROFILES_LATE = timedelta(hours=36)


def _headline(month: date) -> list[dict[str, Any]]:
    """The headline figures of ``month`` with the change from the month before (one query)."""
    (_before, previous), (_month, current) = kpi_trend(scope=KpiScope(month=month), months=2)
    cards = []
    for name, kind, up_is_good in HEADLINE:
        value, before = current.get(name), previous.get(name)
        change = None
        if value is not None and before is not None:
            change = Decimal(str(value)) - Decimal(str(before))
        cards.append(
            {
                "name": name,
                "label": HEADLINE_LABELS[name],
                "kind": kind,
                "value": value,
                "previous": before,
                "change": change,
                "is_good": None if not change else (change > 0) == up_is_good,
                "definition": DEFINITIONS[name],
            }
        )
    return cards


def _heartbeats(now: datetime) -> list[dict[str, Any]]:
    stale_after = timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    return [
        {"name": beat.name, "last_beat_at": beat.last_beat_at, "is_late": now - beat.last_beat_at > stale_after}
        for beat in Heartbeat.objects.order_by("name")
    ]


def _refreshes(now: datetime) -> list[dict[str, Any]]:
    status = refresh_status()
    return [
        {
            "name": _("KPI aggregates"),
            "at": status["kpis_refreshed_at"],
            "is_late": status["kpis_refreshed_at"] is None or now - status["kpis_refreshed_at"] > KPIS_LATE,
        },
        {
            "name": _("Member profiles"),
            "at": status["profiles_computed_at"],
            "is_late": status["profiles_computed_at"] is None or now - status["profiles_computed_at"] > PROFILES_LATE,
        },
    ]


def _link(name: str, label, query: str = "") -> dict[str, str] | None:
    try:
        return {"url": reverse(name) + query, "label": label}
    except NoReverseMatch:
        return None


def daily_links(request: HttpRequest) -> list[dict[str, str]]:
    """The pages operators open every day, those the user may open."""
    user = request.user
    wanted = [
        ("members.view_member", "admin:members_member_changelist", _("Find a member"), ""),
        ("members.add_member", "admin:members_member_add", _("Register a member"), ""),
        ("loyalty.adjust_points", "admin:loyalty_pointsentry_adjust", _("Adjust points"), ""),
        ("loyalty.change_coupontemplate", "admin:loyalty_coupontemplate_changelist", _("Issue coupons"), ""),
        ("orders.view_order", "admin:orders_order_sales", _("Sales by store and guide"), ""),
        ("insights.view_kpimonth", "admin:insights_kpimonth_changelist", _("KPI dashboard"), ""),
        ("insights.view_segment", "admin:insights_segment_changelist", _("Segments"), ""),
        ("campaigns.view_outboxmessage", "admin:campaigns_outboxmessage_changelist", _("Outbox"), ""),
        ("members.add_member", "admin:members_member_import_file", _("Import members"), ""),
        ("orders.view_order", "admin:orders_order_import_file", _("Import orders"), ""),
    ]
    links = [_link(name, label, query) for perm, name, label, query in wanted if user.has_perm(perm)]
    return [link for link in links if link]


def home_context(request: HttpRequest) -> dict[str, Any]:
    """Everything the home page shows: about ten small indexed queries, whatever the size of the data."""
    now = timezone.now()
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    day_start = datetime.combine(today, time.min, tzinfo=tz)
    day_end = day_start + timedelta(days=1)
    month = last_complete_month(today)
    user = request.user
    context: dict[str, Any] = {
        "dashboard": True,
        "month": month,
        "previous_month": last_complete_month(month),
        "daily_links": daily_links(request),
    }
    if user.has_perm("insights.view_kpimonth"):
        context["headline"] = _headline(month)
        context["kpi_url"] = reverse("admin:insights_kpimonth_changelist") + f"?month={month:%Y-%m}"
    if user.has_perm("orders.view_order"):
        context["today_sales"] = sales_summary(start=day_start, end=day_end)
    if user.has_perm("members.view_member"):
        context["today_recruits"] = members_joined_count(start=day_start, end=day_end)
    if user.has_perm("campaigns.view_outboxmessage"):
        context["sending"] = sending_status(now=now)
        context["sending_url"] = _link("admin:campaigns_sendingcontrol_changelist", "")
    if user.has_perm("core.view_heartbeat"):
        context["heartbeats"] = _heartbeats(now)
    if user.has_perm("insights.view_kpimonth"):
        context["refreshes"] = _refreshes(now)
    return context
