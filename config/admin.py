from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import path
from django.utils.translation import gettext_lazy as _


class OpsLoginForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user) -> None:
        from apps.stores.selectors import user_may_use_admin

        super().confirm_login_allowed(user)
        if not user_may_use_admin(user):
            raise ValidationError(
                _("The operations console is for head-office operators. Store staff use the store pages."),
                code="not_console_user",
            )


class OpsAdminSite(admin.AdminSite):
    site_header = _("Retail operations console")
    site_title = _("Retail operations")
    index_title = _("Operations")
    index_template = "admin/console_home.html"
    login_form = OpsLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        """Only head-office operators (and superusers) may use the console; store staff never."""
        from apps.stores.selectors import user_may_use_admin

        return super().has_permission(request) and user_may_use_admin(request.user)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The home page and the sidebar group pages by what operators do; an app's own page stays as Django's."""
        from .console.navigation import grouped_app_list

        app_list = super().get_app_list(request, app_label)
        return app_list if app_label else grouped_app_list(app_list, request)

    def index(self, request: HttpRequest, extra_context: dict | None = None):
        from .console.home import home_context

        return super().index(request, {**home_context(request), **(extra_context or {})})

    def get_urls(self):
        from .console.member360 import member_360_merge_view, member_360_view

        return [
            path("members/member/<int:pk>/360/", self.admin_view(member_360_view), name="members_member_360"),
            path(
                "members/member/<int:pk>/360/merge/",
                self.admin_view(member_360_merge_view),
                name="members_member_360_merge",
            ),
            *super().get_urls(),
        ]
