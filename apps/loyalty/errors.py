"""Loyalty's error codes (one registry, unique across the project) and the errors that carry them.

Messages are translated where they are raised, so the API's ``detail`` and a clerk page say the same thing.
"""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, ErrorCode, NotFound, ValidationFailed


class LoyaltyErrorCode(ErrorCode):
    INSUFFICIENT_POINTS = "insufficient_points"
    INVALID_POINTS = "invalid_points"
    REWARD_UNAVAILABLE = "reward_unavailable"
    COUPON_NOT_FOUND = "coupon_not_found"
    COUPON_ALREADY_REDEEMED = "coupon_already_redeemed"
    COUPON_EXPIRED = "coupon_expired"
    COUPON_NOT_YET_VALID = "coupon_not_yet_valid"
    COUPON_NOT_YOURS = "coupon_not_yours"
    COUPON_WRONG_STORE = "coupon_wrong_store"
    COUPON_WRONG_CHANNEL = "coupon_wrong_channel"
    COUPON_WRONG_CATEGORY = "coupon_wrong_category"
    COUPON_MIN_SPEND = "coupon_min_spend"
    COUPON_NOT_STACKABLE = "coupon_not_stackable"
    COUPON_NOT_APPLICABLE = "coupon_not_applicable"
    COUPON_ISSUE_REFUSED = "coupon_issue_refused"
    INVALID_AMOUNT = "invalid_amount"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    REFUND_EXCEEDS_PAYMENT = "refund_exceeds_payment"
    WALLET_PAYMENT_NOT_FOUND = "wallet_payment_not_found"
    WALLET_EMPTY = "wallet_empty"


C = LoyaltyErrorCode


class InsufficientPoints(DomainError):
    code = C.INSUFFICIENT_POINTS
    title = _("Not enough points")


class InvalidPoints(ValidationFailed):
    code = C.INVALID_POINTS
    title = _("Points must be a positive whole number")


class RewardUnavailable(DomainError):
    code = C.REWARD_UNAVAILABLE
    title = _("This reward cannot be had")


class CouponNotFound(NotFound):
    code = C.COUPON_NOT_FOUND
    title = _("There is no coupon with this code.")
    is_for_people = True


class CouponRefused(DomainError):
    """Why a coupon cannot be used: the one family of refusals that orders, redemption and pages share.

    The detail is a translated sentence a clerk can read out; the code says which rule refused it.
    """

    code = C.COUPON_NOT_APPLICABLE
    title = _("This coupon does not apply here")
    is_for_people = True


class CouponAlreadyRedeemed(CouponRefused, Conflict):
    code = C.COUPON_ALREADY_REDEEMED
    status = 409
    title = _("This coupon has already been used.")


class CouponExpired(CouponRefused):
    code = C.COUPON_EXPIRED
    title = _("This coupon has expired.")


class CouponNotYetValid(CouponRefused):
    code = C.COUPON_NOT_YET_VALID
    title = _("This coupon is not valid yet.")


class CouponNotYours(CouponRefused):
    code = C.COUPON_NOT_YOURS
    title = _("This coupon belongs to another member.")


class CouponWrongStore(CouponRefused):
    code = C.COUPON_WRONG_STORE
    title = _("This coupon is not valid in this store.")


class CouponWrongChannel(CouponRefused):
    code = C.COUPON_WRONG_CHANNEL
    title = _("This coupon is not valid on this channel.")


class CouponWrongCategory(CouponRefused):
    code = C.COUPON_WRONG_CATEGORY
    title = _("Nothing bought is in this coupon's categories.")


class CouponMinSpend(CouponRefused):
    code = C.COUPON_MIN_SPEND
    title = _("The purchase does not reach this coupon's minimum spend.")


class CouponNotStackable(CouponRefused):
    code = C.COUPON_NOT_STACKABLE
    title = _("This coupon cannot be combined with another coupon.")


class CouponNotInCart(CouponRefused):
    """An order or a cart names a code that is no coupon: bad input to that order (422), not a missing page."""

    code = C.COUPON_NOT_FOUND
    title = _("There is no coupon with this code.")


# Kept for callers that catch "any coupon refusal".
CouponNotApplicable = CouponRefused


class CouponIssueRefused(DomainError):
    code = C.COUPON_ISSUE_REFUSED
    title = _("The coupon cannot be issued")


#: (status, code) of every refusal of an existing coupon, for the API schemas of the endpoints that use
#: coupons (an unknown code: 404 on the coupon's own URL, 422 in an order).
COUPON_PROBLEMS: tuple[tuple[int, str], ...] = tuple(
    (cls.status, str(cls.code))
    for cls in (
        CouponAlreadyRedeemed,
        CouponExpired,
        CouponNotYetValid,
        CouponNotYours,
        CouponWrongStore,
        CouponWrongChannel,
        CouponWrongCategory,
        CouponMinSpend,
        CouponNotStackable,
    )
)
