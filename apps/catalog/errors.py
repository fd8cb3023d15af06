from collections.abc import Iterable

from apps.core.errors import Conflict, DomainError, NotFound, ValidationFailed


class UnknownSku(DomainError):
    """Unknown or inactive SKU codes. 422 when an order names them; the GET endpoints answer 404."""

    code = "unknown_sku"
    title = "No such SKU"

    def __init__(self, codes: Iterable[str] | str = (), detail: str | None = None, **kwargs) -> None:
        if isinstance(codes, str):  # UnknownSku("message") reads as the detail
            codes, detail = (), detail or codes
        self.codes = sorted(codes)
        super().__init__(detail or "Unknown or inactive SKU(s): " + ", ".join(self.codes), **kwargs)


class UnknownSkuNotFound(NotFound):
    code = "unknown_sku"
    title = "No such SKU"


class OutOfStock(Conflict):
    code = "out_of_stock"
    title = "Not enough stock"

    def __init__(self, sku_ids: Iterable[int] | str = (), detail: str | None = None, **kwargs) -> None:
        if isinstance(sku_ids, str):  # OutOfStock("message") reads as the detail
            sku_ids, detail = (), detail or sku_ids
        self.sku_ids = sorted(sku_ids)
        default = f"Not enough stock for SKU id(s) {', '.join(map(str, self.sku_ids))}" if self.sku_ids else None
        super().__init__(detail or default, **kwargs)


class ReservationMissing(Conflict):
    code = "reservation_missing"
    title = "Fewer items are reserved than released or picked up"


class InvalidQuantity(ValidationFailed):
    code = "invalid_quantity"
    title = "Quantities must be positive whole numbers"


class InvalidPrice(ValidationFailed):
    code = "invalid_price"
    title = "A price must be a non-negative amount with at most two decimal places"


class PriceChangeInPast(ValidationFailed):
    code = "price_change_in_past"
    title = "A price change cannot start in the past"


class PriceHistoryLocked(Conflict):
    code = "price_history_locked"
    title = "A price change that has taken effect cannot be changed or deleted"


class UnknownTier(NotFound):
    code = "unknown_tier"
    title = "No such tier"


class MemberNotFound(NotFound):
    """Used only until the members app provides its own ``member_not_found`` error."""

    code = "member_not_found"
    title = "No such member"
