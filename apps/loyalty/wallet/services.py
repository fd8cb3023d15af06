"""Wallet writes: recharge (with the rules' bonus), pay, refund a payment, adjust, close the card, expire bonus.

Invariants: entries are append-only; a wallet's principal and bonus equal the sums of its entries' principal
and bonus and never go below zero (check constraints on the wallet and on every entry's ``*_after``); the
bonus equals what is left in its lots; every entry has a unique idempotency key, so a retried request books
once. Payments take principal first, then bonus (soonest-expiring lots first); a refund of a payment gives
back principal and bonus in the payment's proportion; closing the card refunds principal, forfeits bonus.

Locking: a booking locks the wallet row first (``FOR UPDATE``), then that member's bonus lots. Orders call
``wallet_pay_in_transaction``/``wallet_refund_in_transaction`` last in their transaction, after the member row,
so the lock order is always member, then wallet; the expiry locks wallets in member order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.db import require_transaction
from apps.core.errors import IdempotencyConflict
from apps.core.money import quantize_money
from apps.members.models import Member

from .errors import InsufficientBalance, InvalidWalletAmount, RefundExceedsPayment, WalletEmpty, WalletPaymentNotFound
from .models import PaymentMethod, RechargeRule, Wallet, WalletBonusLot, WalletEntry

K = WalletEntry.Kind
ZERO = Decimal("0.00")


def request_fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable digest of a request: the same body twice gives the same digest."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def max_recharge() -> Decimal:
    return quantize_money(getattr(settings, "WALLET_MAX_RECHARGE", "50000.00"))


def _amount(value: Decimal | str | int, *, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise InvalidWalletAmount(f"{value!r} is not an amount.", errors={field: ["not an amount"]}) from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise InvalidWalletAmount(f"{value!r} is not an amount in cents.", errors={field: ["at most two decimals"]})
    if amount <= 0:
        raise InvalidWalletAmount(f"The {field} must be positive; {amount} was given.", errors={field: ["positive"]})
    return quantize_money(amount)


def _lock_wallet(member_id: int, *, key: str = "", create: bool = False, store_id: int | None = None) -> Wallet | None:
    """The member's wallet, locked, with ``existing_id``: the entry already booked under ``key`` (None if
    none), found in the same query; created (empty) first when ``create``. None when there is no wallet."""
    if create:
        Wallet.objects.bulk_create(
            [Wallet(member_id=member_id, store_id=store_id)], ignore_conflicts=True
        )  # ON CONFLICT DO NOTHING: two first recharges at once make one wallet
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT member_id, principal, bonus, store_id, is_closed, "
            f"(SELECT id FROM {WalletEntry._meta.db_table} WHERE idempotency_key = %s) "
            f"FROM {Wallet._meta.db_table} WHERE member_id = %s{lock}",
            [key, member_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    wallet = Wallet.from_db(
        connection.alias,
        ["member_id", "principal", "bonus", "store_id", "is_closed"],
        [row[0], quantize_money(row[1]), quantize_money(row[2]), row[3], bool(row[4])],
    )
    wallet.existing_id = row[5]
    return wallet


def _existing(wallet: Wallet | None, key: str) -> WalletEntry | None:
    """The entry already booked under ``key`` (an entry always has its wallet, so no wallet: none)."""
    if wallet is None or wallet.existing_id is None:
        return None
    return WalletEntry.objects.get(pk=wallet.existing_id)


_ENTRY_FIELDS = [f for f in WalletEntry._meta.concrete_fields if not f.primary_key]


def _book(
    wallet: Wallet,
    *,
    kind: str,
    principal: Decimal,
    bonus: Decimal,
    key: str,
    at: datetime,
    reference: str = "",
    **extra,
) -> WalletEntry:
    """Apply a signed change to the locked wallet and append its entry, in one statement on PostgreSQL (the
    check constraints refuse a negative)."""
    wallet.principal += principal
    wallet.bonus += bonus
    entry = WalletEntry(
        member_id=wallet.member_id,
        kind=kind,
        amount=principal + bonus,
        principal=principal,
        bonus=bonus,
        balance_after=wallet.principal + wallet.bonus,
        principal_after=wallet.principal,
        bonus_after=wallet.bonus,
        store_id=wallet.store_id,
        reference=reference[:100],
        idempotency_key=key,
        created_at=at,
        **extra,
    )
    values = [f.get_db_prep_save(f.pre_save(entry, True), connection) for f in _ENTRY_FIELDS]
    update = (
        f"UPDATE {Wallet._meta.db_table} SET principal = %s, bonus = %s, is_closed = %s, updated_at = %s "
        f"WHERE member_id = %s"
    )
    update_values = [
        connection.ops.adapt_decimalfield_value(wallet.principal, 12, 2),
        connection.ops.adapt_decimalfield_value(wallet.bonus, 12, 2),
        wallet.is_closed,
        connection.ops.adapt_datetimefield_value(at),
        wallet.member_id,
    ]
    insert = (
        f"INSERT INTO {WalletEntry._meta.db_table} ({', '.join(f.column for f in _ENTRY_FIELDS)}) "
        f"VALUES ({', '.join(['%s'] * len(_ENTRY_FIELDS))}) RETURNING id"
    )
    with connection.cursor() as cursor:
        # One round trip: the wallet and its entry together.
        cursor.execute(f"WITH w AS ({update}) {insert}", [*update_values, *values])
        entry.pk = cursor.fetchone()[0]
    entry._state.adding, entry._state.db = False, connection.alias
    return entry


def _take_bonus(member_id: int, amount: Decimal) -> datetime | None:
    """Consume ``amount`` of bonus from the member's lots, soonest-expiring first (the wallet is locked);
    returns the latest expiry consumed (None when a lot without expiry was used), which a refund restores."""
    left, latest, unlimited = amount, None, False
    lots = WalletBonusLot.objects.filter(member_id=member_id, remaining__gt=0).order_by("expires_at", "pk")
    for lot in lots.select_for_update():
        take = min(left, lot.remaining)
        WalletBonusLot.objects.filter(pk=lot.pk).update(remaining=lot.remaining - take)
        left -= take
        if lot.expires_at is None:
            unlimited = True
        else:
            latest = max(latest or lot.expires_at, lot.expires_at)
        if left == 0:
            break
    if left:
        raise RuntimeError(f"Bonus lots of member {member_id} hold {amount - left}, not {amount}.")
    return None if unlimited else latest


def _add_bonus_lot(member_id: int, amount: Decimal, *, at: datetime, expires_at: datetime | None) -> None:
    WalletBonusLot.objects.create(
        member_id=member_id, granted_at=at, expires_at=expires_at, amount=amount, remaining=amount
    )


# -- recharge ----------------------------------------------------------------------------------------------


def recharge_rule_for(*, amount: Decimal, tier_id: int | None, at: datetime) -> RechargeRule | None:
    """The rule that gives a recharge of ``amount`` its bonus now: the highest threshold reached among the
    active rules in their period, for every member or for the member's tier (larger bonus on a tie)."""
    rules = RechargeRule.objects.filter(is_active=True, min_amount__lte=amount).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=at), Q(valid_until__isnull=True) | Q(valid_until__gt=at)
    )
    tier_ok = Q(tiers__isnull=True) | Q(tiers__pk=tier_id) if tier_id else Q(tiers__isnull=True)
    return rules.filter(tier_ok).order_by("-min_amount", "-bonus", "pk").first()


@dataclass(frozen=True)
class RechargeResult:
    amount: Decimal
    bonus: Decimal
    balance: Decimal
    created: bool
    entry: WalletEntry


def _recharge_result(entry: WalletEntry, created: bool) -> RechargeResult:
    bonus = WalletEntry.objects.filter(idempotency_key=f"{entry.idempotency_key}:bonus").first()
    balance = bonus.balance_after if bonus else entry.balance_after
    return RechargeResult(entry.amount, bonus.amount if bonus else ZERO, balance, created, entry)


@transaction.atomic
def wallet_recharge(
    *,
    member: Member,
    amount: Decimal | str,
    payment_method: str,
    idempotency_key: str,
    store_id: int | None = None,
    fingerprint: str = "",
    reference: str = "",
    user=None,
    at: datetime | None = None,
) -> RechargeResult:
    """Pay money into the card; the best recharge rule adds its bonus. One key books once: the same request
    again returns the first result, another request under the same key is refused."""
    at = at or timezone.now()
    amount = _amount(amount)
    if amount > max_recharge():
        raise InvalidWalletAmount(
            f"At most {max_recharge()} can be recharged at once; {amount} was given.", errors={"amount": ["too large"]}
        )
    if payment_method not in PaymentMethod.values:
        raise InvalidWalletAmount(
            f"Unknown payment method {payment_method!r}.", errors={"payment_method": list(PaymentMethod.values)}
        )
    fingerprint = fingerprint or request_fingerprint(
        {"member": member.pk, "amount": amount, "method": payment_method, "store": store_id}
    )
    wallet = _lock_wallet(member.pk, key=idempotency_key, create=True, store_id=store_id or member.join_store_id)
    assert wallet is not None  # created above
    if existing := _existing(wallet, idempotency_key):
        if existing.fingerprint != fingerprint or existing.member_id != member.pk:
            raise IdempotencyConflict(f"Recharge {idempotency_key} was already made with a different request.")
        return _recharge_result(existing, created=False)
    if wallet.store_id is None and (store_id or member.join_store_id):
        wallet.store_id = store_id or member.join_store_id
        Wallet.objects.filter(pk=wallet.pk).update(store_id=wallet.store_id)
    wallet.is_closed = False  # a recharge reopens a closed card
    reference = reference or f"recharge {idempotency_key}"
    entry = _book(
        wallet,
        kind=K.RECHARGE,
        principal=amount,
        bonus=ZERO,
        key=idempotency_key,
        at=at,
        reference=reference,
        payment_method=payment_method,
        fingerprint=fingerprint,
        created_by=user,
    )
    rule = recharge_rule_for(amount=amount, tier_id=member.tier_id, at=at)
    if rule is not None:
        expires = at + timedelta(days=rule.bonus_valid_days) if rule.bonus_valid_days else None
        _add_bonus_lot(member.pk, rule.bonus, at=at, expires_at=expires)
        _book(
            wallet,
            kind=K.BONUS,
            principal=ZERO,
            bonus=rule.bonus,
            key=f"{idempotency_key}:bonus",
            at=at,
            reference=f"{rule.name}"[:100],
            bonus_expires_at=expires,
        )
    return _recharge_result(entry, created=True)


# -- payments and their refunds (inside the order's transaction) -------------------------------------------


def wallet_pay_in_transaction(
    *, member_id: int, amount: Decimal, reference: str, idempotency_key: str, at: datetime | None = None
) -> WalletEntry:
    """Take ``amount`` from the card, principal first, then bonus; refused (nothing booked) when the balance is
    short. Runs in the caller's transaction (an order's), which rolls back whole on any error."""
    require_transaction("wallet_pay_in_transaction")
    at = at or timezone.now()
    amount = _amount(amount)
    if (entry := _pay_from_principal(member_id, amount, reference[:100], idempotency_key, at)) is not None:
        return entry
    # Not enough principal, a repeated key, or no wallet: the general path decides under the wallet's lock.
    wallet = _lock_wallet(member_id, key=idempotency_key)
    if existing := _existing(wallet, idempotency_key):
        return existing
    balance = wallet.balance if wallet else ZERO
    if wallet is None or balance < amount:
        raise InsufficientBalance(f"The card holds {balance}; {amount} is to be paid from it.")
    from_principal = min(amount, wallet.principal)
    from_bonus = amount - from_principal
    latest_expiry = _take_bonus(member_id, from_bonus) if from_bonus else None
    return _book(
        wallet,
        kind=K.PAYMENT,
        principal=-from_principal,
        bonus=-from_bonus,
        key=idempotency_key,
        at=at,
        reference=reference,
        bonus_expires_at=latest_expiry,
    )


def _pay_from_principal(member_id: int, amount: Decimal, reference: str, key: str, at: datetime) -> WalletEntry | None:
    """The common payment, principal only, as one conditional statement (the row lock comes with the UPDATE,
    whose condition PostgreSQL rechecks on the latest row): None when it does not apply."""
    wallets, entries = Wallet._meta.db_table, WalletEntry._meta.db_table
    at_db = connection.ops.adapt_datetimefield_value(at)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH w AS (UPDATE {wallets} SET principal = principal - %(a)s, updated_at = %(at)s "
            f"WHERE member_id = %(m)s AND principal >= %(a)s "
            f"AND NOT EXISTS (SELECT 1 FROM {entries} WHERE idempotency_key = %(k)s) "
            f"RETURNING principal, bonus, store_id) "
            f"INSERT INTO {entries} (member_id, kind, amount, principal, bonus, balance_after, principal_after, "
            f"bonus_after, store_id, payment_method, reference, idempotency_key, fingerprint, reason, created_at) "
            f"SELECT %(m)s, 'payment', -%(a)s, -%(a)s, 0, principal + bonus, principal, bonus, store_id, '', %(r)s, "
            f"%(k)s, '', '', %(at)s FROM w RETURNING id, balance_after, principal_after, bonus_after, store_id",
            {"a": amount, "at": at_db, "m": member_id, "k": key, "r": reference},
        )
        row = cursor.fetchone()
    if row is None:
        return None
    entry = WalletEntry(
        pk=row[0], member_id=member_id, kind=K.PAYMENT, amount=-amount, principal=-amount, bonus=ZERO,
        balance_after=row[1], principal_after=row[2], bonus_after=row[3], store_id=row[4], reference=reference,
        idempotency_key=key, created_at=at,
    )  # fmt: skip
    entry._state.adding, entry._state.db = False, connection.alias
    return entry


def wallet_refund_in_transaction(
    *, payment_key: str, amount: Decimal, reference: str, idempotency_key: str, at: datetime | None = None
) -> WalletEntry:
    """Give back ``amount`` of the payment booked under ``payment_key``, principal and bonus in the payment's
    proportion (cumulatively, so the cents of several partial refunds add up to the payment exactly)."""
    require_transaction("wallet_refund_in_transaction")
    at = at or timezone.now()
    amount = _amount(amount)
    payment = WalletEntry.objects.filter(idempotency_key=payment_key, kind=K.PAYMENT).first()
    if payment is None:
        raise WalletPaymentNotFound(f"No wallet payment {payment_key}.")
    wallet = _lock_wallet(payment.member_id, key=idempotency_key)
    assert wallet is not None  # the payment was taken from it
    if existing := _existing(wallet, idempotency_key):
        return existing
    earlier = list(WalletEntry.objects.filter(refund_of=payment).values_list("principal", "bonus"))
    refunded = sum((p + b for p, b in earlier), ZERO)
    refunded_principal = sum((p for p, _b in earlier), ZERO)
    paid, paid_principal = -payment.amount, -payment.principal
    if refunded + amount > paid:
        raise RefundExceedsPayment(f"{paid - refunded} of this wallet payment is left to refund; {amount} asked.")
    principal_due = quantize_money((refunded + amount) * paid_principal / paid) - refunded_principal
    principal = min(max(principal_due, ZERO), paid_principal - refunded_principal, amount)
    bonus = amount - principal
    if bonus:
        _add_bonus_lot(payment.member_id, bonus, at=at, expires_at=payment.bonus_expires_at)
    return _book(
        wallet,
        kind=K.REFUND,
        principal=principal,
        bonus=bonus,
        key=idempotency_key,
        at=at,
        reference=reference,
        refund_of=payment,
        bonus_expires_at=payment.bonus_expires_at if bonus else None,
    )


# -- the console: adjustments and closing the card ---------------------------------------------------------


@transaction.atomic
def wallet_adjust(
    *,
    member: Member,
    principal: Decimal | str = ZERO,
    bonus: Decimal | str = ZERO,
    reason: str,
    user,
    idempotency_key: str,
    at: datetime | None = None,
) -> WalletEntry:
    """An operator's signed correction of principal and/or bonus, with the reason and the operator; never
    below zero. Added bonus does not expire."""
    at = at or timezone.now()
    principal, bonus = quantize_money(principal or 0), quantize_money(bonus or 0)
    if not reason.strip():
        raise InvalidWalletAmount("An adjustment needs a reason.", errors={"reason": ["required"]})
    if principal == 0 and bonus == 0:
        raise InvalidWalletAmount("An adjustment changes the principal or the bonus.", errors={"amount": ["zero"]})
    wallet = _lock_wallet(member.pk, key=idempotency_key, create=True, store_id=member.join_store_id)
    assert wallet is not None  # created above
    if existing := _existing(wallet, idempotency_key):
        return existing
    if wallet.principal + principal < 0 or wallet.bonus + bonus < 0:
        raise InsufficientBalance(f"The card holds {wallet.principal} principal and {wallet.bonus} bonus.")
    if bonus > 0:
        _add_bonus_lot(member.pk, bonus, at=at, expires_at=None)
    elif bonus < 0:
        _take_bonus(member.pk, -bonus)
    return _book(
        wallet,
        kind=K.ADJUSTMENT,
        principal=principal,
        bonus=bonus,
        key=idempotency_key,
        at=at,
        reference="operator",
        reason=reason.strip()[:255],
        created_by=user,
    )


@transaction.atomic
def wallet_withdraw(
    *,
    member: Member,
    reason: str,
    user,
    idempotency_key: str,
    payment_method: str = PaymentMethod.CASH,
    at: datetime | None = None,
) -> WalletEntry:
    """Close the card: the principal is paid back (by ``payment_method``), the bonus is forfeited; recorded
    with the operator and the reason."""
    at = at or timezone.now()
    if not reason.strip():
        raise InvalidWalletAmount("Closing a card needs a reason.", errors={"reason": ["required"]})
    if payment_method not in PaymentMethod.values:
        raise InvalidWalletAmount(f"Unknown payment method {payment_method!r}.")
    wallet = _lock_wallet(member.pk, key=idempotency_key)
    if existing := _existing(wallet, idempotency_key):
        return existing
    if wallet is None or wallet.balance == 0:
        raise WalletEmpty("The card holds nothing to refund.")
    WalletBonusLot.objects.filter(member_id=member.pk, remaining__gt=0).update(remaining=0)
    wallet.is_closed = True
    return _book(
        wallet,
        kind=K.WITHDRAWAL,
        principal=-wallet.principal,
        bonus=-wallet.bonus,
        key=idempotency_key,
        at=at,
        reference="card closed",
        payment_method=payment_method,
        reason=reason.strip()[:255],
        created_by=user,
    )


# -- set-based work: bonus expiry, the monthly summary, merges --------------------------------------------


@dataclass(frozen=True)
class BonusExpiry:
    members: int
    amount: Decimal


@transaction.atomic
def wallet_bonus_expire_due(*, now: datetime | None = None) -> BonusExpiry:
    """Expire every bonus lot due by ``now`` in a few set-based statements: one ``expiry`` entry per member.
    Safe to run twice (a due lot is emptied the first time)."""
    now = now or timezone.now()
    lots, wallets, entries = WalletBonusLot._meta.db_table, Wallet._meta.db_table, WalletEntry._meta.db_table
    stamp = timezone.localtime(now).strftime("%Y%m%d%H%M%S")
    due = "remaining > 0 AND expires_at IS NOT NULL AND expires_at <= %s"
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        # Lock the wallets first, in member order, as every booking does.
        cursor.execute(
            f"SELECT 1 FROM {wallets} WHERE member_id IN (SELECT member_id FROM {lots} WHERE {due}) "
            f"ORDER BY member_id FOR UPDATE",
            [at],
        )
        cursor.execute("DROP TABLE IF EXISTS wallet_due")
        cursor.execute(
            f"CREATE TEMPORARY TABLE wallet_due AS SELECT member_id, SUM(remaining) AS amount FROM {lots} "
            f"WHERE {due} GROUP BY member_id",
            [at],
        )
        cursor.execute(f"UPDATE {lots} SET remaining = 0 WHERE {due}", [at])
        cursor.execute(
            f"UPDATE {wallets} SET bonus = bonus - (SELECT d.amount FROM wallet_due d "
            f"WHERE d.member_id = {wallets}.member_id), updated_at = %s "
            f"WHERE member_id IN (SELECT member_id FROM wallet_due)",
            [at],
        )
        cursor.execute(
            f"INSERT INTO {entries} (member_id, kind, amount, principal, bonus, balance_after, principal_after, "
            f"bonus_after, store_id, payment_method, reference, idempotency_key, fingerprint, reason, created_at) "
            f"SELECT d.member_id, 'expiry', -d.amount, 0, -d.amount, w.principal + w.bonus, w.principal, w.bonus, "
            f"w.store_id, '', 'bonus expiry', 'wallet-expiry:{stamp}:' || CAST(d.member_id AS TEXT), '', '', %s "
            f"FROM wallet_due d JOIN {wallets} w ON w.member_id = d.member_id ORDER BY d.member_id",
            [at],
        )
        cursor.execute("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM wallet_due")
        count, total = cursor.fetchone()
        cursor.execute("DROP TABLE wallet_due")
    return BonusExpiry(members=int(count), amount=quantize_money(total))


def wallet_merge(*, survivor_id: int, merged_id: int) -> dict[str, str]:
    """Merge hook: the merged member's balance moves to the survivor (principal and bonus, both entries
    recorded; the bonus keeps no expiry)."""
    merged = _lock_wallet(merged_id)
    if merged is None or merged.balance == 0:
        return {"wallet": "0.00"}
    survivor = _lock_wallet(survivor_id, create=True, store_id=merged.store_id)
    assert survivor is not None  # created above
    now, key = timezone.now(), f"wallet-merge:{merged_id}:into:{survivor_id}"
    principal, bonus = merged.principal, merged.bonus
    WalletBonusLot.objects.filter(member_id=merged_id, remaining__gt=0).update(remaining=0)
    if bonus:
        _add_bonus_lot(survivor_id, bonus, at=now, expires_at=None)
    reason = f"merged into member {survivor_id}"
    _book(merged, kind=K.ADJUSTMENT, principal=-principal, bonus=-bonus, key=f"{key}:out", at=now, reason=reason)
    reason = f"merged from member {merged_id}"
    _book(survivor, kind=K.ADJUSTMENT, principal=principal, bonus=bonus, key=f"{key}:in", at=now, reason=reason)
    return {"wallet": str(principal + bonus)}
