from django.contrib.admin.apps import AdminConfig


class OpsAdminConfig(AdminConfig):
    """The Django admin, as the merchant's operations console."""

    default_site = "config.admin.OpsAdminSite"
