from decimal import Decimal

from django.core.cache import cache
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses
from apps.core.money import MONEY_MAX
from apps.loyalty.errors import COUPON_PROBLEMS
from apps.stores.auth import has_scope, requires
from apps.stores.errors import InsufficientScope
from apps.stores.models import Channel
from apps.stores.scopes import Scope

from .models import Order
from .payments import METHOD_CHOICES, order_payments_shown
from .selectors import order_get_by_number
from .services import order_create, order_refund, order_verify_voucher

MAX_QUANTITY = 9999  # of one SKU on one line


class PaymentSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=METHOD_CHOICES)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))


class OrderOutputSerializer(serializers.Serializer):
    class OrderLineOutputSerializer(serializers.Serializer):
        sku = serializers.CharField(source="sku.code")
        quantity = serializers.IntegerField()
        unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
        discount = serializers.DecimalField(max_digits=12, decimal_places=2)
        total = serializers.DecimalField(max_digits=12, decimal_places=2)

    class OrderFulfilmentSerializer(serializers.Serializer):
        type = serializers.CharField()
        store = serializers.CharField(allow_null=True)
        verification_code = serializers.CharField(required=False)

    number = serializers.CharField()
    external_id = serializers.CharField()
    channel = serializers.CharField(source="channel.code")
    store = serializers.CharField(source="store.code", allow_null=True, default=None)
    member = serializers.CharField(source="member.code", allow_null=True, default=None)
    guide = serializers.CharField(source="guide.code", allow_null=True, default=None)
    status = serializers.CharField()
    placed_at = serializers.DateTimeField()
    lines = OrderLineOutputSerializer(many=True, source="lines.all")
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    refunded_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    points_earned = serializers.IntegerField()
    coupons_applied = serializers.ListField(child=serializers.CharField())
    fulfilment = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()

    @extend_schema_field(OrderFulfilmentSerializer)
    def get_fulfilment(self, order: Order) -> dict:
        data = {"type": order.fulfilment, "store": order.store.code if order.store else None}
        if order.fulfilment == Order.Fulfilment.VOUCHER:
            data["verification_code"] = order.verification_code
        return data

    @extend_schema_field(PaymentSerializer(many=True))
    def get_payments(self, order: Order) -> list[dict]:
        return order_payments_shown(order)


_MONEY = serializers.DecimalField(max_digits=12, decimal_places=2)
_AT = serializers.DateTimeField()


def _code(related) -> str | None:
    return None if related is None else str(related.code)


def order_body(order: Order) -> dict:
    """``OrderOutputSerializer(order).data`` built directly (the create hot path): same keys, order and values;
    the serializer stays the schema and the reference (a test compares the two)."""
    money = _MONEY.to_representation
    return {
        "number": str(order.number),
        "external_id": str(order.external_id),
        "channel": str(order.channel.code),
        "store": _code(order.store),
        "member": _code(order.member),
        "guide": _code(order.guide),
        "status": str(order.status),
        "placed_at": _AT.to_representation(order.placed_at),
        "lines": [
            {
                "sku": str(line.sku.code),
                "quantity": int(line.quantity),
                "unit_price": money(line.unit_price),
                "discount": money(line.discount),
                "total": money(line.total),
            }
            for line in order.lines.all()
        ],
        "subtotal": money(order.subtotal),
        "discount_total": money(order.discount_total),
        "total": money(order.total),
        "refunded_total": money(order.refunded_total),
        "points_earned": int(order.points_earned),
        "coupons_applied": [str(code) for code in order.coupons_applied],
        "fulfilment": OrderOutputSerializer.get_fulfilment(None, order),
        "payments": order_payments_shown(order),
    }


def _render(order: Order, created: bool) -> Response:
    if not created:
        order = order_get_by_number(number=order.number)
        return Response(OrderOutputSerializer(order).data, status=status.HTTP_200_OK)
    return Response(order_body(order), status=status.HTTP_201_CREATED)


def _channel(pk: int) -> Channel:
    """The caller's channel; code and kind never change once in use, so a short per-process cache is safe."""
    key = f"orders:channel:{pk}"
    channel = cache.get(key)
    if channel is None:
        channel = Channel.objects.get(pk=pk)
        cache.set(key, channel, 300)
    return channel


class OrderCreateApi(APIView):
    permission_classes = [requires(Scope.ORDERS_WRITE)]

    class OrderCreateInputSerializer(serializers.Serializer):
        class OrderMemberInputSerializer(serializers.Serializer):
            code = serializers.CharField(required=False, max_length=32)
            phone = serializers.CharField(required=False, max_length=32)

            def validate(self, attrs):
                if not attrs.get("code") and not attrs.get("phone"):
                    raise serializers.ValidationError("Give the member's code or phone.")
                return attrs

        class OrderLineInputSerializer(serializers.Serializer):
            sku = serializers.CharField(max_length=64)
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
            unit_price = serializers.DecimalField(
                max_digits=12, decimal_places=2, min_value=0, max_value=MONEY_MAX, required=False
            )

        class OrderDeliveryInputSerializer(serializers.Serializer):
            lat = serializers.FloatField(min_value=-90, max_value=90)
            lng = serializers.FloatField(min_value=-180, max_value=180)
            address = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")

        external_id = serializers.CharField(max_length=100)
        store = serializers.CharField(required=False, allow_null=True, max_length=32)
        placed_at = serializers.DateTimeField(required=False)
        member = OrderMemberInputSerializer(required=False, allow_null=True)
        guide = serializers.CharField(required=False, allow_null=True, max_length=32)
        lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=200)
        coupon_codes = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=10)
        fulfilment = serializers.ChoiceField(choices=Order.Fulfilment.choices, default=Order.Fulfilment.IN_STORE)
        delivery = OrderDeliveryInputSerializer(required=False, allow_null=True)
        paid = serializers.BooleanField(default=True)
        payment_method = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
        payments = PaymentSerializer(many=True, required=False, allow_empty=False, max_length=6)

    @extend_schema(
        operation_id="orders_create",
        request=OrderCreateInputSerializer,
        responses={
            200: OrderOutputSerializer,
            201: OrderOutputSerializer,
            **problem_responses(
                (400, "validation_error"),
                (400, "invalid_phone"),
                (409, "idempotency_conflict"),
                (409, "out_of_stock"),
                (422, "unknown_sku"),
                (422, "member_not_found"),
                (422, "unknown_store"),
                (422, "unknown_guide"),
                (422, "price_mismatch"),
                (422, "coupon_not_found"),
                *COUPON_PROBLEMS,
                (422, "payments_mismatch"),
                (422, "insufficient_balance"),
                (422, "wallet_needs_member"),
            ),
        },
    )
    def post(self, request: Request) -> Response:
        """Post one order from the caller's channel; the same body again answers 200 with the same order."""
        data = self.OrderCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if any(p["method"] == "wallet" for p in data.validated_data.get("payments") or []) and not has_scope(
            request, Scope.WALLET_WRITE
        ):
            raise InsufficientScope(f"Paying from the member card needs the scope {Scope.WALLET_WRITE}.")
        channel = _channel(request.user.channel_id)
        order, created = order_create(channel=channel, **data.validated_data)
        return _render(order, created)


class OrderDetailApi(APIView):
    permission_classes = [requires(Scope.ORDERS_READ)]

    @extend_schema(
        operation_id="orders_retrieve",
        responses={200: OrderOutputSerializer, **problem_responses((404, "order_not_found"))},
    )
    def get(self, request: Request, number: str) -> Response:
        """One of the caller's channel's orders."""
        order = order_get_by_number(number=number, channel_id=request.user.channel_id)
        return Response(OrderOutputSerializer(order).data)


class OrderRefundApi(APIView):
    permission_classes = [requires(Scope.ORDERS_WRITE)]

    class OrderRefundInputSerializer(serializers.Serializer):
        class RefundLineInputSerializer(serializers.Serializer):
            sku = serializers.CharField(max_length=64)
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

        external_id = serializers.CharField(max_length=100)
        lines = RefundLineInputSerializer(many=True, allow_empty=False, max_length=200)

    class RefundOutputSerializer(serializers.Serializer):
        external_id = serializers.CharField()
        refund_total = serializers.DecimalField(max_digits=12, decimal_places=2)
        points_reversed = serializers.IntegerField()
        points_shortfall = serializers.IntegerField()
        payments = PaymentSerializer(many=True, help_text="How the refund goes back (empty: by the order's method).")

    @extend_schema(
        operation_id="orders_refund",
        request=OrderRefundInputSerializer,
        responses={
            200: RefundOutputSerializer,
            201: RefundOutputSerializer,
            **problem_responses(
                (400, "validation_error"),
                (404, "order_not_found"),
                (409, "idempotency_conflict"),
                (422, "refund_exceeds_order"),
            ),
        },
    )
    def post(self, request: Request, number: str) -> Response:
        """Refund some or all lines; the same external_id again answers 200 with the first refund."""
        data = self.OrderRefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_get_by_number(number=number, channel_id=request.user.channel_id)
        lines = [(line["sku"], line["quantity"]) for line in data.validated_data["lines"]]
        refund, created = order_refund(order=order, external_id=data.validated_data["external_id"], lines=lines)
        return Response(
            self.RefundOutputSerializer(refund).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class OrderVerifyApi(APIView):
    permission_classes = [requires(Scope.VOUCHERS_VERIFY)]

    class OrderVerifyInputSerializer(serializers.Serializer):
        verification_code = serializers.CharField(max_length=32)
        store = serializers.CharField(max_length=32)

    @extend_schema(
        operation_id="orders_verify",
        request=OrderVerifyInputSerializer,
        responses={
            200: OrderOutputSerializer,
            **problem_responses(
                (400, "validation_error"),
                (404, "order_not_found"),
                (409, "already_verified"),
                (409, "not_a_voucher"),
                (409, "out_of_stock"),
                (422, "invalid_verification_code"),
                (422, "unknown_store"),
                (422, "voucher_wrong_store"),
            ),
        },
    )
    def post(self, request: Request, number: str) -> Response:
        """Consume a voucher order in a store with its one-time code (any channel's store may verify)."""
        data = self.OrderVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_verify_voucher(number=number, **data.validated_data)
        return Response(OrderOutputSerializer(order_get_by_number(number=order.number)).data)


api_urlpatterns = [
    path("orders", OrderCreateApi.as_view(), name="orders-create"),
    path("orders/<str:number>", OrderDetailApi.as_view(), name="orders-detail"),
    path("orders/<str:number>/refunds", OrderRefundApi.as_view(), name="orders-refund"),
    path("orders/<str:number>/verify", OrderVerifyApi.as_view(), name="orders-verify"),
]
