"""Demo tags and segments; the profiles and KPI aggregates are computed at once, so the first screen is full."""

from __future__ import annotations

from apps.catalog.models import Category
from apps.core.demo_links import demo_url

from .clv import demo as clv_demo
from .conditions import ConditionSpec
from .kpis import kpi_aggregates_refresh
from .models import InsightsConfig, Segment, Tag
from .profiles import member_profiles_refresh
from .services import segment_save

SEGMENTS = [
    (
        "lapsing-reachable",
        "Lapsing, reachable on WeChat",
        [
            ConditionSpec(kind="lifecycle", value="at_risk"),
            ConditionSpec(kind="has_wechat"),
            ConditionSpec(kind="consent", value="wechat"),
        ],
    ),
    (
        "gold-or-vip",
        "Gold members or VIPs",
        [ConditionSpec(kind="tier", value="gold", group=1), ConditionSpec(kind="tag", value="vip", group=2)],
    ),
    (
        "champions-omnichannel",
        "Omnichannel champions",
        [
            ConditionSpec(kind="rfm_segment", value="champions"),
            ConditionSpec(kind="channel_habit", value="omnichannel"),
        ],
    ),
    (
        "slipping-away",
        "Probably gone: P(alive) below 0.5 (win back now)",
        [ConditionSpec(kind="p_alive_below", value="0.5")],
    ),
    ("top-value", "Top 10% by predicted value", [ConditionSpec(kind="value_band", value="top10")]),
]


def seed(*, stdout) -> list[str]:
    InsightsConfig.objects.get_or_create(pk=1)
    Tag.objects.get_or_create(code="vip", defaults={"name": "VIP", "description": "Set by store managers."})
    liked, _ = Tag.objects.get_or_create(code="liked", defaults={"name": "Liked us on a platform"})
    kit, created = Tag.objects.get_or_create(
        code="shoes-and-bag",
        defaults={"name": "Shoes and a bag in one order", "kind": Tag.Kind.RULE, "rule": Tag.Rule.BOUGHT_TOGETHER},
    )
    if created:
        kit.rule_categories.set(Category.objects.filter(code__in=["footwear", "bags"]))
    Tag.objects.get_or_create(
        code="fan",
        defaults={
            "name": "Liked but never bought",
            "kind": Tag.Kind.RULE,
            "rule": Tag.Rule.TAGGED_NEVER_BOUGHT,
            "rule_tag": liked,
        },
    )
    for code, name, conditions in SEGMENTS:
        if not Segment.objects.filter(code=code).exists():
            segment_save(code=code, name=name, conditions=conditions)
    history = clv_demo.history_seed()
    profiles = member_profiles_refresh()
    kpis = kpi_aggregates_refresh(full=True)
    clv = clv_demo.fit()
    return [
        f"Insights: {Segment.objects.count()} segments, {Tag.objects.count()} tags; "
        f"{profiles['profiles']} profiles and {kpis.get('kpi_months', 0)} KPI months computed now "
        f"(the KPI dashboard: {demo_url('/admin/insights/kpimonth/')})",
        history,
        clv,
    ]
