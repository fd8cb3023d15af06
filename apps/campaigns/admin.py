from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.admin import EstimatedCountPaginator

from .models import OutboxMessage, SendingControl


@admin.register(SendingControl)
class SendingControlAdmin(admin.ModelAdmin):
    list_display = ("__str__", "is_paused", "reason", "changed_at")
    fields = ("is_paused", "reason", "changed_at")
    readonly_fields = ("changed_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SendingControl.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
        n = queryset.filter(status=OutboxMessage.Status.IN_DOUBT).update(
            status=OutboxMessage.Status.PENDING, next_attempt_at=timezone.now(), reason="operator_resend"
        )
        self.message_user(request, _("%(n)d message(s) will be sent again.") % {"n": n})

    @admin.action(description=_("In doubt: mark as sent (WeChat got it)"), permissions=["change"])
    def mark_in_doubt_as_sent(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        n = queryset.filter(status=OutboxMessage.Status.IN_DOUBT).update(
            status=OutboxMessage.Status.SENT, sent_at=timezone.now(), reason="operator_confirmed"
        )
        self.message_user(request, _("%(n)d message(s) marked as sent.") % {"n": n})
