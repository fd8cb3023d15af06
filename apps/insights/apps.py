from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "apps.insights"
    label = "insights"
    verbose_name = _("Tags, segments and KPIs")

    def ready(self) -> None:
        from apps.members.merge import register_merge_hook

        from .kpis import kpi_months_merge
        from .services import member_profile_merge, member_tags_merge

        register_merge_hook(member_tags_merge)
        register_merge_hook(member_profile_merge)
        register_merge_hook(kpi_months_merge)
