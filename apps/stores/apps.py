from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class StoresConfig(AppConfig):
    name = "apps.stores"
    label = "stores"
    verbose_name = _("Stores and channels")

    def ready(self) -> None:
        from . import imports  # noqa: F401 - registers the importers
        from .roles import role_groups_sync

        # Permissions exist only after every app migrated, so the role policy is applied then.
        post_migrate.connect(role_groups_sync, dispatch_uid="stores.role_groups_sync")
