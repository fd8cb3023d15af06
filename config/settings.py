"""One settings module; every value that differs between demo, test and production
comes from the environment (see README, "Configuration")."""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

_TESTING = "PYTEST_VERSION" in os.environ  # pytest sets it

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-demo-key-change-me-in-production-0123456789abcdef")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.OpsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files, not a CDN (works offline)
    "django_celery_beat",
    "import_export",
    "axes",
    "apps.core",
    "apps.stores",
    "apps.catalog",
    "apps.members",
    "apps.loyalty",
    "apps.orders",
    "apps.insights",
    "apps.campaigns",
    "apps.frontdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL is the only database (locking, COPY, set-based SQL). scripts/demo.sh and scripts/test.sh start an
# embedded PostgreSQL (scripts/embedded_pg.py) when none is configured or answering.
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/retail")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        f"DATABASE_URL must point at PostgreSQL (postgres://user@host:port/name), not "
        f"{DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}: PostgreSQL is the only supported database. "
        "Unset it and run scripts/demo.sh for an embedded one."
    )
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
if env.bool("DATABASE_PREPARED", default=True):
    # Bind parameters on the server and prepare a statement once a connection has run it a few times: the
    # order path's statements are then planned once per connection, not per request (about 40% of the
    # database's CPU per order). Behind PgBouncer in transaction mode set DATABASE_PREPARED=false.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": env.int("DATABASE_PREPARE_THRESHOLD", default=5)}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): lock a username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "store/locked_out.html"

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # one shift
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# Retail settings used across the apps.
CURRENCY = env.str("CURRENCY", default="CNY")
PHONE_REGION = env.str("PHONE_REGION", default="CN")
# Points expire at the end of the Nth month after the month they were earned in.
POINTS_EXPIRY_MONTHS = env.int("POINTS_EXPIRY_MONTHS", default=12)
# The most one wallet recharge may be (stored value is a liability; larger sums go through finance).
WALLET_MAX_RECHARGE = env.str("WALLET_MAX_RECHARGE", default="50000.00")

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if _TESTING:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

LOGIN_URL = "/store/login/"
LOGIN_REDIRECT_URL = "/store/"

# Security: production values by default; the demo and tests run over plain HTTP on loopback.
SECURE_SSL = env.bool("DJANGO_SECURE_SSL", default=not DEBUG and not _TESTING)
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SECURE_SSL_REDIRECT = SECURE_SSL
SECURE_HSTS_SECONDS = 31536000 if SECURE_SSL else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
SECURE_HSTS_PRELOAD = SECURE_SSL
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.stores.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.stores.auth.IsChannel"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.stores.auth.ChannelKeyThrottle"],
    "DEFAULT_THROTTLE_RATES": {"channel_key": env.str("API_THROTTLE_RATE", default="50000/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.SafeJSONParser"],
    "EXCEPTION_HANDLER": "apps.core.api.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Retail operations channel API",
    "DESCRIPTION": "What store POS, the online mall, the mini program and platforms call. "
    "Errors are RFC 9457 problem details with a stable `code`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: no-server filesystem transport by default (the demo runs anywhere), Redis in production.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "processed_folder": str(_BROKER_DIR),
        "control_folder": str(_BROKER_DIR / "control"),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# WeChat Official Account and WeCom (shopping guides). The demo and tests point the base URLs at the
# fake WeChat server the project ships (manage.py fake_wechat).
WECHAT_APP_ID = env.str("WECHAT_APP_ID", default="wx-demo-app")
WECHAT_APP_SECRET = env.str("WECHAT_APP_SECRET", default="demo-secret")
WECHAT_TOKEN = env.str("WECHAT_TOKEN", default="demo-callback-token")
WECHAT_AES_KEY = env.str("WECHAT_AES_KEY", default="")
WECHAT_API_BASE_URL = env.str("WECHAT_API_BASE_URL", default="https://api.weixin.qq.com/cgi-bin/")
# showqrcode lives on mp.weixin.qq.com, the OAuth page on open.weixin.qq.com (the fake serves both).
WECHAT_MP_BASE_URL = env.str("WECHAT_MP_BASE_URL", default="https://mp.weixin.qq.com/cgi-bin/")
WECHAT_OPEN_BASE_URL = env.str("WECHAT_OPEN_BASE_URL", default="https://open.weixin.qq.com/")
WECHAT_BINDING_QR_SECONDS = env.int("WECHAT_BINDING_QR_SECONDS", default=30 * 60)
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5.0)
WECOM_CORP_ID = env.str("WECOM_CORP_ID", default="ww-demo-corp")
WECOM_SECRET = env.str("WECOM_SECRET", default="demo-wecom-secret")
WECOM_CALLBACK_TOKEN = env.str("WECOM_CALLBACK_TOKEN", default="demo-wecom-callback-token")
# 43 characters of base64 (WeCom's EncodingAESKey); the demo's default is public, set a real one in production.
WECOM_CALLBACK_AES_KEY = env.str("WECOM_CALLBACK_AES_KEY", default="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
WECOM_API_BASE_URL = env.str("WECOM_API_BASE_URL", default="https://qyapi.weixin.qq.com/cgi-bin/")

# Outreach politeness and the outbox dispatcher.
CAMPAIGN_MAX_PER_DAY = env.int("CAMPAIGN_MAX_PER_DAY", default=1)  # messages to one member, all campaigns
CAMPAIGN_MAX_PER_WEEK = env.int("CAMPAIGN_MAX_PER_WEEK", default=3)
CAMPAIGN_QUIET_HOURS = env.str("CAMPAIGN_QUIET_HOURS", default="21-9")  # store local time, start-end hour
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=200)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_CLAIM_TIMEOUT_SECONDS = env.int("OUTBOX_CLAIM_TIMEOUT_SECONDS", default=300)
OUTBOX_SEND_CONCURRENCY = env.int("OUTBOX_SEND_CONCURRENCY", default=8)  # requests in flight per dispatcher
# How long a signed member-card link (/m/...) stays valid, in seconds.
MEMBER_CARD_LINK_MAX_AGE = env.int("MEMBER_CARD_LINK_MAX_AGE", default=7 * 24 * 3600)

# How old the beat heartbeat may get before /healthz calls beat stale.
HEARTBEAT_STALE_SECONDS = env.int("HEARTBEAT_STALE_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
AXES_VERBOSE = False
