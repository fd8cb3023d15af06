"""The operators' console for tags, segments and the KPI dashboard."""

from __future__ import annotations

import csv
import json
from datetime import date

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.admin import EstimatedCountPaginator, ReadOnlyModelAdmin
from apps.core.dates import last_complete_month
from apps.core.errors import DomainError
from apps.core.numbers import currency_symbol
from apps.members.phones import phone_mask
from apps.stores.models import Channel, Store

from .charts import bar_chart, line_chart
from .clv.selectors import member_likely_to_buy
from .conditions import ConditionSpec, condition_errors
from .kpis import DEFINITIONS, KpiScope, cohort_table, kpi_trend, people_month, tier_distribution
from .models import (
    InsightsConfig,
    KpiMonth,
    MemberProfile,
    MemberTag,
    Segment,
    SegmentCondition,
    SegmentSnapshot,
    SegmentSnapshotMember,
    Tag,
)
from .selectors import members_count, segment_members, segment_specs
from .services import member_tag_add, member_tag_remove, segment_save, segment_snapshot_take


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    """Stream a CSV (a million rows never sit in memory)."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _chain([header], rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _chain(*iterables):
    for iterable in iterables:
        yield from iterable


@admin.register(InsightsConfig)
class InsightsConfigAdmin(admin.ModelAdmin):
    list_display = ("__str__", "at_risk_days", "dormant_days", "churned_days", "power_medium_from", "power_high_from")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not InsightsConfig.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "rule", "created_at")
    list_filter = ("kind", "rule")
    search_fields = ("code", "name")
    filter_horizontal = ("rule_categories",)
    autocomplete_fields = ("rule_tag",)
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "description")}),
        (
            _("Rule (for rule tags; recomputed every night)"),
            {
                "fields": ("rule", "rule_categories", "rule_tag"),
                "description": _(
                    "Bought together: members with one order holding items of every chosen category (or their "
                    "subcategories), e.g. a razor and shaving cream. Tagged, never bought: members carrying the "
                    "chosen tag (e.g. 'liked' from a channel) who never bought the chosen categories (any "
                    "category when none is chosen)."
                ),
            },
        ),
    )


@admin.register(MemberTag)
class MemberTagAdmin(admin.ModelAdmin):
    list_display = ("member", "tag", "assigned_at", "assigned_by")
    list_filter = ("tag",)
    search_fields = ("=member__code", "=member__phone")
    raw_id_fields = ("member",)
    autocomplete_fields = ("tag",)
    list_select_related = ("member", "tag", "assigned_by")
    fields = ("member", "tag")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def save_model(self, request, obj, form, change) -> None:
        try:
            saved = member_tag_add(member=obj.member, tag_code=obj.tag.code, by=request.user)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: MemberTag) -> None:
        member_tag_remove(member=obj.member, tag_code=obj.tag.code)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MemberTag]) -> None:
        for member_tag in queryset.select_related("member", "tag"):
            member_tag_remove(member=member_tag.member, tag_code=member_tag.tag.code)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class BirthdayMonthFilter(admin.SimpleListFilter):
    """The member's birthday month (read from the member, so it is never a night behind)."""

    title = _("birthday month")
    parameter_name = "birthday_month"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [(str(month), str(month)) for month in range(1, 13)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(member__birthday__month=int(value))
        return queryset


@admin.register(MemberProfile)
class MemberProfileAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = (
        "member",
        "lifecycle_stage",
        "rfm_segment",
        "recency_score",
        "frequency_score",
        "monetary_score",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "average_order_value",
        "channel_habit",
        "computed_on",
    )
    list_filter = ("lifecycle_stage", "rfm_segment", "channel_habit", "power_band", BirthdayMonthFilter)
    search_fields = ("=member__code", "=member__phone")
    list_select_related = ("member",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [f.name for f in MemberProfile._meta.fields] + [
        "T",
        "birthday_month",
        "computed_on",
        "computed_at",
        "likely_to_buy_again",
    ]

    @admin.display(description=_("likely to buy again"))
    def likely_to_buy_again(self, obj: MemberProfile) -> str:
        return member_likely_to_buy(member_id=obj.member_id) or "–"

    # The evaluation date is stored once for all profiles; T is that date less the first purchase day.
    @admin.display(description=_("BTYD T (days)"))
    def T(self, obj: MemberProfile) -> int:
        return obj.T

    @admin.display(description=_("birthday month"))
    def birthday_month(self, obj: MemberProfile) -> int | None:
        return obj.birthday_month

    @admin.display(description=_("evaluation date"))
    def computed_on(self, obj: MemberProfile):
        return obj.computed_on

    @admin.display(description=_("computed at"))
    def computed_at(self, obj: MemberProfile):
        return obj.computed_at


class SegmentConditionForm(forms.ModelForm):
    class Meta:
        model = SegmentCondition
        fields = ("group", "kind", "value", "negate")

    def clean(self):
        data = super().clean()
        if data.get("kind"):
            spec = ConditionSpec(kind=data["kind"], value=data.get("value") or "")
            errors = condition_errors([spec])
            if errors:
                raise forms.ValidationError(next(iter(errors.values())))
        return data


class SegmentConditionInline(admin.TabularInline):
    model = SegmentCondition
    form = SegmentConditionForm
    extra = 1


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "updated_at")
    search_fields = ("code", "name")
    inlines = (SegmentConditionInline,)
    actions = ("take_snapshot", "export_members")
    change_form_template = "admin/insights/segment/change_form.html"

    def save_model(self, request: HttpRequest, obj: Segment, form, change: bool) -> None:
        pass  # saved with its conditions in save_related, through segment_save

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        conditions = [
            ConditionSpec(
                kind=row["kind"], value=row.get("value") or "", negate=bool(row.get("negate")), group=row["group"]
            )
            for formset in formsets
            for row in formset.cleaned_data
            if row and row.get("kind") and not row.get("DELETE")
        ]
        data = form.cleaned_data
        saved = segment_save(
            segment=form.instance if change else None,
            code=data["code"],
            name=data["name"],
            description=data.get("description", form.instance.description),
            conditions=conditions,
        )
        form.instance.pk = saved.pk
        form.instance._state.adding = False
        for formset in formsets:  # the conditions were replaced as a whole; the history says "changed"
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def get_urls(self):
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="insights_segment_preview"),
            path(
                "<int:pk>/members.csv", self.admin_site.admin_view(self.members_csv_view), name="insights_segment_csv"
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Live count: ``?segment=<id>`` or ``?conditions=[{group, kind, value, negate}, ...]`` (unsaved)."""
        if not self.has_view_permission(request):
            return JsonResponse({"error": str(_("Not allowed."))}, status=403)
        if request.GET.get("segment"):
            segment = (
                Segment.objects.filter(pk=request.GET["segment"]).first() if request.GET["segment"].isdigit() else None
            )
            if segment is None:
                return JsonResponse({"error": str(_("No such segment."))}, status=404)
            return JsonResponse({"count": members_count(specs=segment_specs(segment=segment))})
        try:
            raw = json.loads(request.GET.get("conditions") or "[]")
            specs = [
                ConditionSpec(
                    kind=str(c.get("kind", "")),
                    value=str(c.get("value", "")),
                    negate=bool(c.get("negate")),
                    group=int(c.get("group") or 1),
                )
                for c in raw
                if c.get("kind")
            ]
        except (ValueError, TypeError, AttributeError):
            return JsonResponse({"error": str(_("The conditions are not readable."))}, status=400)
        errors = condition_errors(specs)
        if errors:
            return JsonResponse({"errors": errors}, status=400)
        return JsonResponse({"count": members_count(specs=specs)})

    def _members_csv(self, segment: Segment) -> StreamingHttpResponse:
        rows = (
            segment_members(segment=segment)
            .order_by("pk")
            .values_list("code", "name", "phone", "tier__code", "insight_profile__lifecycle_stage")
            .iterator(chunk_size=5000)
        )
        return _csv_response(
            f"segment-{segment.code}.csv",
            ["code", "name", "phone", "tier", "lifecycle_stage"],
            ((c, n, phone_mask(p) if p else "", t or "", s or "") for c, n, p, t, s in rows),
        )

    def members_csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        segment = Segment.objects.filter(pk=pk).first()
        if segment is None:
            return HttpResponse(status=404)
        return self._members_csv(segment)

    @admin.action(description=_("Take a snapshot of the members now (e.g. for a campaign)"), permissions=["change"])
    def take_snapshot(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        for segment in queryset[:20]:
            snapshot = segment_snapshot_take(segment=segment)
            self.message_user(
                request, _("%(segment)s: %(n)d members frozen.") % {"segment": segment, "n": snapshot.member_count}
            )

    @admin.action(description=_("Export the members to CSV"))
    def export_members(self, request: HttpRequest, queryset: QuerySet[Segment]):
        segment = queryset.first()
        return self._members_csv(segment) if segment else None


@admin.register(SegmentSnapshot)
class SegmentSnapshotAdmin(admin.ModelAdmin):
    list_display = ("segment", "taken_at", "member_count")
    list_select_related = ("segment",)
    readonly_fields = ("segment", "taken_at", "member_count", "conditions")
    actions = ("export_members",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Export the frozen members to CSV"))
    def export_members(self, request: HttpRequest, queryset: QuerySet[SegmentSnapshot]):
        snapshot = queryset.first()
        if snapshot is None:
            return None
        rows = (
            SegmentSnapshotMember.objects.filter(snapshot=snapshot)
            .order_by("member_id")
            .values_list("member__code", "member__name")
            .iterator(chunk_size=5000)
        )
        return _csv_response(f"snapshot-{snapshot.pk}.csv", ["code", "name"], rows)


def _parse_month(text: str | None) -> date:
    """The month asked for, else the last complete one (the running month would end every trend in a cliff)."""
    if text and len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        year, month = int(text[:4]), int(text[5:])
        if 1 <= month <= 12 and 2000 <= year <= 2100:
            return date(year, month, 1)
    return last_complete_month()


PERCENT = {
    "member_share_of_transactions",
    "member_share_of_sales",
    "reachable_share",
    "repurchase_rate",
    "churn_rate",
}
MONEY = {"average_order_value", "annual_contribution_per_member", "new_member_sales", "returning_member_sales"}
LABELS = {
    "member_share_of_transactions": _("Member share of transactions"),
    "member_share_of_sales": _("Member share of sales"),
    "reachable_share": _("Reachable online"),
    "active_members": _("Active members"),
    "purchase_frequency": _("Purchase frequency"),
    "average_order_value": _("Average order value"),
    "annual_contribution_per_member": _("Annual contribution per member"),
    "repurchase_rate": _("Repurchase rate"),
    "churn_rate": _("Churn rate"),
    "new_member_sales": _("New members' sales"),
    "returning_member_sales": _("Returning members' sales"),
    "recruited": _("Members recruited"),
}


def _kind(name: str) -> str:
    return "percent" if name in PERCENT else "money" if name in MONEY else "number"


def _with(request: HttpRequest, **changes: str) -> str:
    query = request.GET.copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


@admin.register(KpiMonth)
class KpiDashboardAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    """The KPI dashboard: the changelist of KPI months is the dashboard page."""

    def get_urls(self):
        return [
            path("csv/", self.admin_site.admin_view(self.csv_view), name="insights_kpimonth_csv"),
            *super().get_urls(),
        ]

    def _scope(self, request: HttpRequest) -> tuple[KpiScope, Store | None, Channel | None]:
        store = Store.objects.filter(code=request.GET.get("store") or "").first()
        channel = Channel.objects.filter(code=request.GET.get("channel") or "").first()
        scope = KpiScope(
            month=_parse_month(request.GET.get("month")),
            store_id=store.pk if store else None,
            channel_id=channel.pk if channel else None,
        )
        return scope, store, channel

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        scope, store, channel = self._scope(request)
        trend = kpi_trend(scope=scope, months=12)
        labels = [m.strftime("%Y-%m") for m, _ in trend]
        current = trend[-1][1]
        cards = [
            {"name": name, "label": LABELS.get(name, name), "value": current[name], "kind": _kind(name),
             "places": 2 if name == "purchase_frequency" else 0, "definition": DEFINITIONS[name]}
            for name in DEFINITIONS
        ]  # fmt: skip
        series = lambda name: [f[name] for _, f in trend]  # noqa: E731
        symbol = currency_symbol()
        # Each chart's title names its unit: the dashboard is read without the definitions open.
        titled = [
            ("member_share_of_transactions", _("Member share of transactions (% of orders)")),
            ("member_share_of_sales", _("Member share of sales (% of net sales)")),
            ("active_members", _("Active members (members with an order)")),
            ("purchase_frequency", _("Purchase frequency (orders per active member)")),
            ("average_order_value", _("Average order value (%(symbol)s per member order)") % {"symbol": symbol}),
            ("annual_contribution_per_member",
             _("Annual contribution (%(symbol)s per active member, 12 months)") % {"symbol": symbol}),
            ("repurchase_rate", _("Repurchase rate (% of active members, 12 months)")),
            ("churn_rate", _("Churn rate (% of last year's buyers)")),
            ("reachable_share", _("Reachable online (% of members)")),
        ]  # fmt: skip
        charts = [
            (title, line_chart(labels, series(name), title=str(title), percent=name in PERCENT, money=name in MONEY))
            for name, title in titled
        ]
        new_vs_returning = bar_chart(
            [
                (str(_("New members")), current["new_member_sales"]),
                (str(_("Returning members")), current["returning_member_sales"]),
            ],
            title=_("New vs returning members' sales"), money=True,
        )  # fmt: skip
        tiers = tier_distribution(store_id=scope.store_id)
        people = people_month(month=scope.month)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Operations KPIs"),
            "opts": self.model._meta,
            "scope": scope,
            "month_text": scope.month.strftime("%Y-%m"),
            "is_month_to_date": scope.month == timezone.localdate().replace(day=1),
            "this_month_url": "?" + _with(request, month=timezone.localdate().strftime("%Y-%m")),
            "last_complete_url": "?" + _with(request, month=last_complete_month().strftime("%Y-%m")),
            "store": store,
            "channel": channel,
            "stores": Store.objects.order_by("code").values_list("code", "name"),
            "channels": Channel.objects.order_by("code").values_list("code", "name"),
            "cards": cards,
            "charts": charts,
            "new_vs_returning": new_vs_returning,
            "tiers": tiers,
            "tier_chart": bar_chart([(t["tier"], t["members"]) for t in tiers], title=_("Tier distribution")),
            "cohorts": cohort_table(store_id=scope.store_id),
            "people": people,
            "store_chart": bar_chart(
                [(f"{r['store__code']}", r["sales"]) for r in people["stores"][:10]],
                title=_("Sales by store"),
                money=True,
            ),
            "csv_url": reverse("admin:insights_kpimonth_csv") + "?" + request.GET.urlencode(),
            "definitions": DEFINITIONS,
        }
        return TemplateResponse(request, "admin/insights/dashboard.html", context)

    def csv_view(self, request: HttpRequest) -> HttpResponse:
        """The last 24 months of the dashboard's figures for the chosen store and channel."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        scope, store, channel = self._scope(request)
        names = list(DEFINITIONS)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="kpis-{scope.month:%Y-%m}.csv"'
        writer = csv.writer(response)
        writer.writerow(["month", "store", "channel", *names])
        for month, figures in kpi_trend(scope=scope, months=24):
            writer.writerow(
                [month.strftime("%Y-%m"), store.code if store else "", channel.code if channel else ""]
                + ["" if figures[n] is None else figures[n] for n in names]
            )
        return response


from .clv import admin as clv_admin  # noqa: E402, F401  (registers the lifetime value pages)
