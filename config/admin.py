from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
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
    login_form = OpsLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        """Only head-office operators (and superusers) may use the console; store staff never."""
        from apps.stores.selectors import user_may_use_admin

        return super().has_permission(request) and user_may_use_admin(request.user)
