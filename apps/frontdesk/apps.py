from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FrontdeskConfig(AppConfig):
    """The pages people use: the store clerk pages (/store/), the member card (/m/) and the tags page.

    The edge on top of every domain app: it may import any of them, none imports it.
    """

    name = "apps.frontdesk"
    label = "frontdesk"
    verbose_name = _("Store pages and member card")
