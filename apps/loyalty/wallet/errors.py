"""The wallet's error codes (unique across the project)."""

from apps.core.errors import DomainError, ValidationFailed


class InvalidWalletAmount(ValidationFailed):
    code = "invalid_amount"
    title = "The amount is not valid"


class InsufficientBalance(DomainError):
    code = "insufficient_balance"
    title = "The wallet balance is too low"


class RefundExceedsPayment(DomainError):
    code = "refund_exceeds_payment"
    title = "More is refunded to the wallet than was paid from it"


class WalletPaymentNotFound(DomainError):
    code = "wallet_payment_not_found"
    title = "There is no such wallet payment"


class WalletEmpty(DomainError):
    code = "wallet_empty"
    title = "There is no balance to refund"
