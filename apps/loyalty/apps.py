from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "apps.loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty: points, coupons and wallet")

    def ready(self) -> None:
        from apps.members.merge import register_merge_hook

        from . import imports  # noqa: F401 - registers the importers
        from .coupons import coupons_merge
        from .points import points_merge
        from .wallet.services import wallet_merge

        register_merge_hook(points_merge)
        register_merge_hook(coupons_merge)
        register_merge_hook(wallet_merge)
