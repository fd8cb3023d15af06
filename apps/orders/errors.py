from apps.core.errors import Conflict, DomainError, NotFound, ValidationFailed


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "There is no such order"


class PriceMismatch(DomainError):
    code = "price_mismatch"
    title = "A unit price differs from the server's price"


class InvalidOrder(ValidationFailed):
    code = "validation_error"


class UnknownMember(DomainError):
    code = "member_not_found"
    title = "There is no such member"


class UnknownStore(DomainError):
    code = "unknown_store"
    title = "There is no such store"


class UnknownGuide(DomainError):
    code = "unknown_guide"
    title = "There is no such shopping guide"


class CouponNotApplicable(DomainError):
    code = "coupon_not_applicable"
    title = "A coupon does not apply to this order"


class RefundExceedsOrder(DomainError):
    code = "refund_exceeds_order"
    title = "More is refunded than was bought"


class AlreadyVerified(Conflict):
    code = "already_verified"
    title = "This voucher was already verified"


class InvalidVerificationCode(DomainError):
    code = "invalid_verification_code"
    title = "The verification code is wrong"


class NotAVoucher(Conflict):
    code = "not_a_voucher"
    title = "This order is not a voucher order"


class PaymentsMismatch(DomainError):
    code = "payments_mismatch"
    title = "The payments do not add up to the order's total"


class WalletNeedsMember(DomainError):
    code = "wallet_needs_member"
    title = "Only a member's order can be paid from a member card"
