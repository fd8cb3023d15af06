from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses
from apps.members.errors import InvalidMemberData
from apps.members.selectors import member_get
from apps.stores.auth import requires
from apps.stores.models import Staff, Store
from apps.stores.scopes import Scope

from .errors import WeChatUnavailable
from .wechat.binding import wechat_binding_create
from .wechat.client import WeChatApiError


class WeChatBindingApi(APIView):
    permission_classes = [requires(Scope.MEMBERS_WRITE)]

    class InputSerializer(serializers.Serializer):
        store = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
        guide = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)

    class OutputSerializer(serializers.Serializer):
        ticket = serializers.CharField()
        qr_url = serializers.URLField()
        scene = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="members_wechat_binding",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            **problem_responses(
                (400, "validation_error"),
                (404, "member_not_found"),
                (422, "member_not_active"),
                (503, "wechat_unavailable"),
            ),
        },
    )
    def post(self, request: Request, code: str) -> Response:
        """A temporary WeChat QR code; scanning it binds the WeChat account to this member (never a new one)."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        member = member_get(code=code)
        store = guide = None
        if values["store"]:
            store = Store.objects.filter(code=values["store"]).first()
            if store is None:
                raise InvalidMemberData("Unknown store.", errors={"store": [f"no store {values['store']!r}"]})
        if values["guide"]:
            guide = Staff.objects.filter(code=values["guide"], is_active=True).first()
            if guide is None:
                raise InvalidMemberData("Unknown guide.", errors={"guide": [f"no staff {values['guide']!r}"]})
        try:
            qr = wechat_binding_create(member=member, store=store, guide=guide)
        except WeChatApiError as exc:
            raise WeChatUnavailable(f"WeChat refused the QR code ({exc}).") from exc
        body = {"ticket": qr.ticket, "qr_url": qr.qr_url, "scene": qr.scene, "expires_at": qr.expires_at}
        return Response(self.OutputSerializer(body).data, status=201)


api_urlpatterns = [
    path("members/<str:code>/wechat-binding", WeChatBindingApi.as_view(), name="members-wechat-binding"),
]
