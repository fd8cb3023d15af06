from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.campaigns.wechat.binding import store_qr_scene, wechat_store_qr_create
from apps.campaigns.wechat.client import WeChatApiError
from apps.stores.models import Staff, Store


class Command(BaseCommand):
    help = "Make a store's (or a guide's) permanent WeChat QR code for walk-in followers and print its image URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("store", help="store code, e.g. SH001")
        parser.add_argument("--guide", help="staff code of the shopping guide the followers are attributed to")

    def handle(self, *args, store: str, guide: str | None, **options) -> None:
        shop = Store.objects.filter(code=store).first()
        if shop is None:
            raise CommandError(f"There is no store {store!r}.")
        staff = None
        if guide:
            staff = Staff.objects.filter(code=guide, is_active=True).first()
            if staff is None:
                raise CommandError(f"There is no active staff member {guide!r}.")
        try:
            qr = wechat_store_qr_create(store=shop, guide=staff)
        except WeChatApiError as exc:
            raise CommandError(f"WeChat refused the QR code: {exc}") from exc
        self.stdout.write(f"scene {store_qr_scene(store=shop, guide=staff)}: ticket {qr.ticket}")
        self.stdout.write(qr.image_url)
