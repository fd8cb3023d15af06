from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.Model):
    """Where business comes from: store POS, own mall, mini program, a platform, a live stream."""

    class Kind(models.TextChoices):
        POS = "pos", _("Store POS")
        MALL = "mall", _("Own online mall")
        MINI_PROGRAM = "mini_program", _("WeChat mini program")
        PLATFORM = "platform", _("Third-party platform")
        LIVE = "live", _("Live stream")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_online(self) -> bool:
        return self.kind != self.Kind.POS


class ApiKey(models.Model):
    """A channel's API key. Only a SHA-256 of the secret is stored; the key is shown once."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("channel"))
    prefix = models.CharField(_("prefix"), max_length=12, unique=True, editable=False)
    hashed_secret = models.CharField(_("hashed secret"), max_length=64, editable=False)
    name = models.CharField(_("name"), max_length=100, blank=True)
    # Space-separated scopes (apps.stores.scopes); empty means the key may call nothing.
    scopes = models.CharField(
        _("scopes"), max_length=255, blank=True, default="", help_text=_("What the key may do; see the API docs.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.channel.code}:{self.prefix}…"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class Store(models.Model):
    """A physical store, a warehouse or an online outlet."""

    class Kind(models.TextChoices):
        STORE = "store", _("Store")
        WAREHOUSE = "warehouse", _("Warehouse")
        ONLINE = "online", _("Online outlet")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.STORE)
    address = models.CharField(_("address"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=64, blank=True, db_index=True)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    lng = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ("code",)
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__isnull=True) | Q(lat__gte=-90, lat__lte=90), name="store_lat_range"
            ),
            models.CheckConstraint(
                condition=Q(lng__isnull=True) | Q(lng__gte=-180, lng__lte=180), name="store_lng_range"
            ),
            models.CheckConstraint(
                condition=Q(lat__isnull=True, lng__isnull=True) | Q(lat__isnull=False, lng__isnull=False),
                name="store_lat_lng_together",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Staff(models.Model):
    """A person working for the merchant: a login, a staff code, a role and the stores they work in."""

    class Role(models.TextChoices):
        HQ_OPERATOR = "hq_operator", _("HQ operator")
        STORE_MANAGER = "store_manager", _("Store manager")
        CLERK = "clerk", _("Clerk")
        GUIDE = "guide", _("Shopping guide")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff", verbose_name=_("login")
    )
    code = models.SlugField(_("staff code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    stores = models.ManyToManyField(Store, related_name="staff", blank=True, verbose_name=_("stores"))
    is_active = models.BooleanField(_("active"), default=True)
    # The guide's user id in WeCom (企业微信), which WeCom's external-contact APIs name as the sender.
    wecom_userid = models.CharField(_("WeCom user id"), max_length=64, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ("code",)
        permissions = [("use_store_pages", "Can use the store clerk pages")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
