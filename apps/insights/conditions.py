"""Segment conditions as small strategies: each kind parses its value and returns a Q on Member.

Parsing and compiling are separate so that bad input is reported before anything is saved, and so
that a segment compiles to one query (EXISTS subqueries and joins, never a Python loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from apps.core.dates import local_midnight
from apps.members.models import Consent, Identity

from .clv.models import ValueBand
from .models import ChannelHabit, LifecycleStage, MemberTag, RfmSegment, SegmentCondition

Kind = SegmentCondition.Kind


@dataclass(frozen=True)
class ConditionSpec:
    kind: str
    value: str = ""
    negate: bool = False
    group: int = 1


def _day_start(day: date) -> datetime:
    return local_midnight(day)


def _parse_date(value: str) -> date:
    parsed = parse_date(value.strip()) if value else None
    if parsed is None:
        raise ValueError(_("give a date as YYYY-MM-DD"))
    return parsed


def _parse_days(value: str) -> int:
    try:
        days = int(value.strip())
    except ValueError:
        raise ValueError(_("give a whole number of days")) from None
    if not 0 < days <= 36500:
        raise ValueError(_("give a number of days between 1 and 36500"))
    return days


def _parse_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(_("give an amount such as 500.00")) from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(_("give a non-negative amount"))
    return amount


def _parse_code(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(_("give a code"))
    return value


def _parse_probability(value: str) -> float:
    try:
        probability = float(value.strip())
    except ValueError:
        raise ValueError(_("give a probability between 0 and 1, such as 0.3")) from None
    if not 0 <= probability <= 1:
        raise ValueError(_("give a probability between 0 and 1, such as 0.3"))
    return probability


def _choice(choices: Iterable[str]) -> Callable[[str], str]:
    allowed = list(choices)

    def parse(value: str) -> str:
        value = value.strip()
        if value not in allowed:
            raise ValueError(_("choose one of: %(choices)s") % {"choices": ", ".join(allowed)})
        return value

    return parse


def _nothing(value: str) -> str:
    if value.strip():
        raise ValueError(_("this condition takes no value"))
    return ""


# Membership tests are EXISTS: under an OR, PostgreSQL hashes the subquery when it fits in work_mem and
# otherwise probes the (member, ...) index per member; an uncorrelated IN would rescan the subquery per
# member when the hash does not fit, which is quadratic.
def _tag_q(code: str) -> Q:
    return Q(Exists(MemberTag.objects.filter(member_id=OuterRef("pk"), tag__code=code)))


def _tier_q(code: str) -> Q:
    return Q(tier__code=code)


def _purchased_within_q(days: int) -> Q:
    since = timezone.localdate() - timedelta(days=days)
    return Q(insight_profile__last_purchase_on__gt=since)


def _consent_q(channel: str) -> Q:
    return Q(Exists(Consent.objects.filter(member_id=OuterRef("pk"), channel=channel, granted=True)))


def _wechat_q(_value: str) -> Q:
    identities = Identity.objects.filter(member_id=OuterRef("pk"), kind=Identity.Kind.WECHAT_OPENID)
    return Q(Exists(identities.filter(channel__isnull=True)))


# kind -> (parse value, build Q)
STRATEGIES: dict[str, tuple[Callable[[str], Any], Callable[[Any], Q]]] = {
    Kind.TAG: (_parse_code, _tag_q),
    Kind.TIER: (_parse_code, _tier_q),
    Kind.JOINED_FROM: (_parse_date, lambda d: Q(joined_at__gte=_day_start(d))),
    Kind.JOINED_BEFORE: (_parse_date, lambda d: Q(joined_at__lt=_day_start(d))),
    Kind.PURCHASED_WITHIN: (_parse_days, _purchased_within_q),
    Kind.SPEND_12M_AT_LEAST: (_parse_amount, lambda a: Q(insight_profile__spend_12m__gte=a)),
    Kind.SPEND_12M_BELOW: (
        _parse_amount,
        lambda a: Q(insight_profile__spend_12m__lt=a) | Q(insight_profile__isnull=True),
    ),
    Kind.JOIN_STORE: (_parse_code, lambda c: Q(join_store__code=c)),
    Kind.FAVOURITE_STORE: (_parse_code, lambda c: Q(insight_profile__favourite_store__code=c)),
    Kind.CHANNEL_HABIT: (_choice(ChannelHabit.values), lambda v: Q(insight_profile__channel_habit=v)),
    Kind.LIFECYCLE: (_choice(LifecycleStage.values), lambda v: Q(insight_profile__lifecycle_stage=v)),
    Kind.RFM_SEGMENT: (_choice(RfmSegment.values), lambda v: Q(insight_profile__rfm_segment=v)),
    Kind.CONSENT: (_choice(Consent.Channel.values), _consent_q),
    Kind.HAS_WECHAT: (_nothing, _wechat_q),
    # Lifetime value scores (apps/insights/clv): a member not scored yet matches neither side.
    Kind.P_ALIVE_BELOW: (_parse_probability, lambda p: Q(clv__p_alive__lt=p)),
    Kind.P_ALIVE_AT_LEAST: (_parse_probability, lambda p: Q(clv__p_alive__gte=p)),
    Kind.VALUE_BAND: (_choice(ValueBand.values), lambda v: Q(clv__value_band=v)),
}


def condition_errors(specs: Iterable[ConditionSpec]) -> dict[str, list[str]]:
    """What is wrong with each condition, keyed ``condition-<n>`` (empty when all are valid)."""
    errors: dict[str, list[str]] = {}
    for n, spec in enumerate(specs, start=1):
        strategy = STRATEGIES.get(spec.kind)
        if strategy is None:
            errors[f"condition-{n}"] = [_("unknown condition %(kind)r") % {"kind": spec.kind}]
            continue
        try:
            strategy[0](spec.value or "")
        except ValueError as exc:
            errors[f"condition-{n}"] = [f"{spec.kind}: {exc}"]
    return errors


def conditions_groups(specs: Iterable[ConditionSpec]) -> list[Q]:
    """One Q per group (its conditions ANDed), in group order; a member matches when any group matches."""
    groups: dict[int, Q] = {}
    for spec in specs:
        parse, build = STRATEGIES[spec.kind]
        q = build(parse(spec.value or ""))
        if spec.negate:
            q = ~q
        groups[spec.group] = groups[spec.group] & q if spec.group in groups else q
    return [groups[group] for group in sorted(groups)]


def conditions_q(specs: Iterable[ConditionSpec]) -> Q:
    """AND within each group, OR between groups; no conditions at all matches every member."""
    combined = Q()
    for q in conditions_groups(specs):
        combined = combined | q if combined else q
    return combined
