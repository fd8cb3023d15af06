"""The wallet's channel API: a member's balance and entries, and recharges (idempotent per channel and id)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses
from apps.core.errors import ValidationFailed
from apps.members.selectors import member_get
from apps.stores.auth import ChannelPrincipal, requires
from apps.stores.models import Store
from apps.stores.scopes import Scope

from .models import PaymentMethod
from .selectors import wallet_balance, wallet_recent_entries
from .services import RechargeResult, request_fingerprint, wallet_recharge

_MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


class WalletEntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    amount = serializers.DecimalField(**_MONEY)
    balance_after = serializers.DecimalField(**_MONEY)
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class MemberWalletApi(APIView):
    permission_classes = [requires(Scope.MEMBERS_READ)]

    @extend_schema(
        operation_id="members_wallet",
        responses={
            200: inline_serializer(
                "MemberWallet",
                {
                    "balance": serializers.DecimalField(**_MONEY),
                    "principal": serializers.DecimalField(**_MONEY),
                    "bonus": serializers.DecimalField(**_MONEY),
                    "entries": WalletEntrySerializer(many=True),
                },
            ),
            **problem_responses((404, "member_not_found")),
        },
    )
    def get(self, request: Request, code: str) -> Response:
        """The member's card balance (principal and bonus) and the latest 50 wallet entries, newest first."""
        member = member_get(code=code)
        balance = wallet_balance(member_id=member.pk)
        money = serializers.DecimalField(**_MONEY).to_representation
        return Response(
            {
                "balance": money(balance.balance),
                "principal": money(balance.principal),
                "bonus": money(balance.bonus),
                "entries": WalletEntrySerializer(wallet_recent_entries(member_id=member.pk), many=True).data,
            }
        )


class WalletRechargeApi(APIView):
    permission_classes = [requires(Scope.WALLET_WRITE)]

    class RechargeInputSerializer(serializers.Serializer):
        external_id = serializers.CharField(max_length=100)
        # Range and limit are the service's (one rule): here only the shape of an amount.
        amount = serializers.DecimalField(**_MONEY)
        store = serializers.CharField(required=False, allow_null=True, max_length=32)
        payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)

    class RechargeOutputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(**_MONEY)
        bonus = serializers.DecimalField(**_MONEY)
        balance = serializers.DecimalField(**_MONEY)

    @extend_schema(
        operation_id="members_wallet_recharge",
        request=RechargeInputSerializer,
        responses={
            200: RechargeOutputSerializer,
            201: RechargeOutputSerializer,
            **problem_responses(
                (400, "validation_error"),
                (400, "invalid_amount"),
                (404, "member_not_found"),
                (409, "idempotency_conflict"),
            ),
        },
    )
    def post(self, request: Request, code: str) -> Response:
        """Pay money into the member's card; the recharge rules add their bonus. The same external_id and body
        again answers 200 with the first result; another body under that external_id: 409."""
        data = self.RechargeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        member = member_get(code=code)
        store = None
        if values.get("store"):
            store = Store.objects.filter(code=values["store"], is_active=True).first()
            if store is None:
                raise ValidationFailed("Unknown store.", errors={"store": ["no such active store"]})
        principal = request.user
        assert isinstance(principal, ChannelPrincipal)  # the API's authentication makes every caller one
        channel_id = principal.channel_id
        key = f"recharge:{channel_id}:{values['external_id']}"
        fingerprint = request_fingerprint(
            {"member": member.code, "amount": values["amount"], "store": values.get("store"),
             "payment_method": values["payment_method"]}
        )  # fmt: skip
        kwargs = {
            "member": member,
            "amount": values["amount"],
            "payment_method": values["payment_method"],
            "idempotency_key": key,
            "store_id": store.pk if store else None,
            "fingerprint": fingerprint,
            "reference": f"recharge {values['external_id']}",
        }
        try:
            result = wallet_recharge(**kwargs)
        except IntegrityError:  # the same key raced us and won: answer as it did (or 409)
            result = wallet_recharge(**kwargs)
        return _render(result)


def _render(result: RechargeResult) -> Response:
    body = WalletRechargeApi.RechargeOutputSerializer(
        {"amount": result.amount, "bonus": result.bonus, "balance": result.balance}
    ).data
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


api_urlpatterns = [
    path("members/<str:code>/wallet", MemberWalletApi.as_view(), name="members-wallet"),
    path("members/<str:code>/wallet/recharges", WalletRechargeApi.as_view(), name="members-wallet-recharge"),
]
