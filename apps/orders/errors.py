from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, CoreErrorCode, DomainError, ErrorCode, NotFound, ValidationFailed
from apps.members.errors import MemberErrorCode
from apps.stores.errors import StoreErrorCode


class OrderErrorCode(ErrorCode):
    """The orders app's error codes: stable, unique across the project."""

    ORDER_NOT_FOUND = "order_not_found"
    PRICE_MISMATCH = "price_mismatch"
    UNKNOWN_GUIDE = "unknown_guide"
    REFUND_EXCEEDS_ORDER = "refund_exceeds_order"
    ALREADY_VERIFIED = "already_verified"
    INVALID_VERIFICATION_CODE = "invalid_verification_code"
    NOT_A_VOUCHER = "not_a_voucher"
    VOUCHER_WRONG_STORE = "voucher_wrong_store"
    PAYMENTS_MISMATCH = "payments_mismatch"
    WALLET_NEEDS_MEMBER = "wallet_needs_member"


class OrderNotFound(NotFound):
    code = OrderErrorCode.ORDER_NOT_FOUND
    title = _("There is no such order")


class PriceMismatch(DomainError):
    code = OrderErrorCode.PRICE_MISMATCH
    title = _("A unit price differs from the server's price")


class InvalidOrder(ValidationFailed):
    code = CoreErrorCode.VALIDATION_ERROR


class UnknownMember(DomainError):
    code = MemberErrorCode.MEMBER_NOT_FOUND
    title = _("There is no such member")


class UnknownStore(DomainError):
    code = StoreErrorCode.UNKNOWN_STORE
    title = _("There is no such store")


class UnknownGuide(DomainError):
    code = OrderErrorCode.UNKNOWN_GUIDE
    title = _("There is no such shopping guide")


class RefundExceedsOrder(DomainError):
    code = OrderErrorCode.REFUND_EXCEEDS_ORDER
    title = _("More is refunded than was bought")


class AlreadyVerified(Conflict):
    code = OrderErrorCode.ALREADY_VERIFIED
    title = _("This voucher was already verified")


class InvalidVerificationCode(DomainError):
    code = OrderErrorCode.INVALID_VERIFICATION_CODE
    title = _("The verification code is wrong")


class NotAVoucher(Conflict):
    code = OrderErrorCode.NOT_A_VOUCHER
    title = _("This order is not a voucher order")


class VoucherWrongStore(DomainError):
    code = OrderErrorCode.VOUCHER_WRONG_STORE
    title = _("This voucher is for another store")
    is_for_people = True


class PaymentsMismatch(DomainError):
    code = OrderErrorCode.PAYMENTS_MISMATCH
    title = _("The payments do not add up to the order's total")


class WalletNeedsMember(DomainError):
    code = OrderErrorCode.WALLET_NEEDS_MEMBER
    title = _("Only a member's order can be paid from a member card")
