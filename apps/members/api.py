from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import problem_responses
from apps.stores.auth import has_scope, requires
from apps.stores.models import Channel, Staff, Store
from apps.stores.scopes import Scope

from .errors import InvalidMemberData
from .models import Consent, Identity
from .selectors import member_card, member_card_of, member_get
from .services import member_register


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class MemberOutputSerializer(serializers.Serializer):
    """Documents the member body; the body itself is built by selectors.member_card / member_card_of."""

    code = serializers.CharField()
    phone_masked = serializers.CharField()
    name = serializers.CharField()
    tier = TierRefSerializer(allow_null=True)
    points_balance = serializers.IntegerField()
    joined_at = serializers.DateTimeField()
    join_store = serializers.CharField(allow_null=True)
    join_channel = serializers.CharField(allow_null=True)


class MemberRegisteredSerializer(serializers.Serializer):
    """The registration answer: the whole member for a key with ``members:read``, else only its code."""

    code = serializers.CharField()
    phone_masked = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    tier = TierRefSerializer(allow_null=True, required=False)
    points_balance = serializers.IntegerField(required=False)
    joined_at = serializers.DateTimeField(required=False)
    join_store = serializers.CharField(allow_null=True, required=False)
    join_channel = serializers.CharField(allow_null=True, required=False)


class MemberRegisterApi(APIView):
    permission_classes = [requires(Scope.MEMBERS_WRITE)]

    class IdentitySerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Identity.Kind.choices)
        value = serializers.CharField(max_length=128)

    class ConsentsSerializer(serializers.Serializer):
        wechat = serializers.BooleanField(required=False)
        sms = serializers.BooleanField(required=False)

    class MemberRegisterInputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=32)
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        birthday = serializers.DateField(required=False, allow_null=True, default=None)
        store = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
        guide = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
        identities = serializers.ListField(child=serializers.DictField(), required=False, default=list, max_length=20)
        consents = serializers.DictField(child=serializers.BooleanField(), required=False, default=dict)

        def validate_identities(self, value):
            serializer = MemberRegisterApi.IdentitySerializer(data=value, many=True)
            serializer.is_valid(raise_exception=True)
            return serializer.validated_data

        def validate_consents(self, value):
            unknown = set(value) - set(Consent.Channel.values)
            if unknown:
                raise serializers.ValidationError(f"unknown outreach channel(s): {', '.join(sorted(unknown))}")
            return value

    @extend_schema(
        operation_id="members_register",
        request=MemberRegisterInputSerializer,
        responses={
            201: MemberRegisteredSerializer,
            200: MemberRegisteredSerializer,
            **problem_responses((400, "invalid_phone"), (400, "validation_error"), (409, "identity_conflict")),
        },
    )
    def post(self, request: Request) -> Response:
        """Register a member, or find the existing member with that phone (new identities are added)."""
        data = self.MemberRegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        store = guide = None
        if values["store"]:
            store = Store.objects.filter(code=values["store"]).first()
            if store is None:
                raise InvalidMemberData("Unknown store.", errors={"store": [f"no store {values['store']!r}"]})
        if values["guide"]:
            guide = Staff.objects.filter(code=values["guide"], is_active=True).first()
            if guide is None:
                raise InvalidMemberData("Unknown guide.", errors={"guide": [f"no staff {values['guide']!r}"]})
        member, created = member_register(
            phone=values["phone"],
            name=values["name"],
            birthday=values["birthday"],
            store=store,
            channel=Channel.objects.get(pk=request.user.channel_id),
            guide=guide,
            identities=values["identities"],
            consents=values["consents"],
        )
        status = 201 if created else 200
        if not has_scope(request, Scope.MEMBERS_READ):
            # A platform registers the customers who join through it but may not read members back.
            return Response({"code": member.code}, status=status)
        return Response(member_card_of(member_get(code=member.code)), status=status)


class MemberLookupApi(APIView):
    permission_classes = [requires(Scope.MEMBERS_READ)]

    KEYS = ("phone", "openid", "unionid", "code")

    class MemberLookupInputSerializer(serializers.Serializer):
        phone = serializers.CharField(required=False, max_length=32)
        openid = serializers.CharField(required=False, max_length=128)
        unionid = serializers.CharField(required=False, max_length=128)
        code = serializers.CharField(required=False, max_length=20)

        def validate(self, attrs):
            if len(attrs) != 1:
                raise serializers.ValidationError("Give exactly one of phone, openid, unionid, code.")
            return attrs

    @extend_schema(
        operation_id="members_lookup",
        parameters=[MemberLookupInputSerializer],
        responses={
            200: MemberOutputSerializer,
            **problem_responses((400, "validation_error"), (400, "invalid_phone"), (404, "member_not_found")),
        },
    )
    def get(self, request: Request) -> Response:
        """The member with this phone, WeChat openid or unionid, or member code."""
        given = {k: v for k, v in request.query_params.items() if k in self.KEYS}
        if len(given) != 1 or len(request.query_params) != 1 or len(next(iter(given.values()))) > 128:
            params = self.MemberLookupInputSerializer(data=request.query_params)
            params.is_valid(raise_exception=True)  # says precisely what is wrong
            raise InvalidMemberData("Give exactly one of phone, openid, unionid, code.")
        return Response(member_card(**given))


api_urlpatterns = [
    path("members", MemberRegisterApi.as_view(), name="members-register"),
    path("members/lookup", MemberLookupApi.as_view(), name="members-lookup"),
]
