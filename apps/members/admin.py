from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.admin import ExportMixin

from apps.core.admin import EstimatedCountPaginator, ImportAdminMixin, ReadOnlyModelAdmin, ReadOnlyTabularInline
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.core.numbers import format_percent

from .binding import binding_conflict_merge
from .errors import InvalidPhone
from .models import (
    BindingConflict,
    BindingScene,
    Consent,
    ConsentEvent,
    Identity,
    Member,
    MemberMerge,
    Tier,
    TierChange,
    WeComContact,
)
from .phones import phone_mask
from .selectors import member_lookup_of
from .services import member_erase, member_merge, member_profile_check, member_register, member_update


def may_see_phone(request: HttpRequest) -> bool:
    return request.user.has_perm("members.view_full_phone")


class TierResource(resources.ModelResource):
    class Meta:
        model = Tier
        fields = ("code", "name", "rank", "min_annual_spend", "points_per_yuan", "discount_percent")
        export_order = fields


@admin.register(Tier)
class TierAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    import_resource = "tiers"
    resource_classes = [TierResource]
    list_display = (
        "rank",
        "code",
        "name",
        "min_spend",
        "points_per_yuan",
        "discount_percent",
        "members",
        "share",
    )
    list_display_links = ("code",)
    ordering = ("rank",)
    search_fields = ("=code", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tier]:
        return (
            super()
            .get_queryset(request)
            .annotate(active_members=Count("member", filter=Q(member__status=Member.Status.ACTIVE)))
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        self._active_total = Member.objects.filter(status=Member.Status.ACTIVE).count() or 1
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("active members"), ordering="active_members")
    def members(self, tier: Tier) -> int:
        return tier.active_members

    @admin.display(description=_("share of members"))
    def share(self, tier: Tier) -> str:
        return format_percent(Decimal(tier.active_members) / getattr(self, "_active_total", 1))

    @admin.display(description=_("minimum annual spend"), ordering="min_annual_spend")
    def min_spend(self, tier: Tier) -> str:
        return format_money(tier.min_annual_spend)


class IdentityInline(ReadOnlyTabularInline):
    model = Identity
    fields = ("kind", "channel", "value", "created_at")


class ConsentInline(ReadOnlyTabularInline):
    model = Consent
    fields = ("channel", "granted", "changed_at", "source")


class ConsentEventInline(ReadOnlyTabularInline):
    """Each purpose's history: every grant and withdrawal, newest first."""

    model = ConsentEvent
    fields = ("channel", "granted", "at", "source")
    ordering = ("channel", "-at")
    verbose_name_plural = _("consent history (per purpose)")


class TierChangeInline(ReadOnlyTabularInline):
    model = TierChange
    fields = ("changed_at", "from_tier", "to_tier", "reason", "spend_12m")
    ordering = ("-changed_at",)


class WeChatConsentFilter(admin.SimpleListFilter):
    title = _("WeChat consent")
    parameter_name = "wechat_consent"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        granted = Exists(Consent.objects.filter(member=OuterRef("pk"), channel="wechat", granted=True))
        if self.value() == "yes":
            return queryset.filter(granted)
        if self.value() == "no":
            return queryset.filter(~granted)
        return queryset


class MemberResource(resources.ModelResource):
    class Meta:
        model = Member
        fields = ("code", "name", "birthday", "joined_at", "join_store__code", "tier__code", "status", "points_balance")
        export_order = fields


class MemberConsoleForm(forms.ModelForm):
    """The console's member form: checked by the same rule the services apply, shown on the fields."""

    class Meta:
        model = Member
        fields = ("phone", "name", "birthday", "joined_at", "join_channel", "join_store", "recruited_by")

    def validate_unique(self) -> None:
        pass  # the phone's uniqueness is checked on its E.164 form in clean(), as the services check it

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        phone = cleaned["phone"] if "phone" in self.fields else self.instance.phone
        try:
            e164 = member_profile_check(
                member=self.instance if self.instance.pk else None,
                phone=phone or "",
                name=cleaned.get("name", self.instance.name) or "",
                birthday=cleaned.get("birthday", self.instance.birthday),
                at=cleaned.get("joined_at"),
            )
        except InvalidPhone as exc:
            self.add_error("phone" if "phone" in self.fields else None, exc.message)
        except DomainError as exc:
            field = next(iter(exc.errors or {}), None)
            self.add_error(field if field in self.fields else None, exc.message)
        else:
            if "phone" in self.fields:
                cleaned["phone"] = e164
        return cleaned


class MemberChangeList(ChangeList):
    """A member in the list opens on their 360° page (the edit form is one click from there)."""

    def url_for_result(self, result: models.Model) -> str:
        return reverse("admin:members_member_360", args=[result.pk], current_app=self.model_admin.admin_site.name)


@admin.register(Member)
class MemberAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    import_resource = "members"
    resource_classes = [MemberResource]
    list_display = ("code", "phone_masked", "name", "tier", "join_store", "joined_at", "points_balance", "status")
    list_filter = ("status", "tier", WeChatConsentFilter, ("joined_at", admin.DateFieldListFilter), "join_store")
    list_select_related = ("tier", "join_store")
    search_fields = ("=code",)  # routed by shape in get_search_results
    search_help_text = _("Phone (any form), 12-digit member code, WeChat openid/unionid, or the start of a name.")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # The list is for finding someone (the search box) and opening their 360° page: 50 rows render in about half
    # the time of Django's 100 (rendering, not the query, is the cost at a million members; bench/console.py).
    list_per_page = 50
    raw_id_fields = ("join_store", "join_channel", "recruited_by", "merged_into")
    readonly_fields = ("code", "points_balance", "status", "merged_into", "tier_since", "created_at")
    inlines = [IdentityInline, ConsentInline, ConsentEventInline, TierChangeInline]
    actions = ["merge_members", "erase_members"]
    form = MemberConsoleForm
    change_form_template = "admin/members/member/change_form.html"
    # Registration takes these; afterwards they are history (credit for the join) and stay as they were.
    REGISTRATION_FIELDS = ["phone", "name", "birthday", "joined_at", "join_channel", "join_store", "recruited_by"]

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return list(self.REGISTRATION_FIELDS)
        fields = ["code", *self.REGISTRATION_FIELDS]
        fields += ["tier", "tier_since", "status", "merged_into", "points_balance", "created_at"]
        if not may_see_phone(request):
            fields[fields.index("phone")] = "phone_masked"
        return fields

    def get_changelist(self, request: HttpRequest, **kwargs):
        return MemberChangeList

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"joined_at": timezone.now(), **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: Member, form, change: bool) -> None:
        data = form.cleaned_data
        if change:
            member_update(
                member=obj,
                phone=data.get("phone") or obj.phone or "",
                name=data.get("name", obj.name),
                birthday=data.get("birthday", obj.birthday),
            )
            return
        member, created = member_register(
            phone=data["phone"],
            name=data.get("name") or "",
            birthday=data.get("birthday"),
            store=data.get("join_store"),
            channel=data.get("join_channel"),
            guide=data.get("recruited_by"),
            at=data.get("joined_at"),
        )
        if not created:  # registered by someone else since the form was checked
            self.message_user(request, _("This phone was already registered; that member is shown."), messages.INFO)
        obj.pk, obj.code, obj.phone, obj.tier_id = member.pk, member.code, member.phone, member.tier_id
        obj._state.adding = False

    def get_list_display(self, request: HttpRequest):
        display = list(super().get_list_display(request))
        if may_see_phone(request):
            display[display.index("phone_masked")] = "phone"
        return display

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ()
        readonly = [*self.readonly_fields, "joined_at", "join_channel", "join_store", "recruited_by"]
        if not may_see_phone(request):
            readonly.append("phone_masked")
        readonly.append("tier")  # tiers change through spend, the evaluation, or a service; history is kept
        return readonly

    @admin.display(description=_("phone"))
    def phone_masked(self, member: Member) -> str:
        return phone_mask(member.phone)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Member], search_term: str):
        """Search by what the term looks like, so every search uses an index (no ILIKE '%x%')."""
        term = search_term.strip()
        if not term:
            return queryset, False
        lookup = member_lookup_of(term)
        if "phone" in lookup:
            return queryset.filter(phone=lookup["phone"]), False
        if queryset.filter(code=lookup["code"]).exists():
            return queryset.filter(code=lookup["code"]), False
        by_identity = queryset.filter(pk__in=Identity.objects.filter(value=term).values("member_id"))
        if by_identity.exists():
            return by_identity, False
        return queryset.filter(name__startswith=term), False

    @admin.action(description=_("Merge the two selected members…"), permissions=["change"])
    def merge_members(self, request: HttpRequest, queryset: QuerySet[Member]) -> HttpResponse | None:
        members = list(queryset.select_related("tier", "join_store")[:3])
        if len(members) != 2:
            self.message_user(request, _("Select exactly two members to merge."), messages.ERROR)
            return None
        if request.POST.get("confirm") == "yes":
            survivor_code = request.POST.get("survivor")
            survivor = next((m for m in members if m.code == survivor_code), None)
            if survivor is None:
                self.message_user(request, _("Choose which member remains."), messages.ERROR)
                return None
            merged = next(m for m in members if m.pk != survivor.pk)
            try:
                member_merge(survivor=survivor, merged=merged, operator=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return None
            self.message_user(
                request,
                _("%(merged)s was merged into %(survivor)s.") % {"merged": merged.code, "survivor": survivor.code},
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Merge two members"),
            "members": [
                (m, m.phone if may_see_phone(request) else phone_mask(m.phone), m.identities.count()) for m in members
            ],
            "action": "merge_members",
            "selected": [m.pk for m in members],
        }
        return TemplateResponse(request, "admin/members/merge_confirm.html", context)

    @admin.action(
        description=_("Erase personal data of the selected members (on their request)…"), permissions=["change"]
    )
    def erase_members(self, request: HttpRequest, queryset: QuerySet[Member]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Erase personal data"),
                "members": list(queryset[:50]),
                "action": "erase_members",
                "selected": list(queryset.values_list("pk", flat=True)[:50]),
            }
            return TemplateResponse(request, "admin/members/erase_confirm.html", context)
        erased = 0
        for member in queryset.exclude(status=Member.Status.MERGED)[:50]:
            member_erase(member=member)
            erased += 1
        self.message_user(request, _("Erased personal data of %(n)d member(s).") % {"n": erased})
        return None


@admin.register(MemberMerge)
class MemberMergeAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = ("merged_at", "merged", "survivor", "operator")
    list_select_related = ("merged", "survivor", "operator")
    readonly_fields = ("merged_at", "merged", "survivor", "operator", "summary")


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = ("at", "member", "channel", "granted", "source")
    list_filter = ("channel", "granted")
    raw_id_fields = ("member",)
    list_select_related = ("member",)
    search_fields = ("=member__code",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(BindingConflict)
class BindingConflictAdmin(admin.ModelAdmin):
    """WeChat accounts that scanned a member's binding QR while already bound to another member."""

    list_display = ("at", "member", "bound_member", "openid", "resolved_at")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter),)
    list_select_related = ("member", "bound_member")
    readonly_fields = ("at", "scene", "member", "bound_member", "openid", "resolved_at")
    actions = ["merge_into_bound_member"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Merge the QR's member into the member already bound to WeChat"))
    def merge_into_bound_member(self, request: HttpRequest, queryset: QuerySet[BindingConflict]) -> None:
        merged = 0
        for conflict in queryset.filter(resolved_at=None).select_related("member", "bound_member")[:50]:
            try:
                binding_conflict_merge(conflict=conflict, operator=request.user)
            except DomainError as exc:
                self.message_user(request, f"{conflict}: {exc.message}", messages.ERROR)
            else:
                merged += 1
        self.message_user(request, _("Merged %(n)d conflict(s).") % {"n": merged})


@admin.register(BindingScene)
class BindingSceneAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = ("created_at", "member", "store", "guide", "expires_at", "used_at")
    list_select_related = ("member", "store", "guide")
    raw_id_fields = ("member",)
    search_fields = ("=member__code",)
    readonly_fields = [f.name for f in BindingScene._meta.fields]
    show_full_result_count = False


@admin.register(WeComContact)
class WeComContactAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = ("added_at", "staff", "external_userid", "member")
    list_select_related = ("staff", "member")
    raw_id_fields = ("member",)
    search_fields = ("=external_userid", "=member__code")
    readonly_fields = ("added_at", "staff", "external_userid", "unionid", "member")
    show_full_result_count = False
