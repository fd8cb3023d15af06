"""Writes for members: registration, identities, consent, spend and tiers, merge and erasure.

Locking policy: a service that changes a member's tier or merges members locks the member rows
(``select_for_update``, in ascending pk order when there are two) before reading spend or tiers, so
concurrent orders and merges of the same member serialise instead of overwriting each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.core.db import require_transaction
from apps.core.money import quantize_money
from apps.stores.models import Channel, Staff, Store

from .codes import member_code_new
from .errors import IdentityConflict, InvalidMemberData, MemberNotActive, MergeInvalid, PhoneTaken
from .merge import merge_hooks
from .models import Consent, ConsentEvent, Identity, Member, MemberMerge, MemberSpendDay, Tier, TierChange
from .phones import phone_normalize
from .selectors import base_tier, member_spend_12m, tier_for_spend, window_start


@dataclass(frozen=True)
class IdentityInput:
    kind: str
    value: str
    channel_id: int | None = None


def _identity_inputs(identities: Iterable[Mapping[str, Any] | IdentityInput], channel: Channel | None) -> list:
    result = []
    for item in identities:
        if isinstance(item, IdentityInput):
            result.append(item)
            continue
        kind, value = str(item.get("kind", "")), str(item.get("value", "")).strip()
        if kind not in Identity.Kind.values:
            raise InvalidMemberData(
                f"{kind!r} is not an identity kind.", errors={"identities": [f"unknown kind {kind!r}"]}
            )
        if not value or len(value) > 128:
            raise InvalidMemberData("An identity needs a value of at most 128 characters.")
        channel_id = None
        if kind == Identity.Kind.CHANNEL_CUSTOMER:
            channel_id = item.get("channel_id") or (channel.pk if channel else None)
            if channel_id is None:
                raise InvalidMemberData("A channel customer id needs its channel.")
        result.append(IdentityInput(kind, value, channel_id))
    return result


def identity_add(*, member: Member, kind: str, value: str, channel_id: int | None = None) -> Identity:
    """Bind an identity to ``member``; one already bound to another member is a conflict, never moved."""
    existing = Identity.objects.filter(kind=kind, channel_id=channel_id, value=value).first()
    if existing is not None:
        if existing.member_id != member.pk:
            raise IdentityConflict(f"This {kind} is already bound to another member.")
        return existing
    try:
        with transaction.atomic():
            return Identity.objects.create(member=member, kind=kind, channel_id=channel_id, value=value)
    except IntegrityError:
        existing = Identity.objects.get(kind=kind, channel_id=channel_id, value=value)
        if existing.member_id != member.pk:
            raise IdentityConflict(f"This {kind} is already bound to another member.") from None
        return existing


def consent_set(
    *, member: Member, channel: str, granted: bool, source: str = "", at: datetime | None = None
) -> Consent:
    """Record a grant or withdrawal now (current state plus history)."""
    if channel not in Consent.Channel.values:
        raise InvalidMemberData(f"{channel!r} is not an outreach channel.")
    at = at or timezone.now()
    consent, _created = Consent.objects.update_or_create(
        member=member, channel=channel, defaults={"granted": granted, "changed_at": at, "source": source[:100]}
    )
    ConsentEvent.objects.create(member=member, channel=channel, granted=granted, at=at, source=source[:100])
    return consent


def _validate_profile(*, name: str, birthday: date | None, at: datetime) -> None:
    if len(name) > 100:
        raise InvalidMemberData("A name is at most 100 characters.", errors={"name": ["too long"]})
    if birthday is not None and birthday > timezone.localtime(at).date():
        raise InvalidMemberData("A birthday cannot be in the future.", errors={"birthday": ["in the future"]})
    if birthday is not None and birthday.year < 1900:
        raise InvalidMemberData("That birthday is not plausible.", errors={"birthday": ["before 1900"]})


def _create_member(**fields: Any) -> Member:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Member.objects.create(code=member_code_new(), **fields)
        except IntegrityError as exc:
            if "code" not in str(exc):
                raise
    raise IntegrityError("could not find a free member code")


@transaction.atomic
def member_register(
    *,
    phone: str,
    name: str = "",
    birthday: date | None = None,
    store: Store | None = None,
    channel: Channel | None = None,
    guide: Staff | None = None,
    identities: Iterable[Mapping[str, Any] | IdentityInput] = (),
    consents: Mapping[str, bool] | None = None,
    at: datetime | None = None,
) -> tuple[Member, bool]:
    """Register a member, or return the one with this phone and add new identities (never a duplicate).

    Nothing already set on an existing member is overwritten; an identity bound to someone else is a
    conflict and nothing at all is changed.
    """
    at = at or timezone.now()
    e164 = phone_normalize(phone)
    name = (name or "").strip()
    _validate_profile(name=name, birthday=birthday, at=at)
    wanted = _identity_inputs(identities, channel)
    member = Member.objects.select_for_update().filter(phone=e164).first()
    created = False
    if member is None:
        tier = base_tier()
        try:
            with transaction.atomic():
                member = _create_member(
                    phone=e164,
                    name=name,
                    birthday=birthday,
                    joined_at=at,
                    join_channel=channel,
                    join_store=store,
                    recruited_by=guide,
                    tier=tier,
                    tier_since=at if tier else None,
                )
                created = True
        except IntegrityError:
            # Someone registered this phone at the same moment: theirs is the member.
            member = Member.objects.select_for_update().get(phone=e164)
        if created and tier is not None:
            TierChange.objects.create(member=member, to_tier=tier, reason=TierChange.Reason.JOINED, changed_at=at)
    if member.status != Member.Status.ACTIVE:
        raise MemberNotActive("This member was merged or erased.")
    if not created:
        updates = {}
        if not member.name and name:
            updates["name"] = name
        if member.birthday is None and birthday is not None:
            updates["birthday"] = birthday
        if updates:
            Member.objects.filter(pk=member.pk).update(**updates)
            for key, value in updates.items():
                setattr(member, key, value)
    for identity in wanted:
        identity_add(member=member, kind=identity.kind, value=identity.value, channel_id=identity.channel_id)
    if consents:
        already = set(Consent.objects.filter(member=member).values_list("channel", flat=True))
        source = store.code if store else (channel.code if channel else "")
        for outreach, granted in consents.items():
            if outreach not in already:
                consent_set(member=member, channel=outreach, granted=bool(granted), source=source, at=at)
    return member, created


def member_profile_check(
    *, member: Member | None, phone: str, name: str = "", birthday: date | None = None, at: datetime | None = None
) -> str:
    """Check a profile as registration and editing take it; return the phone in E.164.

    ``member`` is the one being edited (None for a new member). Forms call this to show the refusal on
    the field; the services call it again under lock, and the unique index on the phone is the guarantee.
    """
    if member is not None and member.status != Member.Status.ACTIVE:
        raise MemberNotActive("This member was merged or erased.")
    e164 = phone_normalize(phone)
    _validate_profile(name=(name or "").strip(), birthday=birthday, at=at or timezone.now())
    other = Member.objects.filter(phone=e164).exclude(pk=member.pk if member else None).values("code").first()
    if other is not None:
        raise PhoneTaken(
            f"{e164} already belongs to member {other['code']}.",
            errors={"phone": [f"already belongs to member {other['code']}"]},
        )
    return e164


@transaction.atomic
def member_update(*, member: Member, phone: str, name: str, birthday: date | None) -> Member:
    """Correct a member's phone, name and birthday; the phone is stored in E.164 and stays unique."""
    locked = Member.objects.select_for_update().get(pk=member.pk)
    e164 = member_profile_check(member=locked, phone=phone, name=name, birthday=birthday)
    locked.phone, locked.name, locked.birthday = e164, (name or "").strip(), birthday
    try:
        with transaction.atomic():
            locked.save(update_fields=["phone", "name", "birthday"])
    except IntegrityError:
        # Someone took the phone between the check and the write.
        raise PhoneTaken(f"{e164} already belongs to another member.", errors={"phone": ["taken"]}) from None
    return locked


def _spend_day_add(*, member_id: int, day: date, amount: Decimal) -> None:
    table = MemberSpendDay._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (member_id, day, amount) VALUES (%s, %s, %s) "
            f"ON CONFLICT (member_id, day) DO UPDATE SET amount = {table}.amount + excluded.amount",
            [member_id, day, amount],
        )


@transaction.atomic
def member_record_spend(*, member_id: int, amount: Decimal, at: datetime, reference: str = "") -> Member:
    """Add ``amount`` (negative for refunds) to the member's spend; upgrade the tier at once if it qualifies."""
    member = Member.objects.select_for_update(no_key=True, of=("self",)).select_related("tier").get(pk=member_id)
    _spend_day_add(member_id=member_id, day=timezone.localtime(at).date(), amount=quantize_money(amount))
    if amount <= 0:
        return member  # refunds never downgrade at once; the yearly evaluation does, after the grace period
    spend = member_spend_12m(member_id=member_id, at=at)
    target = tier_for_spend(spend=spend)
    if target is not None and (member.tier is None or target.rank > member.tier.rank):
        TierChange.objects.create(
            member=member,
            from_tier=member.tier,
            to_tier=target,
            reason=TierChange.Reason.SPEND,
            spend_12m=spend,
            changed_at=at,
        )
        member.tier, member.tier_since = target, at
        member.save(update_fields=["tier", "tier_since"])
    return member


def member_record_spend_in_transaction(*, member_id: int, amount: Decimal, at: datetime, reference: str = "") -> None:
    """``member_record_spend`` inside the caller's transaction, which already holds the member row lock
    (``FOR NO KEY UPDATE``) and rolls back whole on any error: no savepoint, and the day's
    upsert, the 12-month sum, the member's tier and the tier that sum reaches are one statement."""
    require_transaction("member_record_spend_in_transaction")
    day = timezone.localtime(at).date()
    m, d, t = Member._meta.db_table, MemberSpendDay._meta.db_table, Tier._meta.db_table
    with connection.cursor() as cursor:
        # The CTE's upsert is not visible to the statement's own reads: add the day's new amount to the sum of
        # the other days in the window (the day itself is always inside the window).
        cursor.execute(
            f"WITH up AS (INSERT INTO {d} (member_id, day, amount) VALUES (%(member)s, %(day)s, %(amount)s) "
            f"ON CONFLICT (member_id, day) DO UPDATE SET amount = {d}.amount + excluded.amount RETURNING amount), "
            f"s AS (SELECT COALESCE((SELECT SUM(amount) FROM {d} WHERE member_id = %(member)s AND day > %(since)s "
            f"AND day <> %(day)s), 0) + (SELECT amount FROM up) AS spend) "
            f"SELECT mm.tier_id, ct.rank, s.spend, nt.id, nt.rank FROM {m} mm CROSS JOIN s "
            f"LEFT JOIN {t} ct ON ct.id = mm.tier_id "
            f"LEFT JOIN LATERAL (SELECT id, rank FROM {t} WHERE min_annual_spend <= s.spend "
            f"ORDER BY rank DESC LIMIT 1) nt ON true WHERE mm.id = %(member)s",
            {"member": member_id, "day": day, "amount": quantize_money(amount), "since": window_start(at)},
        )
        tier_id, rank, spend, target_id, target_rank = cursor.fetchone()
    if amount <= 0:
        return  # refunds never downgrade at once; the yearly evaluation does, after the grace period
    if target_id is not None and (tier_id is None or target_rank > rank):
        TierChange.objects.create(
            member_id=member_id,
            from_tier_id=tier_id,
            to_tier_id=target_id,
            reason=TierChange.Reason.SPEND,
            spend_12m=spend,
            changed_at=at,
        )
        Member.objects.filter(pk=member_id).update(tier_id=target_id, tier_since=at)


def tier_set(
    *, member: Member, tier: Tier, reason: str = TierChange.Reason.OPERATOR, at: datetime | None = None
) -> Member:
    """Move a member to ``tier`` (operator decision or import), keeping the history."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = Member.objects.select_for_update(no_key=True).get(pk=member.pk)
        if locked.tier_id != tier.pk:
            TierChange.objects.create(
                member=locked,
                from_tier_id=locked.tier_id,
                to_tier=tier,
                reason=reason,
                spend_12m=member_spend_12m(member_id=locked.pk, at=at),
                changed_at=at,
            )
            locked.tier, locked.tier_since = tier, at
            locked.save(update_fields=["tier", "tier_since"])
    return locked


@transaction.atomic
def tiers_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Re-judge every active member's tier on 12-month spend, set-based.

    Upgrades whoever qualifies for more; downgrades only members who have held their tier for at least
    12 months (the grace period) and no longer reach it, to the highest tier they do reach.
    """
    now = now or timezone.now()
    since = window_start(now)
    grace = now - timedelta(days=365)
    m, d, t, h = (
        Member._meta.db_table,
        MemberSpendDay._meta.db_table,
        Tier._meta.db_table,
        TierChange._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS tier_eval")
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE tier_eval AS
            WITH bands AS (
                SELECT id, rank, min_annual_spend AS low,
                       LEAD(min_annual_spend) OVER (ORDER BY min_annual_spend, rank) AS high
                FROM {t}
            ), spend AS (
                SELECT member_id, SUM(amount) AS spend FROM {d} WHERE day > %s GROUP BY member_id
            )
            SELECT mm.id AS member_id, mm.tier_id AS from_tier_id, b.id AS to_tier_id,
                   COALESCE(s.spend, 0) AS spend_12m, b.rank > COALESCE(ft.rank, -1) AS is_upgrade
            FROM {m} mm
            LEFT JOIN spend s ON s.member_id = mm.id
            JOIN bands b ON COALESCE(s.spend, 0) >= b.low AND (b.high IS NULL OR COALESCE(s.spend, 0) < b.high)
            LEFT JOIN {t} ft ON ft.id = mm.tier_id
            WHERE mm.status = 'active'
              AND COALESCE(mm.tier_id, 0) <> b.id
              AND (b.rank > COALESCE(ft.rank, -1) OR mm.tier_since IS NULL OR mm.tier_since <= %s)
            """,
            [since, grace],
        )
        cursor.execute("ANALYZE tier_eval")
        cursor.execute(
            f"UPDATE {m} SET tier_id = e.to_tier_id, tier_since = %s FROM tier_eval e WHERE {m}.id = e.member_id",
            [now],
        )
        cursor.execute(
            f"""
            INSERT INTO {h} (member_id, from_tier_id, to_tier_id, reason, spend_12m, changed_at)
            SELECT member_id, from_tier_id, to_tier_id, 'evaluation', spend_12m, %s FROM tier_eval
            """,
            [now],
        )
        cursor.execute("SELECT COALESCE(SUM(CASE WHEN is_upgrade THEN 1 ELSE 0 END), 0), COUNT(*) FROM tier_eval")
        upgraded, changed = cursor.fetchone()
        cursor.execute("DROP TABLE tier_eval")
    return {"upgraded": int(upgraded), "downgraded": int(changed) - int(upgraded)}


@transaction.atomic
def member_merge(*, survivor: Member, merged: Member, operator=None, at: datetime | None = None) -> Member:
    """Merge ``merged`` into ``survivor``: identities, consents, tier history, spend and (through hooks)
    points, coupons and orders move; the merged member stays as a pointer; the merge is audited."""
    at = at or timezone.now()
    if survivor.pk == merged.pk:
        raise MergeInvalid("A member cannot be merged into itself.")
    locked = {
        m.pk: m for m in Member.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk]).order_by("pk")
    }
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    for member, role in ((survivor, "survivor"), (merged, "merged member")):
        if member.status != Member.Status.ACTIVE:
            raise MergeInvalid(f"The {role} {member.code} is {member.get_status_display().lower()}.")
    summary: dict[str, Any] = {
        "identities": Identity.objects.filter(member=merged).update(member=survivor),
        "tier_changes": TierChange.objects.filter(member=merged).update(member=survivor),
        "consent_events": ConsentEvent.objects.filter(member=merged).update(member=survivor),
    }
    # Consent: the more recent decision on each channel wins (a withdrawal is never lost).
    mine = {c.channel: c for c in Consent.objects.filter(member=survivor)}
    for theirs in Consent.objects.filter(member=merged):
        current = mine.get(theirs.channel)
        if current is None:
            theirs.member = survivor
            theirs.save(update_fields=["member"])
        else:
            if theirs.changed_at > current.changed_at:
                current.granted, current.changed_at, current.source = theirs.granted, theirs.changed_at, theirs.source
                current.save(update_fields=["granted", "changed_at", "source"])
            theirs.delete()
    table = MemberSpendDay._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (member_id, day, amount) SELECT %s, day, amount FROM {table} WHERE member_id = %s "
            f"ON CONFLICT (member_id, day) DO UPDATE SET amount = {table}.amount + excluded.amount",
            [survivor.pk, merged.pk],
        )
        cursor.execute(f"DELETE FROM {table} WHERE member_id = %s", [merged.pk])
    for hook in merge_hooks():
        summary.update(hook(survivor_id=survivor.pk, merged_id=merged.pk) or {})
    Member.objects.filter(merged_into=merged).update(merged_into=survivor)
    phone = merged.phone
    merged.status, merged.merged_into, merged.phone = Member.Status.MERGED, survivor, None
    merged.save(update_fields=["status", "merged_into", "phone"])
    update_fields = []
    if survivor.phone is None and phone:
        survivor.phone = phone
        update_fields.append("phone")
    for field in ("name", "birthday", "join_store", "recruited_by", "join_channel"):
        if not getattr(survivor, field) and getattr(merged, field):
            setattr(survivor, field, getattr(merged, field))
            update_fields.append(field)
    if merged.joined_at < survivor.joined_at:
        survivor.joined_at = merged.joined_at  # membership counts from the first join
        update_fields.append("joined_at")
    if update_fields:
        survivor.save(update_fields=update_fields)
    # A member never loses status by merging: the better of both tiers, or more if the combined spend reaches it.
    tiers = list(Tier.objects.order_by("rank"))
    by_id = {t.pk: t for t in tiers}
    candidates = [
        by_id.get(survivor.tier_id),
        by_id.get(merged.tier_id),
        tier_for_spend(spend=member_spend_12m(member_id=survivor.pk, at=at), tiers=tiers),
    ]
    best = max((c for c in candidates if c is not None), key=lambda t: t.rank, default=None)
    if best is not None and best.pk != survivor.tier_id:
        tier_set(member=survivor, tier=best, reason=TierChange.Reason.MERGE, at=at)
        survivor.refresh_from_db()
    MemberMerge.objects.create(survivor=survivor, merged=merged, operator=operator, merged_at=at, summary=summary)
    return survivor


@transaction.atomic
def member_erase(*, member: Member, at: datetime | None = None) -> Member:
    """Erase personal data on request: phone, name, birthday, identities and consent go; sales figures stay."""
    locked = Member.objects.select_for_update().get(pk=member.pk)
    if locked.status == Member.Status.MERGED:
        raise MemberNotActive("Erase the member it was merged into instead.")
    Identity.objects.filter(member=locked).delete()
    Consent.objects.filter(member=locked).delete()
    ConsentEvent.objects.filter(member=locked).update(source="")
    locked.phone, locked.name, locked.birthday = None, "", None
    locked.status = Member.Status.ERASED
    locked.save(update_fields=["phone", "name", "birthday", "status"])
    return locked


@transaction.atomic
def member_follow_wechat(
    *, openid: str, store: Store | None = None, guide: Staff | None = None, at: datetime | None = None
) -> tuple[Member, bool]:
    """A WeChat follow (``subscribe``, or a scan of a store/guide QR code): the member with this openid, or a
    new member known only by it; WeChat consent is granted and the store and guide are recorded where the
    member has none yet (nothing already set is overwritten)."""
    at = at or timezone.now()
    identity = (
        Identity.objects.select_related("member")
        .filter(kind=Identity.Kind.WECHAT_OPENID, channel=None, value=openid)
        .first()
    )
    created = identity is None
    if identity is None:
        tier = base_tier()
        member = _create_member(
            joined_at=at, join_store=store, recruited_by=guide, tier=tier, tier_since=at if tier else None
        )
        if tier is not None:
            TierChange.objects.create(member=member, to_tier=tier, reason=TierChange.Reason.JOINED, changed_at=at)
        identity_add(member=member, kind=Identity.Kind.WECHAT_OPENID, value=openid)
    else:
        member = identity.member
        updates = {}
        if store is not None and member.join_store_id is None:
            updates["join_store"] = store
        if guide is not None and member.recruited_by_id is None:
            updates["recruited_by"] = guide
        if updates:
            Member.objects.filter(pk=member.pk).update(**updates)
    source = ":".join(x for x in ("wechat", store.code if store else "", guide.code if guide else "") if x)
    consent_set(member=member, channel=Consent.Channel.WECHAT, granted=True, source=source, at=at)
    return member, created
