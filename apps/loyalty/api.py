from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses
from apps.core.errors import IdempotencyConflict, ValidationFailed
from apps.loyalty.errors import COUPON_PROBLEMS
from apps.members.selectors import member_find, member_get
from apps.stores.auth import requires
from apps.stores.models import Store
from apps.stores.scopes import Scope

from .models import Coupon, IdempotencyRecord
from .selectors import member_coupons, points_expiring, points_recent_entries
from .services import coupon_redeem, points_mall_redeem
from .wallet.api import api_urlpatterns as wallet_api_urlpatterns


class CouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    template = serializers.CharField(source="template.code")
    name = serializers.CharField(source="template.name")
    kind = serializers.CharField(source="template.kind")
    value = serializers.DecimalField(source="template.value", max_digits=12, decimal_places=2)
    max_discount = serializers.DecimalField(
        source="template.max_discount", max_digits=12, decimal_places=2, allow_null=True
    )
    min_spend = serializers.DecimalField(source="template.min_spend", max_digits=12, decimal_places=2)
    status = serializers.CharField()
    valid_from = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    redeemed_at = serializers.DateTimeField(allow_null=True)
    redeemed_store = serializers.SerializerMethodField()
    redeemed_order = serializers.CharField()

    def get_redeemed_store(self, coupon: Coupon) -> str | None:
        return coupon.redeemed_store.code if coupon.redeemed_store_id else None


class EntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    points = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class ExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


MEMBER_PROBLEMS = ((404, "member_not_found"),)


class MemberPointsApi(APIView):
    permission_classes = [requires(Scope.MEMBERS_READ)]

    @extend_schema(
        operation_id="members_points",
        responses={
            200: inline_serializer(
                "MemberPoints",
                {
                    "balance": serializers.IntegerField(),
                    "expiring": ExpiringSerializer(many=True),
                    "entries": EntrySerializer(many=True),
                },
            ),
            **problem_responses(*MEMBER_PROBLEMS),
        },
    )
    def get(self, request: Request, code: str) -> Response:
        """The member's balance, what expires when, and the latest 50 ledger entries."""
        member = member_get(code=code)
        return Response(
            {
                "balance": member.points_balance,
                "expiring": ExpiringSerializer(points_expiring(member_id=member.pk), many=True).data,
                "entries": EntrySerializer(points_recent_entries(member_id=member.pk), many=True).data,
            }
        )


class MemberCouponsApi(APIView):
    permission_classes = [requires(Scope.MEMBERS_READ)]

    @extend_schema(
        operation_id="members_coupons",
        parameters=[OpenApiParameter("status", str, enum=["available", "redeemed", "expired"], required=False)],
        responses={200: CouponSerializer(many=True), **problem_responses(*MEMBER_PROBLEMS, (400, "validation_error"))},
    )
    def get(self, request: Request, code: str) -> Response:
        """The member's coupons, optionally only those available now, redeemed or expired."""
        status = request.query_params.get("status")
        if status not in (None, "available", "redeemed", "expired"):
            raise ValidationFailed("Unknown status.", errors={"status": ["available, redeemed or expired"]})
        member = member_get(code=code)
        coupons = member_coupons(member_id=member.pk, status=status).select_related("redeemed_store")
        return Response(CouponSerializer(coupons, many=True).data)


class PointsRedeemApi(APIView):
    permission_classes = [requires(Scope.COUPONS_REDEEM)]

    class PointsRedeemInputSerializer(serializers.Serializer):
        reward = serializers.CharField(max_length=32)

    @extend_schema(
        operation_id="members_points_redeem",
        request=PointsRedeemInputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        responses={
            201: CouponSerializer,
            **problem_responses(
                *MEMBER_PROBLEMS,
                (400, "validation_error"),
                (409, "idempotency_conflict"),
                (422, "insufficient_points"),
                (422, "reward_unavailable"),
            ),
        },
    )
    def post(self, request: Request, code: str) -> Response:
        """Points mall: exchange points for a coupon. A repeated Idempotency-Key replays the first answer."""
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if not key or len(key) > 100:
            raise ValidationFailed(
                "Send an Idempotency-Key header.", errors={"Idempotency-Key": ["required, at most 100 characters"]}
            )
        data = self.PointsRedeemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fingerprint = hashlib.sha256(json.dumps([code, data.validated_data], sort_keys=True).encode()).hexdigest()
        channel_id = request.user.channel_id
        if replay := _replay(channel_id, key, fingerprint):
            return replay
        member = member_get(code=code)
        try:
            with transaction.atomic():
                coupon = points_mall_redeem(
                    member=member, reward_code=data.validated_data["reward"], idempotency_key=f"{channel_id}:{key}"
                )
                body = CouponSerializer(coupon).data
                IdempotencyRecord.objects.create(
                    channel_id=channel_id, key=key, fingerprint=fingerprint, status_code=201, body=body
                )
        except IntegrityError:
            # The same key raced us and won; answer as it did.
            if replay := _replay(channel_id, key, fingerprint):
                return replay
            raise
        return Response(body, status=201)


def _replay(channel_id: int, key: str, fingerprint: str) -> Response | None:
    record = IdempotencyRecord.objects.filter(channel_id=channel_id, key=key).first()
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used with a different request.")
    return Response(record.body, status=record.status_code)


class CouponRedeemApi(APIView):
    permission_classes = [requires(Scope.COUPONS_REDEEM)]

    class CouponRedeemInputSerializer(serializers.Serializer):
        store = serializers.CharField(max_length=32)
        member = serializers.CharField(
            max_length=32, required=False, allow_blank=True, help_text="The card code or phone of who uses it."
        )
        order = serializers.CharField(
            max_length=64, required=False, allow_blank=True, help_text="The channel's reference for the purchase."
        )
        amount = serializers.DecimalField(
            max_digits=12,
            decimal_places=2,
            min_value=Decimal("0.00"),
            required=False,
            help_text="What the purchase comes to; the coupon's minimum spend is checked against it.",
        )

    @extend_schema(
        operation_id="coupons_redeem",
        request=CouponRedeemInputSerializer,
        responses={
            200: CouponSerializer,
            **problem_responses(
                (400, "validation_error"),
                (404, "coupon_not_found"),
                (404, "member_not_found"),
                *COUPON_PROBLEMS,
            ),
        },
    )
    def post(self, request: Request, code: str) -> Response:
        """Use a coupon once, at a store, by the member who holds it, against a purchase of ``amount``.

        Refused with the precise code (``coupon_not_yours``, ``coupon_min_spend`` ...); again: 409
        ``coupon_already_redeemed``."""
        data = self.CouponRedeemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        store = Store.objects.filter(code=data.validated_data["store"]).first()
        if store is None:
            raise ValidationFailed("Unknown store.", errors={"store": ["no such store"]})
        named = data.validated_data.get("member")
        member = member_find(text=named) if named else None
        coupon = coupon_redeem(
            code=code,
            store_id=store.pk,
            channel_id=request.user.channel_id,
            member_id=member.pk if member else None,
            amount=data.validated_data.get("amount"),
            order_number=data.validated_data.get("order") or None,
        )
        coupon = Coupon.objects.select_related("template", "redeemed_store").get(pk=coupon.pk)
        return Response(CouponSerializer(coupon).data)


api_urlpatterns = [
    path("members/<str:code>/points", MemberPointsApi.as_view(), name="members-points"),
    path("members/<str:code>/coupons", MemberCouponsApi.as_view(), name="members-coupons"),
    path("members/<str:code>/points/redeem", PointsRedeemApi.as_view(), name="members-points-redeem"),
    path("coupons/<str:code>/redeem", CouponRedeemApi.as_view(), name="coupons-redeem"),
    *wallet_api_urlpatterns,
]
