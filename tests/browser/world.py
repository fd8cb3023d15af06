"""A small store world for the clerk page tests: two stores far apart, a clerk in each, members of each,
a priced SKU with stock, coupons, a points-mall reward and two voucher orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.loyalty.coupons import coupon_issue
from apps.loyalty.points import points_earn
from apps.members.codes import member_code_new
from apps.members.models import Member
from apps.orders.models import Order
from apps.orders.services import order_create
from apps.stores.models import Staff, Store
from apps.stores.services import staff_create
from tests.catalog.factories import SkuFactory, stock
from tests.factories import ChannelFactory, MemberFactory, StoreFactory, TierFactory
from tests.loyalty.factories import CouponTemplateFactory

PASSWORD = "pw-for-tests-1"
MY_PHONE = "+8613800138000"
OTHER_PHONE = "+8613900139000"


@dataclass
class World:
    store: Store
    near: Store
    other: Store
    clerk: Staff
    other_clerk: Staff
    member: Member
    other_member: Member
    coupon: str
    other_coupon: str
    voucher: Order
    other_voucher: Order


def build_world() -> World:
    silver = TierFactory(code="silver", name="Silver", rank=1, min_annual_spend=Decimal("0"))
    TierFactory(code="gold", name="Gold", rank=2, min_annual_spend=Decimal("1000"), discount_percent=Decimal("10"))
    ChannelFactory(code="pos", name="Store POS", kind="pos")
    mall = ChannelFactory(code="mall", name="Own mall", kind="mall")
    store = StoreFactory(code="SH001", name="Jing'an", lat=Decimal("31.228730"), lng=Decimal("121.449620"))
    near = StoreFactory(code="SH002", name="Xintiandi", lat=Decimal("31.219660"), lng=Decimal("121.475040"))
    other = StoreFactory(code="HZ001", name="Hubin", city="Hangzhou", lat=Decimal("30.25721"), lng=Decimal("120.16423"))
    clerk = staff_create(
        code="C-SH001", name="Zhao Min", role=Staff.Role.CLERK, username="clerk", password=PASSWORD, stores=[store]
    )
    other_clerk = staff_create(
        code="C-HZ001", name="Sun Hui", role=Staff.Role.CLERK, username="clerk_hz", password=PASSWORD, stores=[other]
    )
    member = MemberFactory(
        code=member_code_new(), phone=MY_PHONE, name="Li Na", tier=silver, join_store=store, recruited_by=clerk
    )
    other_member = MemberFactory(
        code=member_code_new(),
        phone=OTHER_PHONE,
        name="Wu Lei",
        tier=silver,
        join_store=other,
        recruited_by=other_clerk,
    )
    points_earn(member_id=member.pk, points=300, reference="test", idempotency_key="world:earn")
    tea = SkuFactory(code="TEA", name="Longjing tea", price="30.00", barcode="6901234567892")
    stock(store, tea, 10)
    stock(near, tea, 4)
    stock(other, tea, 7)
    tenoff = CouponTemplateFactory(code="tenoff", name="10 yuan off", value=Decimal("10.00"))
    coupon = coupon_issue(template=tenoff, member=member).code
    other_coupon = coupon_issue(template=tenoff, member=other_member).code
    CouponTemplateFactory(code="mall-cup", name="Free tea cup", value=Decimal("15.00"), points_cost=100)
    voucher, _ = order_create(
        channel=mall, external_id="V1", lines=[{"sku": "TEA", "quantity": 1}], fulfilment="voucher"
    )
    other_voucher, _ = order_create(
        channel=mall, external_id="V2", lines=[{"sku": "TEA", "quantity": 1}], fulfilment="voucher", store="HZ001"
    )
    return World(
        store, near, other, clerk, other_clerk, member, other_member, coupon, other_coupon, voucher, other_voucher
    )
