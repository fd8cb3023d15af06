"""The console's navigation, grouped by what operators do rather than by app, developer tables last."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (group id, label, models in the order shown as (app_label, ModelName)); a model not named here goes to its
# app's default group (APP_GROUP), and one of an app not named there to System.
GROUPS: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("members", _("Members"), [
        ("members", "Member"), ("insights", "MemberTag"), ("insights", "MemberProfile"),
        ("members", "MemberMerge"), ("members", "ConsentEvent"),
    ]),
    ("orders", _("Orders"), [("orders", "Order"), ("orders", "Refund")]),
    ("loyalty", _("Loyalty"), [
        ("members", "Tier"), ("loyalty", "PointsEntry"), ("loyalty", "CouponTemplate"), ("loyalty", "Coupon"),
    ]),
    ("campaigns", _("Campaigns"), [
        ("campaigns", "Journey"), ("campaigns", "Broadcast"), ("insights", "Segment"),
        ("insights", "SegmentSnapshot"), ("campaigns", "OutboxMessage"), ("campaigns", "SendingControl"),
    ]),
    ("insights", _("Insights"), [("insights", "KpiMonth"), ("insights", "Tag"), ("insights", "InsightsConfig")]),
    ("catalog", _("Catalog"), [
        ("catalog", "Product"), ("catalog", "Sku"), ("catalog", "Category"), ("catalog", "TierPrice"),
        ("catalog", "PriceChange"), ("catalog", "Stock"), ("catalog", "StockMovement"),
        ("catalog", "ChannelListing"), ("catalog", "PriceDeviation"),
    ]),
    ("stores", _("Stores and staff"), [
        ("stores", "Store"), ("stores", "Staff"), ("stores", "Channel"), ("stores", "ApiKey"),
    ]),
    ("system", _("System"), [
        ("core", "Heartbeat"), ("django_celery_beat", "PeriodicTask"), ("auth", "User"), ("auth", "Group"),
        ("axes", "AccessLog"), ("axes", "AccessAttempt"), ("axes", "AccessFailureLog"),
    ]),
]  # fmt: skip
APP_GROUP = {
    "members": "members",
    "orders": "orders",
    "loyalty": "loyalty",
    "campaigns": "campaigns",
    "insights": "insights",
    "catalog": "catalog",
    "stores": "stores",
}
# Console pages that are not a model's list, shown in a group when the user may open them:
# (group, label, url name, permission).
PAGES = [
    ("orders", _("Sales by store and guide"), "admin:orders_order_sales", "orders.view_order"),
    ("loyalty", _("Adjust points"), "admin:loyalty_pointsentry_adjust", "loyalty.adjust_points"),
]


def grouped_app_list(app_list: list[dict[str, Any]], request) -> list[dict[str, Any]]:
    """Regroup Django's per-app list (``AdminSite.get_app_list``) into the operators' groups."""
    position = {key: (g, i) for g, (_gid, _label, models) in enumerate(GROUPS) for i, key in enumerate(models)}
    group_index = {gid: g for g, (gid, _label, _models) in enumerate(GROUPS)}
    buckets: list[list[tuple[int, str, dict]]] = [[] for _ in GROUPS]
    for app in app_list:
        for model in app["models"]:
            key = (app["app_label"], model["object_name"])
            if key in position:
                g, i = position[key]
            else:
                g, i = group_index[APP_GROUP.get(app["app_label"], "system")], len(position)
            buckets[g].append((i, str(model["name"]), model))
    for gid, label, url_name, perm in PAGES:
        if request.user.has_perm(perm):
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            page = {"name": label, "object_name": url_name.rpartition(":")[2], "admin_url": url, "add_url": None,
                    "view_only": True, "perms": {"view": True}}  # fmt: skip
            buckets[group_index[gid]].append((len(position) + 1, str(label), page))
    grouped = []
    for (gid, label, _models), bucket in zip(GROUPS, buckets, strict=True):
        if not bucket:
            continue
        models = [model for _i, _name, model in sorted(bucket, key=lambda item: (item[0], item[1]))]
        grouped.append(
            {
                "name": label,
                "app_label": gid,
                "app_url": models[0]["admin_url"],
                "has_module_perms": True,
                "models": models,
            }
        )
    return grouped
