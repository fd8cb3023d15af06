"""The wallet's errors; their codes are in loyalty's registry (``LoyaltyErrorCode``)."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError, ValidationFailed
from apps.loyalty.errors import LoyaltyErrorCode as C


class InvalidWalletAmount(ValidationFailed):
    code = C.INVALID_AMOUNT
    title = _("The amount is not valid")


class InsufficientBalance(DomainError):
    code = C.INSUFFICIENT_BALANCE
    title = _("The wallet balance is too low")


class RefundExceedsPayment(DomainError):
    code = C.REFUND_EXCEEDS_PAYMENT
    title = _("More is refunded to the wallet than was paid from it")


class WalletPaymentNotFound(DomainError):
    code = C.WALLET_PAYMENT_NOT_FOUND
    title = _("There is no such wallet payment")


class WalletEmpty(DomainError):
    code = C.WALLET_EMPTY
    title = _("There is no balance to refund")
