"""Channel API: a member's profile for personalisation, and the KPI figures for BI tools."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses
from apps.members.selectors import member_get
from apps.stores.auth import requires
from apps.stores.models import Channel, Store
from apps.stores.scopes import Scope

from .errors import InvalidKpiQuery
from .kpis import DEFINITIONS, KpiScope, kpi_month_figures
from .selectors import member_profile_card

# Years 1970-2999: the figures look a year back and a month ahead, which must stay valid dates.
MONTH_PATTERN = r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$"
MONTH = re.compile(MONTH_PATTERN)


def _plain(value: Any) -> Any:
    """Decimals as strings (ratios to four places, money to two), as the API writes amounts."""
    return str(value) if isinstance(value, Decimal) else value


ProfileSerializer = inline_serializer(
    "MemberProfile",
    {
        "tags": serializers.ListField(child=serializers.CharField()),
        "lifecycle_stage": serializers.CharField(allow_null=True),
        "rfm": inline_serializer(
            "MemberRfm",
            {
                "recency_score": serializers.IntegerField(allow_null=True),
                "frequency_score": serializers.IntegerField(allow_null=True),
                "monetary_score": serializers.IntegerField(allow_null=True),
                "segment": serializers.CharField(allow_null=True),
            },
        ),
        "btyd": inline_serializer(
            "MemberBtyd",
            {
                "frequency": serializers.IntegerField(),
                "recency": serializers.IntegerField(),
                "T": serializers.IntegerField(),
                "monetary_value": serializers.CharField(),
            },
        ),
        "computed_at": serializers.DateTimeField(allow_null=True),
        "clv": inline_serializer(
            "MemberClv",
            {
                "p_alive": serializers.FloatField(min_value=0, max_value=1),
                "expected_purchases_90d": serializers.FloatField(min_value=0),
                "expected_purchases_365d": serializers.FloatField(min_value=0),
                "expected_value_365d": serializers.DecimalField(max_digits=14, decimal_places=2),
                "as_of": serializers.DateField(),
            },
            allow_null=True,
        ),
    },
)


class MemberProfileApi(APIView):
    permission_classes = [requires(Scope.MEMBERS_READ)]

    @extend_schema(
        operation_id="members_profile",
        responses={200: ProfileSerializer, **problem_responses((404, "member_not_found"))},
    )
    def get(self, request: Request, code: str) -> Response:
        """Tags, lifecycle stage, RFM scores and BTYD measures of the member (as of the nightly refresh)."""
        card = member_profile_card(member=member_get(code=code))
        if card["computed_at"] is not None:
            card["computed_at"] = serializers.DateTimeField().to_representation(card["computed_at"])
        return Response(card)


FigureSerializer = inline_serializer(
    "KpiFigure",
    {"value": serializers.CharField(allow_null=True), "definition": serializers.CharField()},
)


class KpisApi(APIView):
    permission_classes = [requires(Scope.KPIS_READ)]

    @extend_schema(
        operation_id="kpis",
        parameters=[
            OpenApiParameter("month", str, required=True, description="YYYY-MM", pattern=MONTH_PATTERN),
            OpenApiParameter("store", str, required=False, description="store code"),
            OpenApiParameter("channel", str, required=False, description="channel code"),
        ],
        responses={
            200: inline_serializer(
                "Kpis",
                {
                    "month": serializers.CharField(),
                    "store": serializers.CharField(allow_null=True),
                    "channel": serializers.CharField(allow_null=True),
                    "computed_at": serializers.DateTimeField(allow_null=True),
                    "figures": inline_serializer(
                        "KpiFigures", {name: FigureSerializer for name in DEFINITIONS if name != "recruited"}
                    ),
                },
            ),
            **problem_responses((400, "invalid_kpi_query")),
        },
    )
    def get(self, request: Request) -> Response:
        """The dashboard's figures for one month, over everything or one store and/or channel."""
        params = request.query_params
        errors: dict[str, list[str]] = {}
        found = MONTH.fullmatch(params.get("month", ""))
        if not found:
            errors["month"] = ["give the month as YYYY-MM (1970-2999)"]
        store = channel = None
        if params.get("store"):
            store = Store.objects.filter(code=params["store"]).first()
            if store is None:
                errors["store"] = [f"no store {params['store'][:32]!r}"]
        if params.get("channel"):
            channel = Channel.objects.filter(code=params["channel"]).first()
            if channel is None:
                errors["channel"] = [f"no channel {params['channel'][:32]!r}"]
        if errors:
            raise InvalidKpiQuery("Some parameters are not valid.", errors=errors)
        month = date(int(found.group(1)), int(found.group(2)), 1)
        scope = KpiScope(month=month, store_id=store.pk if store else None, channel_id=channel.pk if channel else None)
        result = kpi_month_figures(scope=scope)
        figures = {
            name: {"value": _plain(f["value"]), "definition": f["definition"]}
            for name, f in result["figures"].items()
            if name != "recruited"
        }
        computed_at = result["computed_at"]
        return Response(
            {
                "month": result["month"],
                "store": store.code if store else None,
                "channel": channel.code if channel else None,
                "computed_at": serializers.DateTimeField().to_representation(computed_at) if computed_at else None,
                "figures": figures,
            }
        )


api_urlpatterns = [
    path("members/<str:code>/profile", MemberProfileApi.as_view(), name="members-profile"),
    path("kpis", KpisApi.as_view(), name="kpis"),
]
