from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.admin import ExportMixin

from apps.core.admin import ImportAdminMixin

from .models import ApiKey, Channel, Staff, Store
from .services import api_key_create, api_key_revoke


class ChannelResource(resources.ModelResource):
    class Meta:
        model = Channel
        fields = ("code", "name", "kind")
        export_order = fields


class StoreResource(resources.ModelResource):
    class Meta:
        model = Store
        fields = ("code", "name", "kind", "address", "city", "lat", "lng", "is_active")
        export_order = fields


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # keys are made with the "Create API key" action so the raw key can be shown once


@admin.register(Channel)
class ChannelAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    import_resource = "channels"
    resource_classes = [ChannelResource]
    list_display = ("code", "name", "kind", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("=code", "name")
    inlines = [ApiKeyInline]
    actions = ["create_api_key"]

    @admin.action(description=_("Create an API key (shown once)"), permissions=["change"])
    def create_api_key(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            _key, raw = api_key_create(channel_code=channel.code, name=f"created by {request.user}")
            self.message_user(
                request,
                _("New key for %(channel)s (copy it now, it is not shown again): %(key)s")
                % {"channel": channel.code, "key": raw},
                messages.WARNING,
            )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "channel", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("channel", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("channel",)
    readonly_fields = ("channel", "prefix", "created_at", "last_used_at", "revoked_at")
    fields = ("channel", "prefix", "name", "created_at", "last_used_at", "revoked_at")
    search_fields = ("=prefix", "channel__code")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, _("Revoked %(n)d key(s).") % {"n": queryset.count()})


@admin.register(Store)
class StoreAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    import_resource = "stores"
    resource_classes = [StoreResource]
    list_display = ("code", "name", "kind", "city", "lat", "lng", "is_active")
    list_filter = ("kind", "city", "is_active")
    search_fields = ("=code", "name", "city")


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "role", "user", "store_list", "is_active")
    list_filter = ("role", "is_active", "stores")
    search_fields = ("=code", "name", "user__username")
    autocomplete_fields = ("user",)
    filter_horizontal = ("stores",)
    list_select_related = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Staff]:
        return super().get_queryset(request).prefetch_related("stores")

    @admin.display(description=_("stores"))
    def store_list(self, obj: Staff) -> str:
        return ", ".join(s.code for s in obj.stores.all())
