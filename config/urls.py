import importlib

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.campaigns.wechat.views import wechat_callback, wecom_callback
from apps.core.views import healthz
from apps.frontdesk.wechat_card import member_card_wechat, wechat_oauth_return

# Each app with a channel API has ``api_urlpatterns`` in its api.py (paths without a trailing slash,
# as ../shared/API.md writes them). The pages people use live in the edge app ``apps.frontdesk``.
API_APPS = ("stores", "catalog", "members", "loyalty", "orders", "insights", "campaigns")


def _module(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None


def _app_patterns(module_name: str, attribute: str) -> list:
    module = _module(module_name)
    return list(getattr(module, attribute)) if module else []


api_v1 = [
    *(pattern for app in API_APPS for pattern in _app_patterns(f"apps.{app}.api", "api_urlpatterns")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"), name="api-redoc"),
]

# Store clerk pages (namespace ``stores``) and the clerk's tags page (namespace ``insights``), under /store/.
store_pages = [path("", include("apps.frontdesk.urls")), path("", include("apps.frontdesk.tag_urls"))]

urlpatterns = [
    path("", TemplateView.as_view(template_name="index.html"), name="index"),
    path("healthz", healthz, name="healthz"),
    path("wechat/callback", wechat_callback, name="wechat-callback"),
    path("wecom/callback", wecom_callback, name="wecom-callback"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("store/", include(store_pages)),
    path("m/", member_card_wechat, name="wechat-card"),
    path("m/oauth/", wechat_oauth_return, name="wechat-oauth-return"),
    path("m/", include("apps.frontdesk.card_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
