from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.admin import ExportMixin

from apps.core.admin import EstimatedCountPaginator, ImportAdminMixin, ReadOnlyModelAdmin
from apps.core.errors import DomainError
from apps.members.errors import InvalidPhone, MemberNotFound
from apps.members.models import Member
from apps.members.phones import phone_normalize
from apps.members.selectors import member_find

from .models import Coupon, CouponTemplate, PointsEntry
from .points import ledger_mismatches
from .services import coupons_issue_bulk, points_adjust


class AdjustPointsForm(forms.Form):
    member = forms.CharField(label=_("Member code or phone"), max_length=32)
    points = forms.IntegerField(label=_("Points (negative to take away)"))
    reason = forms.CharField(label=_("Reason"), max_length=255)
    request_id = forms.CharField(widget=forms.HiddenInput)

    def clean_member(self) -> Member:
        term = self.cleaned_data["member"].strip()
        try:
            return member_find(text=term)
        except (MemberNotFound, InvalidPhone) as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_points(self) -> int:
        if self.cleaned_data["points"] == 0:
            raise forms.ValidationError(_("An adjustment is not zero."))
        return self.cleaned_data["points"]


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = ("created_at", "member", "kind", "points", "balance_after", "reference", "shortfall", "created_by")
    list_filter = ("kind",)
    list_select_related = ("member", "created_by")
    search_fields = ("=member__code", "=idempotency_key", "=reference")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    change_list_template = "admin/loyalty/pointsentry_change_list.html"  # the ledger is append-only

    def get_urls(self):
        return [
            path("adjust/", self.admin_site.admin_view(self.adjust_view), name="loyalty_pointsentry_adjust"),
            path("check/", self.admin_site.admin_view(self.check_view), name="loyalty_pointsentry_check"),
            *super().get_urls(),
        ]

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("loyalty.adjust_points"):
            raise PermissionDenied
        initial = {"request_id": uuid.uuid4().hex, "member": request.GET.get("member", "")}  # from the member's page
        form = AdjustPointsForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                # The form's own id is the idempotency key: a double-submitted form books once.
                points_adjust(
                    member_id=data["member"].pk,
                    points=data["points"],
                    reason=data["reason"],
                    user=request.user,
                    idempotency_key=f"adjust:{data['request_id']}",
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    _("%(points)+d points for %(member)s (%(reason)s).")
                    % {"points": data["points"], "member": data["member"].code, "reason": data["reason"]},
                )
                return HttpResponseRedirect(reverse("admin:loyalty_pointsentry_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Adjust points"),
        }
        return TemplateResponse(request, "admin/loyalty/adjust.html", context)

    def check_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Balances against the ledger"),
            "mismatches": ledger_mismatches(),
        }
        return TemplateResponse(request, "admin/loyalty/check.html", context)


class CouponTemplateResource(resources.ModelResource):
    class Meta:
        model = CouponTemplate
        fields = (
            "code",
            "name",
            "kind",
            "value",
            "min_spend",
            "valid_days",
            "points_cost",
            "per_member_limit",
            "total_limit",
        )
        export_order = fields


class IssueForm(forms.Form):
    members = forms.CharField(
        label=_("Members"), widget=forms.Textarea, help_text=_("Member codes or phones, one per line.")
    )


@admin.register(CouponTemplate)
class CouponTemplateAdmin(ImportAdminMixin, ExportMixin, admin.ModelAdmin):
    import_resource = "coupon_templates"
    resource_classes = [CouponTemplateResource]
    list_display = (
        "code",
        "name",
        "kind",
        "value",
        "min_spend",
        "points_cost",
        "is_active",
        "issued",
        "redeemed",
        "expired",
    )
    list_filter = ("kind", "is_active", "is_stackable")
    search_fields = ("=code", "name")
    filter_horizontal = ("stores", "channels", "categories")
    readonly_fields = ("issued_count",)
    actions = ["issue_to_members"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CouponTemplate]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_issued=Count("coupons"),
                n_redeemed=Count("coupons", filter=Q(coupons__status=Coupon.Status.REDEEMED)),
                n_expired=Count("coupons", filter=Q(coupons__status=Coupon.Status.EXPIRED)),
            )
        )

    @admin.display(description=_("issued"), ordering="n_issued")
    def issued(self, template: CouponTemplate) -> int:
        return template.n_issued

    @admin.display(description=_("redeemed"), ordering="n_redeemed")
    def redeemed(self, template: CouponTemplate) -> int:
        return template.n_redeemed

    @admin.display(description=_("expired"), ordering="n_expired")
    def expired(self, template: CouponTemplate) -> int:
        return template.n_expired

    @admin.action(description=_("Issue the selected coupon to members…"), permissions=["change"])
    def issue_to_members(self, request: HttpRequest, queryset: QuerySet[CouponTemplate]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Select one coupon template."), messages.ERROR)
            return None
        template = queryset.get()
        form = IssueForm(request.POST if "members" in request.POST else None)
        if form.is_bound and form.is_valid():
            ids, unknown = [], []
            for line in filter(None, (raw.strip() for raw in form.cleaned_data["members"].splitlines())):
                try:
                    ids.append(member_find(text=line).pk)
                except (MemberNotFound, InvalidPhone):
                    unknown.append(line)
            if unknown:
                form.add_error("members", _("Not members: %(list)s") % {"list": ", ".join(unknown[:20])})
            else:
                issued = coupons_issue_bulk(template=template, member_ids=ids)
                self.message_user(
                    request,
                    _("Issued %(n)d coupon(s); %(skipped)d member(s) were at their limit.")
                    % {"n": issued, "skipped": len(set(ids)) - issued},
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Issue %(name)s") % {"name": template.name},
            "form": form,
            "template_pk": template.pk,
        }
        return TemplateResponse(request, "admin/loyalty/issue.html", context)


@admin.register(Coupon)
class CouponAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    """Coupons are issued from templates and spent or restored by the coupon services; never edited here."""

    list_display = ("code", "template", "member", "status", "issued_at", "expires_at", "redeemed_at", "redeemed_store")
    list_filter = ("status", "template")
    list_select_related = ("template", "member", "redeemed_store")
    search_fields = ("=code", "=member__code")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [f.name for f in Coupon._meta.fields]

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        term = search_term.strip()
        try:
            return queryset.filter(member__phone=phone_normalize(term)), False
        except InvalidPhone:
            return queryset.filter(Q(code=term.upper()) | Q(member__code=term)), False


from .wallet import admin as wallet_admin  # noqa: E402, F401 - registers the wallet's console pages
