from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.db import aware_datetime
from apps.stores.models import Channel, Store

from .codes import member_code_is_valid
from .errors import InvalidPhone, MemberNotFound
from .models import Consent, Identity, Member, MemberMerge, MemberSpendDay, Tier, TierChange
from .phones import SEPARATORS, phone_mask, phone_normalize

_MEMBER_JOINS = ("tier", "join_store", "join_channel", "recruited_by")


def _resolve(member: Member | None) -> Member:
    """Follow merged members to their survivor (a merge chain is at most a few links long)."""
    seen = 0
    while member is not None and member.status == Member.Status.MERGED and seen < 10:
        member = Member.objects.select_related(*_MEMBER_JOINS).filter(pk=member.merged_into_id).first()
        seen += 1
    if member is None or member.status == Member.Status.ERASED:
        raise MemberNotFound(_("No member matches."))  # an erased member is gone for every lookup
    return member


def member_lookup_of(text: str) -> dict[str, str]:
    """The one rule for "is this typed or scanned text a card code or a phone?": a lookup for ``member_get``.

    A card code is 12 digits with a valid Luhn check digit and never starts with 0 (``codes.member_code_new``),
    read through spaces and dashes (``1234 5678 9012``); a leading ``+`` always means a phone. Anything else
    that normalises as a phone (``138 0013 8000``, ``+86 138-0013-8000``, ``008613800138000``) is a phone;
    the rest is looked up as a code as typed (older or imported codes). So ``123456789012`` (not a valid card
    code, not a phone) is a code that matches nobody, wherever it is typed.
    """
    text = (text or "").strip()
    compact = SEPARATORS.sub("", text)
    if not text.startswith("+") and compact[:1] != "0" and member_code_is_valid(compact):
        return {"code": compact}
    try:
        return {"phone": phone_normalize(text)}
    except InvalidPhone:
        return {"code": text}


def _member_q(
    *, code: str | None = None, phone: str | None = None, openid: str | None = None, unionid: str | None = None
) -> Q:
    """Which row a lookup names, before merges are followed: the one definition ``member_get`` and
    ``member_card`` share."""
    if code:
        return Q(code=code.strip())
    if phone:
        return Q(phone=phone_normalize(phone))
    if openid or unionid:
        kind = Identity.Kind.WECHAT_OPENID if openid else Identity.Kind.WECHAT_UNIONID
        value = (openid or unionid).strip()
        return Q(pk__in=Identity.objects.filter(kind=kind, channel=None, value=value).values("member_id")[:1])
    raise MemberNotFound(_("No member matches."))


def member_get(
    *, code: str | None = None, phone: str | None = None, openid: str | None = None, unionid: str | None = None
) -> Member:
    """The member resolver: by code, phone (any form), WeChat openid or unionid; a merged member resolves to
    its survivor, an erased one is not found. Every edge finds members through it (or ``member_find``)."""
    member = (
        Member.objects.select_related(*_MEMBER_JOINS)
        .filter(_member_q(code=code, phone=phone, openid=openid, unionid=unionid))
        .first()
    )
    if member is None:
        raise MemberNotFound(_("No member matches."))
    return _resolve(member)


def member_find(*, text: str) -> Member:
    """The member a clerk or operator typed or scanned: a card code or a phone (``member_lookup_of``)."""
    return member_get(**member_lookup_of(text))


def member_card(
    *, code: str | None = None, phone: str | None = None, openid: str | None = None, unionid: str | None = None
) -> dict:
    """What the API says about a member (see ``api.MemberOutputSerializer``), in one query.

    The lookup endpoint answers every POS scan, so this reads one row without model instances; the row is
    the one ``member_get`` would find, and merged members take its path to their survivor.
    """
    m, t, s, c = Member._meta.db_table, Tier._meta.db_table, Store._meta.db_table, Channel._meta.db_table
    named = Member.objects.filter(_member_q(code=code, phone=phone, openid=openid, unionid=unionid)).values("pk")
    where, params = named[:1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.code, m.phone, m.name, t.code, t.name, m.points_balance, m.joined_at, s.code, c.code, m.status "
            f"FROM {m} m LEFT JOIN {t} t ON t.id = m.tier_id LEFT JOIN {s} s ON s.id = m.join_store_id "
            f"LEFT JOIN {c} c ON c.id = m.join_channel_id WHERE m.id = ({where})",
            params,
        )
        row = cursor.fetchone()
    if row is None or row[9] == Member.Status.ERASED:
        raise MemberNotFound(_("No member matches."))
    if row[9] == Member.Status.MERGED:
        return member_card_of(member_get(code=row[0]))
    return {
        "code": row[0],
        "phone_masked": phone_mask(row[1]),
        "name": row[2],
        "tier": {"code": row[3], "name": row[4]} if row[3] else None,
        "points_balance": row[5],
        "joined_at": aware_datetime(row[6]).isoformat(),
        "join_store": row[7],
        "join_channel": row[8],
    }


def member_card_of(member: Member) -> dict:
    """The same body as ``member_card`` for a member already loaded (with its joins)."""
    return {
        "code": member.code,
        "phone_masked": phone_mask(member.phone),
        "name": member.name,
        "tier": {"code": member.tier.code, "name": member.tier.name} if member.tier else None,
        "points_balance": member.points_balance,
        "joined_at": member.joined_at.isoformat(),
        "join_store": member.join_store.code if member.join_store else None,
        "join_channel": member.join_channel.code if member.join_channel else None,
    }


def member_spend_12m(*, member_id: int, at: datetime | None = None) -> Decimal:
    """What the member spent in the 12 months up to ``at`` (refunds subtracted)."""
    since = window_start(at or timezone.now())
    total = MemberSpendDay.objects.filter(member_id=member_id, day__gt=since).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0.00")


def window_start(at: datetime) -> date:
    """The rolling 12-month window is the days after this one, up to and including ``at``'s day."""
    local = timezone.localtime(at).date()
    try:
        return local.replace(year=local.year - 1)
    except ValueError:  # 29 February
        return local.replace(year=local.year - 1, day=28)


def tier_for_spend(*, spend: Decimal, tiers: list[Tier] | None = None) -> Tier | None:
    """The highest tier whose threshold ``spend`` reaches."""
    tiers = tiers if tiers is not None else list(Tier.objects.order_by("rank"))
    best = None
    for tier in tiers:
        if spend >= tier.min_annual_spend:
            best = tier
    return best


def base_tier() -> Tier | None:
    return Tier.objects.filter(min_annual_spend=0).order_by("rank").first()


def tier_distribution() -> list[dict]:
    """Active members per tier (and without a tier), with their share, in one query."""
    rows = list(
        Member.objects.filter(status=Member.Status.ACTIVE)
        .values("tier__code", "tier__name", "tier__rank")
        .annotate(members=Count("id"))
        .order_by("tier__rank")
    )
    total = sum(r["members"] for r in rows) or 1
    for row in rows:
        row["share"] = round(100 * row["members"] / total, 1)
    return rows


def members_recent(*, days: int = 30) -> QuerySet[Member]:
    return Member.objects.filter(joined_at__gte=timezone.now() - timedelta(days=days)).select_related(*_MEMBER_JOINS)


def tier_progress(*, member: Member, at: datetime | None = None) -> dict:
    """The member's 12-month spend and what is left to reach the next tier: two small queries.

    ``{"spend_12m", "next_tier" (or None at the top), "remaining", "percent"}``.
    """
    spend = member_spend_12m(member_id=member.pk, at=at)
    current_rank = member.tier.rank if member.tier else -1
    next_tier = Tier.objects.filter(rank__gt=current_rank).order_by("rank").first()
    if next_tier is None:
        return {"spend_12m": spend, "next_tier": None, "remaining": Decimal("0.00"), "percent": 100}
    low = member.tier.min_annual_spend if member.tier else Decimal("0.00")
    span = next_tier.min_annual_spend - low
    done = spend - low
    percent = 100 if span <= 0 else max(0, min(100, int(done * 100 / span)))
    return {
        "spend_12m": spend,
        "next_tier": next_tier,
        "remaining": max(next_tier.min_annual_spend - spend, Decimal("0.00")),
        "percent": percent,
    }


def members_recruited_summary(*, store_id: int, guide_id: int, day_start: datetime, month_start: datetime) -> dict:
    """Members who joined at ``store_id`` since ``day_start`` and since ``month_start``, all and by ``guide_id``.

    One count over the (join_store, joined_at) index: ``{"day", "month", "my_day", "my_month"}``.
    """
    mine = Q(recruited_by_id=guide_id)
    return Member.objects.filter(join_store_id=store_id, joined_at__gte=min(day_start, month_start)).aggregate(
        day=Count("pk", filter=Q(joined_at__gte=day_start)),
        month=Count("pk", filter=Q(joined_at__gte=month_start)),
        my_day=Count("pk", filter=mine & Q(joined_at__gte=day_start)),
        my_month=Count("pk", filter=mine & Q(joined_at__gte=month_start)),
    )


# -- the console's member 360° (each read bounded, each one indexed query) ----------------------------------


def member_for_console(*, member_id: int) -> Member | None:
    """The member as stored (merged and erased ones too: the console shows what happened), with its joins."""
    return Member.objects.select_related(*_MEMBER_JOINS, "merged_into").filter(pk=member_id).first()


def member_identities(*, member_id: int) -> list[Identity]:
    return list(Identity.objects.filter(member_id=member_id).select_related("channel").order_by("kind", "id"))


def member_consents(*, member_id: int) -> list[Consent]:
    return list(Consent.objects.filter(member_id=member_id).order_by("channel"))


def member_tier_changes(*, member_id: int, limit: int = 20) -> list[TierChange]:
    """The member's latest tier moves, newest first (tier_change_member_idx)."""
    return list(
        TierChange.objects.filter(member_id=member_id)
        .select_related("from_tier", "to_tier")
        .order_by("-changed_at", "-id")[:limit]
    )


def member_merges(*, member_id: int, limit: int = 20) -> list[MemberMerge]:
    """Merges the member took part in, as survivor or as the merged one, newest first."""
    return list(
        MemberMerge.objects.filter(Q(survivor_id=member_id) | Q(merged_id=member_id))
        .select_related("survivor", "merged", "operator")
        .order_by("-merged_at", "-id")[:limit]
    )


def members_joined_count(*, start: datetime, end: datetime) -> int:
    """Members who joined in [start, end) (the joined_at index)."""
    return Member.objects.filter(joined_at__gte=start, joined_at__lt=end).count()
