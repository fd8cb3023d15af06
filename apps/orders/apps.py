from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "apps.orders"
    label = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from apps.members.merge import register_merge_hook

        from . import imports  # noqa: F401 - registers the importer
        from .services import orders_merge

        register_merge_hook(orders_merge)
