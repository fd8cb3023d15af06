"""Reads of the lifetime value models and scores."""

from __future__ import annotations

from typing import Any

from .models import ClvModel, MemberClv, likely_to_buy


def clv_current_model() -> ClvModel | None:
    """The fitted model the members' scores come from (None before the first fit)."""
    return ClvModel.objects.filter(is_current=True).first()


def clv_models_recent(*, limit: int = 10) -> list[ClvModel]:
    """The latest fits, failed ones included (the console shows why they failed)."""
    return list(ClvModel.objects.order_by("-fitted_at", "-pk")[:limit])


def member_clv(*, member_id: int) -> tuple[dict[str, Any] | None, str | None]:
    """A member's predictions (the API's ``clv`` block) and value band, in one query; (None, None) before the
    first fit or for a member without a purchase by its date."""
    row = (
        MemberClv.objects.filter(member_id=member_id)
        .values(
            "p_alive", "expected_purchases_90d", "expected_purchases_365d", "expected_value_365d", "as_of", "value_band"
        )
        .first()
    )
    if row is None:
        return None, None
    return {
        "p_alive": round(row["p_alive"], 6),
        "expected_purchases_90d": round(row["expected_purchases_90d"], 6),
        "expected_purchases_365d": round(row["expected_purchases_365d"], 6),
        "expected_value_365d": f"{row['expected_value_365d']:.2f}",
        "as_of": row["as_of"].isoformat(),
    }, row["value_band"]


def member_likely_to_buy(*, member_id: int) -> str | None:
    """'high', 'medium' or 'low' (how likely the member buys again in the next year), or None if not scored."""
    value = MemberClv.objects.filter(member_id=member_id).values_list("expected_purchases_365d", flat=True).first()
    return likely_to_buy(value)
