from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses

from .auth import requires
from .scopes import Scope
from .selectors import stores_nearby


class StoresNearbyApi(APIView):
    permission_classes = [requires(Scope.CATALOG_READ)]

    class InputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-90, max_value=90)
        lng = serializers.FloatField(min_value=-180, max_value=180)
        limit = serializers.IntegerField(min_value=1, max_value=50, default=5)

    class StoreSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        kind = serializers.CharField()
        city = serializers.CharField()
        address = serializers.CharField()
        lat = serializers.DecimalField(max_digits=9, decimal_places=6)
        lng = serializers.DecimalField(max_digits=9, decimal_places=6)
        distance_km = serializers.SerializerMethodField()

        def get_distance_km(self, store) -> float:
            return round(store.distance_km, 3)

    @extend_schema(
        operation_id="stores_nearby",
        parameters=[InputSerializer],
        responses={
            200: inline_serializer("NearbyStores", {"stores": StoreSerializer(many=True)}),
            **problem_responses((400, "validation_error")),
        },
    )
    def get(self, request: Request) -> Response:
        """Active stores nearest first from a point."""
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        stores = stores_nearby(**params.validated_data)
        return Response({"stores": self.StoreSerializer(stores, many=True).data})


api_urlpatterns = [
    path("stores/nearby", StoresNearbyApi.as_view(), name="stores-nearby"),
]
