from typing import Any

from django.conf import settings
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses
from apps.stores.auth import requires
from apps.stores.scopes import Scope

from .errors import UnknownSku, UnknownSkuNotFound
from .selectors import sku_availability, sku_prices_for_member
from .services import channel_listings_report

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


def _not_found(exc: UnknownSku) -> UnknownSkuNotFound:
    return UnknownSkuNotFound(exc.detail)


class SkuPriceApi(APIView):
    permission_classes = [requires(Scope.CATALOG_READ)]

    class InputSerializer(serializers.Serializer):
        member = serializers.CharField(required=False, max_length=20, help_text="Member code: adds the tier's price")

    class SkuPriceSerializer(serializers.Serializer):
        sku = serializers.CharField()
        list_price = serializers.DecimalField(**MONEY)
        member_price = serializers.DecimalField(**MONEY, allow_null=True)
        price = serializers.DecimalField(**MONEY, help_text="What this member (or anyone, without one) pays now")
        currency = serializers.CharField()
        valid_from = serializers.DateTimeField(help_text="Since when the list price applies")

    @extend_schema(
        operation_id="sku_price",
        parameters=[InputSerializer, OpenApiParameter("sku", str, OpenApiParameter.PATH)],
        responses={
            200: SkuPriceSerializer,
            **problem_responses((400, "validation_error"), (404, "unknown_sku"), (404, "member_not_found")),
        },
    )
    def get(self, request: Request, sku: str) -> Response:
        """The unified price of a SKU now, the same on every channel; with ``member``, that member's price."""
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            price = sku_prices_for_member(skus=[sku], member_code=params.validated_data.get("member"))[sku]
        except UnknownSku as exc:
            raise _not_found(exc) from None
        # Rendered by hand (same shape as SkuPriceSerializer, which documents it): this is the hottest endpoint.
        body = {
            "sku": price.sku,
            "list_price": str(price.list_price),
            "member_price": None if price.member_price is None else str(price.member_price),
            "price": str(price.price),
            "currency": settings.CURRENCY,
            "valid_from": timezone.localtime(price.valid_from).isoformat(),
        }
        return Response(body)


class SkuAvailabilityApi(APIView):
    permission_classes = [requires(Scope.CATALOG_READ)]

    class InputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-90, max_value=90)
        lng = serializers.FloatField(min_value=-180, max_value=180)
        limit = serializers.IntegerField(min_value=1, max_value=50, default=5)

    class StoreAvailabilitySerializer(serializers.Serializer):
        store = serializers.CharField(source="store.code")
        name = serializers.CharField(source="store.name")
        distance_km = serializers.SerializerMethodField()
        quantity = serializers.IntegerField(help_text="Available now: on hand less reserved")

        def get_distance_km(self, row) -> float:
            return round(row.distance_km, 3)

    @extend_schema(
        operation_id="sku_availability",
        parameters=[InputSerializer, OpenApiParameter("sku", str, OpenApiParameter.PATH)],
        responses={
            200: inline_serializer(
                "SkuAvailability", {"sku": serializers.CharField(), "stores": StoreAvailabilitySerializer(many=True)}
            ),
            **problem_responses((400, "validation_error"), (404, "unknown_sku")),
        },
    )
    def get(self, request: Request, sku: str) -> Response:
        """Stores that have the SKU available, nearest first from a point, with quantity and distance."""
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            rows = sku_availability(code=sku, **params.validated_data)
        except UnknownSku as exc:
            raise _not_found(exc) from None
        return Response({"sku": sku, "stores": self.StoreAvailabilitySerializer(rows, many=True).data})


class ChannelListingSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    price = serializers.DecimalField(**MONEY, min_value=0, help_text="What the channel lists the SKU at")


class ChannelListingsApi(APIView):
    permission_classes = [requires(Scope.CATALOG_READ)]

    class ChannelListingsReportSerializer(serializers.Serializer):
        listings = ChannelListingSerializer(many=True, min_length=1, max_length=5000)

    @extend_schema(
        operation_id="channel_listings_report",
        request=ChannelListingsReportSerializer,
        responses={
            200: inline_serializer("ChannelListingsReceived", {"received": serializers.IntegerField()}),
            **problem_responses((400, "validation_error"), (422, "unknown_sku")),
        },
    )
    def post(self, request: Request) -> Response:
        """Report what the calling channel lists SKUs at; listings that differ from the unified price show
        up in the console's price deviation report. Unknown SKUs: nothing is stored."""
        data = self.ChannelListingsReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        received = channel_listings_report(
            channel_id=request.user.channel_id,
            listings=[(row["sku"], row["price"]) for row in data.validated_data["listings"]],
        )
        return Response({"received": received})


api_urlpatterns = [
    path("skus/<str:sku>/price", SkuPriceApi.as_view(), name="sku-price"),
    path("skus/<str:sku>/availability", SkuAvailabilityApi.as_view(), name="sku-availability"),
    path("channel-listings", ChannelListingsApi.as_view(), name="channel-listings"),
]
