from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.admin import EstimatedCountPaginator
from apps.core.errors import DomainError

from .broadcasts import (
    broadcast_audience_preview,
    broadcast_pause,
    broadcast_results,
    broadcast_resume,
    broadcast_schedule,
)
from .content import VARIABLES, content_validate
from .errors import InvalidContent
from .journeys import journey_pause, journey_resume, journey_step_due_count
from .models import Broadcast, BroadcastVariant, Journey, JourneyStep, OutboxMessage, SendingControl
from .preparation import touch_preview
from .selectors import journey_step_sample_member, journey_step_stats, preview_member
from .services import (
    outbox_in_doubt_confirm_sent,
    outbox_in_doubt_resend,
    sending_control,
    sending_pause,
    sending_resume,
)


@admin.register(SendingControl)
class SendingControlAdmin(admin.ModelAdmin):
    list_display = ("__str__", "is_paused", "reason", "changed_at")
    fields = ("is_paused", "reason", "changed_at")
    readonly_fields = ("changed_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not SendingControl.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SendingControl, form, change: bool) -> None:
        if obj.is_paused:
            sending_pause(reason=obj.reason or f"paused by {request.user}")
        else:
            sending_resume()
        obj.pk = sending_control().pk


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("touch_key", "member", "kind", "status", "reason", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "kind", "reason")
    search_fields = ("=touch_key", "=member__code", "=recipient", "=msgid")
    list_select_related = ("member",)
    raw_id_fields = ("member", "store")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["send_in_doubt_again", "mark_in_doubt_as_sent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("In doubt: send again (only if WeChat did not get it)"), permissions=["change"])
    def send_in_doubt_again(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        n = outbox_in_doubt_resend(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%(n)d message(s) will be sent again.") % {"n": n})

    @admin.action(description=_("In doubt: mark as sent (WeChat got it)"), permissions=["change"])
    def mark_in_doubt_as_sent(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        n = outbox_in_doubt_confirm_sent(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%(n)d message(s) marked as sent.") % {"n": n})


# -- journeys and broadcasts ---------------------------------------------------------------------------------


class TouchContentForm(forms.ModelForm):
    """Checks the content's variables and template fields when the operator saves it."""

    def clean(self):
        cleaned = super().clean()
        action, content = cleaned.get("action"), cleaned.get("content") or ""
        try:
            content_validate(content=content, action=action or "")
        except InvalidContent as exc:
            self.add_error("content", exc.message)
        if action in {"template", "subscribe"} and not cleaned.get("template_id"):
            self.add_error("template_id", _("A WeChat message needs its template id."))
        if action == "reward" and not (cleaned.get("coupon_template") or cleaned.get("points")):
            self.add_error("action", _("Without a message, give a coupon or points."))
        return cleaned


TOUCH_FIELDS = ("action", "template_id", "content", "page", "coupon_template", "points")


class JourneyStepInline(admin.StackedInline):
    model = JourneyStep
    form = TouchContentForm
    extra = 0
    fields = (("offset", "unit", "condition", "is_active"), *TOUCH_FIELDS)
    raw_id_fields = ("coupon_template",)


class CampaignPagesMixin:
    """Extra console pages (preview, results) at ``<id>/<name>/``."""

    pages: tuple[str, ...] = ()

    def get_urls(self):
        opts = self.model._meta
        extra = [
            path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(getattr(self, f"{name}_view")),
                name=f"{opts.app_label}_{opts.model_name}_{name}",
            )
            for name in self.pages
        ]
        return [*extra, *super().get_urls()]

    def _page(self, request: HttpRequest, obj, template: str, title: str, **context) -> HttpResponse:
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        opts = self.model._meta
        return TemplateResponse(
            request,
            f"admin/campaigns/{template}",
            {**self.admin_site.each_context(request), "opts": opts, "original": obj, "title": title, **context},
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        opts = self.model._meta
        links = [
            (name, reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=[object_id])) for name in self.pages
        ]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "campaign_pages": links})


@admin.register(Journey)
class JourneyAdmin(CampaignPagesMixin, admin.ModelAdmin):
    list_display = ("name", "code", "trigger", "trigger_days", "trigger_amount", "is_active", "step_count")
    list_filter = ("trigger", "is_active")
    search_fields = ("=code", "name")
    fields = ("code", "name", "trigger", "trigger_days", "trigger_amount", "catch_up_days", "is_active")
    readonly_fields = ("is_active",)
    inlines = [JourneyStepInline]
    actions = ["pause", "resume"]
    pages = ("preview",)
    change_form_template = "admin/campaigns/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Journey]:
        return super().get_queryset(request).annotate(n_steps=Count("steps"))

    @admin.display(description=_("steps"), ordering="n_steps")
    def step_count(self, journey: Journey) -> int:
        return journey.n_steps

    @admin.action(description=_("Pause the selected journeys"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Journey]) -> None:
        held = sum(journey_pause(journey=j) for j in queryset)
        self.message_user(request, _("Paused; %(n)d touch(es) not yet sent are held.") % {"n": held})

    @admin.action(description=_("Resume the selected journeys"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Journey]) -> None:
        released = sum(journey_resume(journey=j) for j in queryset)
        self.message_user(request, _("Resumed; %(n)d held touch(es) are due now.") % {"n": released})

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        journey = get_object_or_404(Journey, pk=object_id)
        now = timezone.now()
        chosen = preview_member(code=request.GET.get("member", "")) if request.GET.get("member") else None
        stats = journey_step_stats(journey=journey)
        steps = []
        for step in journey.steps.select_related("journey").order_by("unit", "offset", "id"):
            member = chosen or journey_step_sample_member(step=step, now=now) or preview_member()
            steps.append(
                {
                    "step": step,
                    "due_today": journey_step_due_count(step=step, now=now),
                    "member": member,
                    "payload": touch_preview(source=step, member=member, now=now) if member else None,
                    "stats": stats.get(step.pk, {}),
                }
            )
        return self._page(
            request,
            journey,
            "journey_preview.html",
            _("Preview: %(name)s") % {"name": journey.name},
            steps=steps,
            variables=VARIABLES,
            statuses=OutboxMessage.Status.choices,
        )


class BroadcastVariantInline(admin.StackedInline):
    model = BroadcastVariant
    form = TouchContentForm
    extra = 0
    fields = (("label", "weight"), *TOUCH_FIELDS)
    raw_id_fields = ("coupon_template",)


@admin.register(Broadcast)
class BroadcastAdmin(CampaignPagesMixin, admin.ModelAdmin):
    list_display = ("name", "code", "segment", "send_at", "status", "holdout_percent", "audience_size")
    list_filter = ("status",)
    search_fields = ("=code", "name")
    list_select_related = ("segment",)
    fields = (
        "code",
        "name",
        "segment",
        "send_at",
        "holdout_percent",
        "attribution_days",
        "status",
        "audience_size",
        "materialised_at",
    )
    readonly_fields = ("status", "audience_size", "materialised_at")
    inlines = [BroadcastVariantInline]
    actions = ["schedule", "pause", "resume"]
    pages = ("preview", "results")
    change_form_template = "admin/campaigns/change_form.html"

    @admin.action(description=_("Schedule the selected broadcasts"), permissions=["change"])
    def schedule(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        for broadcast in queryset:
            try:
                broadcast_schedule(broadcast=broadcast)
            except DomainError as exc:
                self.message_user(request, f"{broadcast}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, _("%(name)s is scheduled.") % {"name": broadcast})

    @admin.action(description=_("Pause the selected broadcasts"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        held = sum(broadcast_pause(broadcast=b) for b in queryset)
        self.message_user(request, _("Paused; %(n)d touch(es) not yet sent are held.") % {"n": held})

    @admin.action(description=_("Resume the selected broadcasts"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        released = sum(broadcast_resume(broadcast=b) for b in queryset)
        self.message_user(request, _("Resumed; %(n)d held touch(es) are due now.") % {"n": released})

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        broadcast = get_object_or_404(Broadcast.objects.select_related("segment"), pk=object_id)
        now = timezone.now()
        member = preview_member(code=request.GET.get("member", ""))
        variants = [
            {"variant": v, "payload": touch_preview(source=v, member=member, now=now) if member else None}
            for v in broadcast.variants.order_by("label", "id")
        ]
        return self._page(
            request,
            broadcast,
            "broadcast_preview.html",
            _("Preview: %(name)s") % {"name": broadcast.name},
            audience=broadcast_audience_preview(broadcast=broadcast),
            variants=variants,
            member=member,
        )

    def results_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        broadcast = get_object_or_404(Broadcast.objects.select_related("segment"), pk=object_id)
        arms = broadcast_results(broadcast=broadcast)
        top = max([a.conversion for a in arms] + [0.0001])
        bound = max([abs(x) for a in arms for x in (a.ci_low, a.ci_high) if x is not None] + [0.0001])
        chart = [
            {
                "arm": arm,
                "y": 26 + 34 * i,
                "width": round(300 * arm.conversion / top, 1),
                "ci": None
                if arm.uplift is None
                else {
                    "low": round(200 + 180 * arm.ci_low / bound, 1),
                    "high": round(200 + 180 * arm.ci_high / bound, 1),
                    "mid": round(200 + 180 * arm.uplift / bound, 1),
                },
            }
            for i, arm in enumerate(arms)
        ]
        return self._page(
            request,
            broadcast,
            "broadcast_results.html",
            _("Results: %(name)s") % {"name": broadcast.name},
            arms=arms,
            chart=chart,
            chart_height=36 + 34 * len(arms),
        )
