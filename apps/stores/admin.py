from django import forms
from django.contrib import admin, messages
from django.contrib.auth import password_validation
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.admin import ExportMixin

from apps.core.admin import ImportAdminMixin
from apps.core.errors import DomainError

from .models import ApiKey, Channel, Staff, Store
from .scopes import ALL_SCOPES, SCOPE_LABELS
from .services import (
    api_key_create,
    api_key_revoke,
    api_key_update,
    staff_create,
    staff_create_check,
    staff_update,
    staff_wecom_userid_check,
)


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
    fields = ("prefix", "name", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "name", "scopes", "created_at", "last_used_at", "revoked_at")
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


class ApiKeyConsoleForm(forms.ModelForm):
    """Scopes as checkboxes; saved through ``api_key_update``."""

    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=[(s.value, f"{s.value}: {SCOPE_LABELS[s]}") for s in ALL_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("A request needing a scope the key lacks is refused (403 insufficient_scope)."),
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["scopes"] = self.instance.scope_list if self.instance.pk else []

    def validate_unique(self) -> None:
        pass

    def _post_clean(self) -> None:
        pass  # the service checks and saves; the model instance is not filled from the form


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyConsoleForm
    list_display = ("prefix", "channel", "name", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("channel", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("channel",)
    readonly_fields = ("channel", "prefix", "created_at", "last_used_at", "revoked_at")
    fields = ("channel", "prefix", "name", "scopes", "created_at", "last_used_at", "revoked_at")
    search_fields = ("=prefix", "channel__code")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        api_key_update(key=obj, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"])

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        pass

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


class StaffConsoleForm(forms.ModelForm):
    """Add: an existing login or a new one (username and password); the role decides groups and console access."""

    username = forms.CharField(
        label=_("new login: username"), max_length=150, required=False, help_text=_("Leave empty to pick a login.")
    )
    password = forms.CharField(label=_("new login: password"), widget=forms.PasswordInput, required=False)

    class Meta:
        model = Staff
        fields = ("user", "code", "name", "role", "stores", "is_active", "wecom_userid")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            self.fields["user"].required = False

    def validate_unique(self) -> None:
        pass  # checked by staff_create_check in clean(), as staff_create checks it

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and not self.errors:
            try:
                staff_wecom_userid_check(staff=self.instance, wecom_userid=cleaned.get("wecom_userid"))
            except DomainError as exc:
                self.add_error("wecom_userid", exc.message)
        if self.instance.pk or self.errors:
            return cleaned
        username = (cleaned.get("username") or "").strip()
        user = cleaned.get("user")
        try:
            staff_create_check(code=cleaned["code"], role=cleaned["role"], username=username, user=user)
        except DomainError as exc:
            for field, problems in (exc.errors or {}).items():
                self.add_error(field if field in self.fields else None, problems)
            return cleaned
        if user is None:
            if not cleaned.get("password"):
                self.add_error("password", _("A new login needs a password."))
            else:
                try:
                    password_validation.validate_password(cleaned["password"])
                except forms.ValidationError as exc:
                    self.add_error("password", exc)
        return cleaned


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    """Staff are created and edited through the staff services, so the login's groups and console access
    always follow the role."""

    form = StaffConsoleForm
    list_display = ("code", "name", "role", "user", "store_list", "wecom_userid", "is_active")
    list_filter = ("role", "is_active", "stores")
    search_fields = ("=code", "name", "user__username")
    autocomplete_fields = ("user",)
    filter_horizontal = ("stores",)
    list_select_related = ("user",)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("code", "name", "role", "stores", "user", "username", "password")
        return ("code", "user", "name", "role", "stores", "is_active", "wecom_userid")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ("code", "user") if obj is not None else ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Staff]:
        return super().get_queryset(request).prefetch_related("stores")

    def save_model(self, request: HttpRequest, obj: Staff, form, change: bool) -> None:
        data = form.cleaned_data
        if change:
            staff_update(
                staff=obj,
                name=data["name"],
                role=data["role"],
                stores=data["stores"],
                is_active=data["is_active"],
                wecom_userid=data.get("wecom_userid"),
            )
            return
        staff = staff_create(
            code=data["code"],
            name=data["name"],
            role=data["role"],
            stores=data["stores"],
            user=data.get("user"),
            username=(data.get("username") or "").strip(),
            password=data.get("password") or None,
        )
        obj.pk, obj.user_id = staff.pk, staff.user_id
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        pass  # the stores were set by the service

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # staff leave by being made inactive; their sales keep the credit

    @admin.display(description=_("stores"))
    def store_list(self, obj: Staff) -> str:
        return ", ".join(s.code for s in obj.stores.all())
