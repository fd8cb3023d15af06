from apps.core.errors import Conflict, DomainError, NotFound, ValidationFailed


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    title = "Not enough points"


class InvalidPoints(ValidationFailed):
    code = "invalid_points"
    title = "Points must be a positive whole number"


class RewardUnavailable(DomainError):
    code = "reward_unavailable"
    title = "This reward cannot be had"


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    title = "No such coupon"


class CouponAlreadyRedeemed(Conflict):
    code = "coupon_already_redeemed"
    title = "This coupon was already used"


class CouponExpired(DomainError):
    code = "coupon_expired"
    title = "This coupon has expired"


class CouponNotApplicable(DomainError):
    code = "coupon_not_applicable"
    title = "This coupon does not apply here"


class CouponIssueRefused(DomainError):
    code = "coupon_issue_refused"
    title = "The coupon cannot be issued"
