from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, ErrorCode, NotFound, ValidationFailed


class CatalogErrorCode(ErrorCode):
    """The catalog app's error codes: stable, unique across the project."""

    UNKNOWN_SKU = "unknown_sku"
    OUT_OF_STOCK = "out_of_stock"
    RESERVATION_MISSING = "reservation_missing"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_PRICE = "invalid_price"
    PRICE_CHANGE_IN_PAST = "price_change_in_past"
    PRICE_HISTORY_LOCKED = "price_history_locked"


class UnknownSku(DomainError):
    """Unknown or inactive SKU codes. 422 when an order names them; the GET endpoints answer 404."""

    code = CatalogErrorCode.UNKNOWN_SKU
    title = _("No such SKU")

    def __init__(self, codes: Iterable[str] | str = (), detail: str | None = None, **kwargs) -> None:
        if isinstance(codes, str):  # UnknownSku("message") reads as the detail
            codes, detail = (), detail or codes
        self.codes = sorted(codes)
        super().__init__(detail or "Unknown or inactive SKU(s): " + ", ".join(self.codes), **kwargs)


class UnknownSkuNotFound(NotFound):
    code = CatalogErrorCode.UNKNOWN_SKU
    title = _("No such SKU")


class OutOfStock(Conflict):
    code = CatalogErrorCode.OUT_OF_STOCK
    title = _("Not enough stock")

    def __init__(self, sku_ids: Iterable[int] | str = (), detail: str | None = None, **kwargs) -> None:
        if isinstance(sku_ids, str):  # OutOfStock("message") reads as the detail
            sku_ids, detail = (), detail or sku_ids
        self.sku_ids = sorted(sku_ids)
        default = f"Not enough stock for SKU id(s) {', '.join(map(str, self.sku_ids))}" if self.sku_ids else None
        super().__init__(detail or default, **kwargs)


class ReservationMissing(Conflict):
    code = CatalogErrorCode.RESERVATION_MISSING
    title = _("Fewer items are reserved than released or picked up")


class InvalidQuantity(ValidationFailed):
    code = CatalogErrorCode.INVALID_QUANTITY
    title = _("Quantities must be positive whole numbers")


class InvalidPrice(ValidationFailed):
    code = CatalogErrorCode.INVALID_PRICE
    title = _("A price must be a non-negative amount with at most two decimal places")


class PriceChangeInPast(ValidationFailed):
    code = CatalogErrorCode.PRICE_CHANGE_IN_PAST
    title = _("A price change cannot start in the past")


class PriceHistoryLocked(Conflict):
    code = CatalogErrorCode.PRICE_HISTORY_LOCKED
    title = _("A price change that has taken effect cannot be changed or deleted")
