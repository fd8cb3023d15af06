"""Order writes: create (priced once, idempotent per channel and external id), refund, fulfil, verify.

Everything is checked before anything is written; the writes then run in one transaction so an error
leaves nothing half-written. Lock order: the order row (insert or ``select_for_update``), stock rows (by
sku_id, inside the catalog services), coupon rows, the member row (points, then spend).
"""

from ..drafts import PricedLine, order_draft, spread_discount
from .common import fingerprint, order_number_new, verification_code_new
from .create import order_create
from .fulfilment import order_fulfil, order_verify_voucher
from .merge import orders_merge
from .refunds import order_refund

__all__ = [
    "PricedLine",
    "fingerprint",
    "order_create",
    "order_draft",
    "order_fulfil",
    "order_number_new",
    "order_refund",
    "order_verify_voucher",
    "orders_merge",
    "spread_discount",
    "verification_code_new",
]
