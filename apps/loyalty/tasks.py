from celery import shared_task

from .services import coupons_expire_due, points_expire_due
from .wallet.selectors import wallet_months_close
from .wallet.services import wallet_bonus_expire_due


@shared_task(name="loyalty.points_expire")
def points_expire_task() -> str:
    result = points_expire_due()
    return f"expired {result.points} points of {result.members} members"


@shared_task(name="loyalty.coupons_expire")
def coupons_expire_task() -> int:
    return coupons_expire_due()


@shared_task(name="loyalty.wallet_bonus_expire")
def wallet_bonus_expire_task() -> str:
    result = wallet_bonus_expire_due()
    return f"expired {result.amount} bonus of {result.members} members"


@shared_task(name="loyalty.wallet_months_close")
def wallet_months_close_task() -> int:
    return wallet_months_close()
