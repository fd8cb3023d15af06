"""Admin building blocks shared by every app's console pages."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from .imports import ImportFailed, import_file
from .models import Heartbeat


class EstimatedCountPaginator(Paginator):
    """Counts exactly when filtered or small; estimates big unfiltered tables from pg_class.

    The admin changelist counts on every page view; on millions of rows the count is most of the time.
    """

    exact_below = 100_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [self.object_list.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] >= self.exact_below:
                return int(row[0])
        return super().count


class ReadOnlyModelAdmin:
    """A console page that shows records (history, ledgers, computed rows) and never adds, edits or deletes.

    Put it before ``admin.ModelAdmin`` in the bases.
    """

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    """An inline that shows related rows (history, identities) without letting the console edit them."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.fields or ()

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ImportFileForm(forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"), help_text=_("UTF-8, with a header row."))


class ImportAdminMixin:
    """Adds an "Import" button and page to a changelist, running the same importer as ``import_data``."""

    import_resource: str = ""
    change_list_template = "admin/core/change_list_import.html"

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "import-file/",
                self.admin_site.admin_view(self.import_file_view),
                name=f"{opts.app_label}_{opts.model_name}_import_file",
            ),
            *super().get_urls(),
        ]

    def import_file_view(self, request: HttpRequest) -> HttpResponse:
        opts = self.model._meta
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        form = ImportFileForm(request.POST or None, request.FILES or None)
        row_errors = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_file(self.import_resource, upload.file, upload.name)
            except ImportFailed as exc:
                row_errors = exc.row_errors
            else:
                self.message_user(request, str(result), messages.SUCCESS)
                return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "form": form,
            "row_errors": row_errors,
            "resource": self.import_resource,
            "title": _("Import %(name)s") % {"name": opts.verbose_name_plural},
        }
        return TemplateResponse(request, "admin/core/import.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        opts = self.model._meta
        extra_context = {
            **(extra_context or {}),
            "import_file_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_import_file"),
        }
        return super().changelist_view(request, extra_context)


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyModelAdmin, admin.ModelAdmin):
    list_display = ("name", "last_beat_at", "beats")
    readonly_fields = ("name", "last_beat_at", "beats")
